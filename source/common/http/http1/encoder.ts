/**
 * HTTP/1.1 serialization shared by the server and client codecs: status and request lines,
 * header blocks (`:authority` → `Host`, other pseudo-headers skipped), message framing
 * (Content-Length as given, else chunked on HTTP/1.1, none for 1xx/204/304 and HEAD) and the
 * per-connection output buffer that coalesces a response's head and body into one write.
 */
import type { BufferInstance } from '../../../envoy/buffer/buffer.js'
import type { HeaderMap } from '../../../envoy/http/header-map.js'
import type { Connection } from '../../../envoy/network/connection.js'
import { BufferImpl } from '../../buffer/buffer-impl.js'
import { HeaderMapImpl } from '../header-map-impl.js'
import { hasToken } from '../headers.js'

/** Reason phrases (Envoy's CodeUtility::toString). */
const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints',
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content',
  205: 'Reset Content', 206: 'Partial Content', 207: 'Multi-Status', 208: 'Already Reported', 226: 'IM Used',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  305: 'Use Proxy', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Payload Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  421: 'Misdirected Request', 422: 'Unprocessable Entity', 423: 'Locked', 424: 'Failed Dependency',
  425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 506: 'Variant Also Negotiates',
  507: 'Insufficient Storage', 508: 'Loop Detected', 510: 'Not Extended', 511: 'Network Authentication Required',
}

export function statusReason(code: number): string {
  return REASONS[code] ?? 'Unknown'
}

const statusLines11 = new Map<number, string>()
const statusLines10 = new Map<number, string>()

function statusLine(code: number, http10: boolean): string {
  const cache = http10 ? statusLines10 : statusLines11
  let line = cache.get(code)
  if (line === undefined) {
    line = `${http10 ? 'HTTP/1.0' : 'HTTP/1.1'} ${code} ${statusReason(code)}\r\n`
    if (code >= 100 && code <= 999) cache.set(code, line)
  }
  return line
}

/** What one pass over a header map found besides the serialized lines (reused: single-threaded, synchronous). */
const scanned = { lines: '', contentLength: false, upgrade: false, connection: undefined as string | undefined }

/**
 * `name: value\r\n` for every regular header, in one pass that also notes the framing headers.
 * `:authority` becomes `host`; other pseudo-headers, `transfer-encoding` (the codec owns framing)
 * and `connection` (written by the caller, see `scanned.connection`) are left out. Values with
 * CR, LF or NUL are dropped rather than written: they would split the message.
 */
function serialize(headers: HeaderMap): typeof scanned {
  scanned.lines = ''
  scanned.contentLength = scanned.upgrade = false
  scanned.connection = undefined
  if (headers instanceof HeaderMapImpl) {
    for (let i = 0; i < headers.size; i++) serializeOne(headers.nameAt(i), headers.valueAt(i))
  } else {
    headers.forEach(serializeOne)
  }
  return scanned
}

function serializeOne(name: string, value: string): void {
  if (name.charCodeAt(0) === 58 /* : */) {
    if (name === ':authority') scanned.lines += `host: ${value}\r\n`
    return
  }
  if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0 || value.indexOf('\0') >= 0) return
  switch (name) {
    case 'transfer-encoding':
      return
    case 'connection':
      scanned.connection = scanned.connection === undefined ? value : `${scanned.connection}, ${value}`
      return
    case 'content-length':
      scanned.contentLength = true
      break
    case 'upgrade':
      scanned.upgrade = true
      break
  }
  scanned.lines += `${name}: ${value}\r\n`
}

export interface ResponseHeadOptions {
  status: number
  http10: boolean
  isHead: boolean
  /** A 2xx answer to CONNECT: the tunnel is raw bytes, no framing headers. */
  isConnect: boolean
  endStream: boolean
  /** The codec will close after this response (the request asked, or HTTP/1.0). */
  close: boolean
  /** HTTP/1.0 request with `connection: keep-alive` that we keep alive. */
  keepAlive10: boolean
}

export interface Framing {
  /** Body bytes get chunk framing. */
  chunked: boolean
  /** Body bytes must not be written (HEAD, 1xx, 204, 304). */
  noBody: boolean
  /** The connection closes after this message (asked for, or the body is close-delimited). */
  close: boolean
}

