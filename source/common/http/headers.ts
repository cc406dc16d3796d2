import type { HeaderMap } from '../../envoy/http/header-map.js'

/** Header names (lower-case) and values used by the HTTP code (Envoy's Http::Headers). */
export const Headers = {
  Method: ':method',
  Path: ':path',
  Authority: ':authority',
  Scheme: ':scheme',
  Status: ':status',
  Protocol: ':protocol',
  Host: 'host',
  Connection: 'connection',
  KeepAlive: 'keep-alive',
  ProxyConnection: 'proxy-connection',
  ContentLength: 'content-length',
  ContentType: 'content-type',
  TransferEncoding: 'transfer-encoding',
  Upgrade: 'upgrade',
  Expect: 'expect',
  Te: 'te',
  Trailer: 'trailer',
  Date: 'date',
  Server: 'server',
  Via: 'via',
  Http2Settings: 'http2-settings',
  UserAgent: 'user-agent',
  ForwardedFor: 'x-forwarded-for',
  ForwardedProto: 'x-forwarded-proto',
  RequestId: 'x-request-id',
  EnvoyOriginalPath: 'x-envoy-original-path',
} as const

export const HeaderValues = {
  Close: 'close',
  KeepAlive: 'keep-alive',
  Upgrade: 'upgrade',
  Chunked: 'chunked',
  Continue100: '100-continue',
  H2c: 'h2c',
  MethodConnect: 'CONNECT',
  MethodHead: 'HEAD',
  MethodGet: 'GET',
  MethodOptions: 'OPTIONS',
} as const

/**
 * True if the comma-separated list `value` contains `token` (lower-case), ignoring ASCII case
 * and optional whitespace around items (RFC 9110 §5.6.1).
 */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false
  const n = value.length
  let i = 0
  while (i < n) {
    while (i < n && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9 || value.charCodeAt(i) === 44)) i++
    let end = value.indexOf(',', i)
    if (end < 0) end = n
    let last = end
    while (last > i && (value.charCodeAt(last - 1) === 32 || value.charCodeAt(last - 1) === 9)) last--
    if (last - i === token.length && equalsIgnoreCase(value, i, token)) return true
    i = end + 1
  }
  return false
}

/** Removes `tokens` (lower-case) from a comma list; returns '' when nothing is left. */
export function removeTokens(value: string, tokens: readonly string[]): string {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && !tokens.includes(t.toLowerCase()))
    .join(',')
}

/** `value.substr(at, token.length)` equals `token` (lower-case ASCII) ignoring case. */
export function equalsIgnoreCase(value: string, at: number, token: string): boolean {
  for (let k = 0; k < token.length; k++) {
    const c = value.charCodeAt(at + k)
    const t = token.charCodeAt(k)
    if (c !== t && (c | 0x20) !== t) return false
    if (c !== t && (t < 97 || t > 122)) return false
  }
  return true
}

/** Envoy's Utility::isUpgrade: `Connection` nominates `upgrade` and an `Upgrade` header is present. */
export function isConnectionUpgrade(headers: HeaderMap): boolean {
  return headers.has(Headers.Upgrade) && hasToken(headers.get(Headers.Connection), HeaderValues.Upgrade)
}

/** Envoy's HeaderUtility::isConnect. */
export function isConnect(headers: HeaderMap): boolean {
  return headers.get(Headers.Method) === HeaderValues.MethodConnect
}

/**
 * Parses a Content-Length value: 1*DIGIT, no sign, no whitespace, no list (RFC 9110 §8.6).
 * Returns -1 when invalid or beyond Number.MAX_SAFE_INTEGER.
 */
export function parseContentLength(value: string): number {
  const n = value.length
  if (n === 0 || n > 16) return -1
  let v = 0
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : -1
}

// Octet classes for HTTP/1 syntax, indexed by byte (or latin1 char code).

/** tchar (RFC 9110 §5.6.2): 1 plain, 2 upper-case letter, 4 underscore; 0 not a tchar. */
export const TCHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^`|~0123456789abcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1
for (let c = 65; c <= 90; c++) TCHAR[c] = 2
TCHAR[95] = 4
/** field-value octets: HTAB, SP, VCHAR, obs-text. NUL, CR, LF, other CTLs and DEL are rejected. */
export const VALUE = new Uint8Array(256)
VALUE[9] = 1
for (let c = 32; c < 256; c++) if (c !== 127) VALUE[c] = 1
/** request-target octets: VCHAR only (no SP, no CTL, no obs-text). */
export const TARGET = new Uint8Array(256)
for (let c = 33; c < 127; c++) TARGET[c] = 1
/** HEXDIG value, or -1. */
export const HEX = new Int8Array(256).fill(-1)
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = HEX['0123456789ABCDEF'.charCodeAt(i)] = i

const nativeLatin1 = (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, s: number, e: number) => string })
  .latin1Slice
/** Bytes as a one-char-per-byte string: exact round trip, and the cheapest decode Node has. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return nativeLatin1 !== undefined ? nativeLatin1.call(buf, start, end) : buf.toString('latin1', start, end)
}

/** Names the HTTP/1 parser returns as shared strings instead of allocating (see lookupKnownName). */
const KNOWN_NAMES = [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'accept-charset', 'accept-ranges',
  'connection', 'keep-alive', 'content-length', 'content-type', 'content-encoding', 'transfer-encoding',
  'upgrade', 'expect', 'te', 'trailer', 'cookie', 'set-cookie', 'authorization', 'cache-control', 'pragma',
  'referer', 'origin', 'date', 'server', 'location', 'etag', 'last-modified', 'vary', 'via', 'age', 'expires',
  'if-none-match', 'if-modified-since', 'range', 'content-range', 'proxy-connection', 'proxy-authorization',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'x-real-ip', 'forwarded',
  'x-envoy-expected-rq-timeout-ms', 'x-envoy-upstream-service-time', 'traceparent', 'tracestate',
  'grpc-timeout', 'grpc-status', 'grpc-message', 'sec-websocket-key', 'sec-websocket-version',
  'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions', 'http2-settings',
  'access-control-allow-origin', 'strict-transport-security', 'dnt', 'priority',
] as const

const MAX_KNOWN = 32
const knownByLength: string[][] = Array.from({ length: MAX_KNOWN + 1 }, () => [])
for (const n of KNOWN_NAMES) if (n.length <= MAX_KNOWN) knownByLength[n.length]!.push(n)

/**
 * The shared lower-case string for the header name in `s[start, end)` if it is a known one
 * (compared ignoring ASCII case; the caller has checked that the chars are tchars), else undefined.
 */
export function lookupKnownName(s: string, start: number, end: number): string | undefined {
  const len = end - start
  if (len > MAX_KNOWN) return undefined
  const list = knownByLength[len]!
  const first = s.charCodeAt(start) | 0x20
  outer: for (let k = 0; k < list.length; k++) {
    const name = list[k]!
    if (name.charCodeAt(0) !== first) continue
    for (let i = 1; i < len; i++) {
      // Known names hold only [a-z0-9-]; OR-ing 0x20 folds A-Z onto a-z and leaves digits and '-'.
      if ((s.charCodeAt(start + i) | 0x20) !== name.charCodeAt(i)) continue outer
    }
    return name
  }
  return undefined
}