/** Serializes a response head; returns how its body must be framed. */
export function encodeResponseHead(out: Http1Output, headers: HeaderMap, o: ResponseHeadOptions): Framing {
  const h = serialize(headers)
  const status = o.status
  const bodiless = status < 200 || status === 204 || status === 304
  const upgrade = status === 101 || (h.upgrade && hasToken(h.connection, 'upgrade'))
  let close = (o.close && !upgrade) || hasToken(h.connection, 'close')
  let chunked = false
  let framing = ''
  if (h.contentLength || bodiless || (o.isConnect && status >= 200 && status < 300)) {
    // As given; 1xx/204/304 have no body, a CONNECT tunnel is not a message body.
  } else if (o.endStream && !o.isHead) {
    framing = 'content-length: 0\r\n'
  } else if (o.http10) {
    // No chunked coding in HTTP/1.0: the body ends when the connection does.
    if (!o.isHead) close = true
  } else {
    // HEAD responses may say `chunked` (informational) but carry no body (Envoy does the same).
    framing = 'transfer-encoding: chunked\r\n'
    chunked = !upgrade && !o.isHead
  }
  if (close) framing += 'connection: close\r\n'
  else if (o.keepAlive10) framing += 'connection: keep-alive\r\n'
  else if (h.connection !== undefined) framing += `connection: ${h.connection}\r\n`
  out.addString(statusLine(status, o.http10) + h.lines + framing + '\r\n')
  // After a 101 the bytes belong to the new protocol: they pass through unframed.
  return { chunked, noBody: (o.isHead || bodiless) && status !== 101, close }
}

/** `100 Continue` and friends: no framing headers, no body. */
export function encodeInformationalHead(out: Http1Output, headers: HeaderMap, status: number): void {
  out.addString(statusLine(status, false) + serialize(headers).lines + '\r\n')
}

/** Methods whose requests carry no body unless framed explicitly (Envoy's requestShouldHaveNoBody). */
const BODILESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'TRACE', 'CONNECT'])

/** Serializes a request head (`:method`, `:path` and `:authority` required; CONNECT uses the authority). */
export function encodeRequestHead(out: Http1Output, headers: HeaderMap, endStream: boolean): Framing {
  const method = headers.get(':method') ?? 'GET'
  const isConnect = method === 'CONNECT'
  const target = isConnect ? (headers.get(':authority') ?? '') : (headers.get(':path') ?? '/')
  const h = serialize(headers)
  let framing = h.connection === undefined ? '' : `connection: ${h.connection}\r\n`
  let chunked = false
  if (h.contentLength || isConnect || (h.upgrade && hasToken(h.connection, 'upgrade'))) {
    // Explicit length, or raw bytes after the head (tunnels and upgrades are not chunked).
  } else if (endStream) {
    if (!BODILESS_METHODS.has(method)) framing += 'content-length: 0\r\n'
  } else {
    framing += 'transfer-encoding: chunked\r\n'
    chunked = true
  }
  out.addString(`${method} ${target} HTTP/1.1\r\n${h.lines}${framing}\r\n`)
  return { chunked, noBody: false, close: false }
}

/** A body slice, chunk-framed when `chunked`. Drains `data`. */
export function encodeBody(out: Http1Output, data: BufferInstance, chunked: boolean): void {
  if (data.length === 0) return
  if (chunked) out.addString(`${data.length.toString(16)}\r\n`)
  out.addData(data)
  if (chunked) out.addString('\r\n')
}

/** Ends a chunked body: the last chunk, trailers (if any and enabled) and the final CRLF. */
export function encodeLastChunk(out: Http1Output, trailers: HeaderMap | undefined): void {
  out.addString(trailers === undefined ? '0\r\n\r\n' : `0\r\n${serialize(trailers).lines}\r\n`)
}

/** Small messages are copied into one Buffer: one write, one syscall. */
const COALESCE_LIMIT = 16 * 1024

/**
 * Output bytes of one codec connection. Everything encoded in one synchronous run (typically
 * a whole small response) goes out in one `connection.write`; `flushSoon()` sends at the end of
 * the current microtask queue so a lone head is never held back.
 */
export class Http1Output {
  private readonly connection: Connection
  private parts: Array<string | Buffer> = []
  private size = 0
  private scheduled = false

  constructor(connection: Connection) {
    this.connection = connection
  }

  /** Bytes encoded and not yet handed to the connection. */
  get length(): number {
    return this.size
  }

  addString(s: string): void {
    this.parts.push(s)
    this.size += s.length
  }

  addData(data: BufferInstance): void {
    for (const s of data.slices()) this.parts.push(s)
    this.size += data.length
    data.drain(data.length)
  }

  flushSoon(): void {
    if (this.scheduled || this.size === 0) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.flush()
    })
  }

  flush(): void {
    if (this.size === 0) return
    const parts = this.parts
    const out = new BufferImpl()
    if (parts.length === 1) {
      const p = parts[0]!
      out.add(typeof p === 'string' ? Buffer.from(p, 'latin1') : p)
    } else if (this.size <= COALESCE_LIMIT) {
      const b = Buffer.allocUnsafe(this.size)
      let off = 0
      for (const p of parts) off += typeof p === 'string' ? b.write(p, off, 'latin1') : p.copy(b, off)
      out.add(b)
    } else {
      for (const p of parts) out.add(typeof p === 'string' ? Buffer.from(p, 'latin1') : p)
    }
    this.parts = []
    this.size = 0
    this.connection.write(out, false)
  }

  /** Drops pending bytes (the stream was reset). */
  clear(): void {
    this.parts = []
    this.size = 0
  }
}
