import net from 'node:net'
import type { Address } from '../../../../envoy/network/address.js'

/**
 * PROXY protocol header parsing (HAProxy's proxy-protocol.txt, versions 1 and 2), with Envoy's
 * acceptance rules. Stateless: the filter calls it again with everything read so far until it
 * answers something other than `need-more`.
 */

/** The 12-byte version 2 signature. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** Version 1 headers start with this. */
export const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1')
/** Version 2 fixed part: signature, version/command, family/transport, length. */
export const V2_HEADER_LEN = 16
/** Longest version 1 header, CRLF included. */
export const V1_MAX_LEN = 107
/** What Envoy reads before it knows the length: the fixed part plus the largest (AF_UNIX) addresses. */
export const V2_DEFAULT_MAX_LEN = V2_HEADER_LEN + 216

const V2_CMD_LOCAL = 0x0
const V2_CMD_PROXY = 0x1
const V2_AF_INET = 0x1
const V2_AF_INET6 = 0x2
const V2_TRANSPORT_STREAM = 0x1
const V2_TRANSPORT_DGRAM = 0x2
const V2_ADDR_LEN_INET = 12
const V2_ADDR_LEN_INET6 = 36

export type ProxyProtocolVersion = 1 | 2

export interface Tlv {
  type: number
  value: Buffer
}

export type ParseResult =
  /** Not enough bytes yet; `wanted` is how many the header needs, when known. */
  | { state: 'need-more'; wanted?: number }
  /** The bytes cannot start a PROXY header (of an allowed version, when `allowedOnly`). */
  | { state: 'not-found' }
  /** A header of a version in `disallowed`. */
  | { state: 'denied'; version: ProxyProtocolVersion }
  | { state: 'error'; version: ProxyProtocolVersion; reason: string }
  | {
    state: 'done'
    version: ProxyProtocolVersion
    /** Bytes to drain: the whole header, TLVs included. */
    length: number
    /** Source and destination, or undefined for LOCAL (v2) and UNKNOWN (v1): keep the socket's. */
    addresses?: { remote: Address; local: Address }
    /** Version 2 TLVs (none for LOCAL, whose extensions are skipped). */
    tlvs: Tlv[]
  }

export interface ParseOptions {
  allowV1: boolean
  allowV2: boolean
  /** allow_requests_without_proxy_protocol: only allowed versions count as "found". */
  allowRequestsWithoutProxyProtocol: boolean
}

/** True when `buf` starts with the first `min(sig.length, buf.length)` bytes of `sig`. */
function prefixMatches(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(sig.length, buf.length)
  return buf.compare(sig, 0, n, 0, n) === 0
}

export function parseProxyHeader(buf: Buffer, opts: ParseOptions): ParseResult {
  let v2 = prefixMatches(buf, V2_SIGNATURE)
  let v1 = prefixMatches(buf, V1_SIGNATURE)
  if (opts.allowRequestsWithoutProxyProtocol) {
    v2 &&= opts.allowV2
    v1 &&= opts.allowV1
  }
  if (!v1 && !v2) return { state: 'not-found' }
  if (v2 && buf.length >= V2_SIGNATURE.length) return opts.allowV2 ? parseV2(buf) : { state: 'denied', version: 2 }
  if (v1 && buf.length >= V1_SIGNATURE.length) return opts.allowV1 ? parseV1(buf) : { state: 'denied', version: 1 }
  return { state: 'need-more' }
}

function parseV2(buf: Buffer): ParseResult {
  if (buf.length < V2_HEADER_LEN) return { state: 'need-more', wanted: V2_HEADER_LEN }
  const verCmd = buf[12]!
  const famTransport = buf[13]!
  const len = buf.readUInt16BE(14)
  const total = V2_HEADER_LEN + len
  if (verCmd >> 4 !== 2) return { state: 'error', version: 2, reason: 'unsupported version' }
  const cmd = verCmd & 0xf
  if (cmd === V2_CMD_LOCAL) {
    // A health check from the proxy itself: keep the real addresses, skip whatever follows.
    if (buf.length < total) return { state: 'need-more', wanted: total }
    return { state: 'done', version: 2, length: total, tlvs: [] }
  }
  if (cmd !== V2_CMD_PROXY) return { state: 'error', version: 2, reason: 'unsupported command' }
  const family = famTransport >> 4
  const transport = famTransport & 0xf
  const addrLen = family === V2_AF_INET ? V2_ADDR_LEN_INET : family === V2_AF_INET6 ? V2_ADDR_LEN_INET6 : 0
  if (addrLen === 0) return { state: 'error', version: 2, reason: 'unsupported address family' }
  if (transport !== V2_TRANSPORT_STREAM && transport !== V2_TRANSPORT_DGRAM) {
    return { state: 'error', version: 2, reason: 'unsupported transport' }
  }
  if (len < addrLen) return { state: 'error', version: 2, reason: 'address length too short' }
  if (buf.length < total) return { state: 'need-more', wanted: total }

  const a = V2_HEADER_LEN
  let remote: Address
  let local: Address
  if (family === V2_AF_INET) {
    remote = ipAddress(ipv4FromBytes(buf.subarray(a, a + 4)), buf.readUInt16BE(a + 8), 4)
    local = ipAddress(ipv4FromBytes(buf.subarray(a + 4, a + 8)), buf.readUInt16BE(a + 10), 4)
  } else {
    remote = ipAddress(ipv6FromBytes(buf.subarray(a, a + 16)), buf.readUInt16BE(a + 32), 6)
    local = ipAddress(ipv6FromBytes(buf.subarray(a + 16, a + 32)), buf.readUInt16BE(a + 34), 6)
  }
  if (!isUnicast(remote) || !isUnicast(local)) return { state: 'error', version: 2, reason: 'address is not unicast' }
  const tlvs = parseTlvs(buf.subarray(a + addrLen, total))
  if (tlvs === undefined) return { state: 'error', version: 2, reason: 'malformed TLV' }
  return { state: 'done', version: 2, length: total, addresses: { remote, local }, tlvs }
}

/** type (1 byte), length (2 bytes, big endian), value; undefined when one does not fit. */
function parseTlvs(region: Buffer): Tlv[] | undefined {
  const out: Tlv[] = []
  let i = 0
  while (i < region.length) {
    if (i + 3 > region.length) return undefined
    const type = region[i]!
    const vlen = region.readUInt16BE(i + 1)
    i += 3
    if (i + vlen > region.length) return undefined
    out.push({ type, value: region.subarray(i, i + vlen) })
    i += vlen
  }
  return out
}

function parseV1(buf: Buffer): ParseResult {
  const crlf = buf.indexOf('\r\n', 0, 'latin1')
  if (crlf === -1 || crlf + 2 > V1_MAX_LEN) {
    if (buf.length >= V1_MAX_LEN || crlf !== -1) return { state: 'error', version: 1, reason: 'header too long' }
    return { state: 'need-more' }
  }
  const length = crlf + 2
  // Envoy trims trailing whitespace, then splits on single spaces (empty fields are errors).
  const parts = buf.toString('latin1', 0, crlf).replace(/\s+$/, '').split(' ')
  if (parts.length < 2 || parts[0] !== 'PROXY') return { state: 'error', version: 1, reason: 'malformed header' }
  // UNKNOWN: a PROXY header, but the real connection's addresses stay.
  if (parts[1] === 'UNKNOWN') return { state: 'done', version: 1, length, tlvs: [] }
  if (parts.length !== 6) return { state: 'error', version: 1, reason: 'malformed header' }
  const family = parts[1] === 'TCP4' ? 4 : parts[1] === 'TCP6' ? 6 : 0
  if (family === 0) return { state: 'error', version: 1, reason: 'unsupported protocol' }
  const src = parseIp(parts[2]!, family)
  const dst = parseIp(parts[3]!, family)
  const sport = parsePort(parts[4]!)
  const dport = parsePort(parts[5]!)
  if (src === undefined || dst === undefined || sport === undefined || dport === undefined) {
    return { state: 'error', version: 1, reason: 'malformed address' }
  }
  const remote = ipAddress(src, sport, family)
  const local = ipAddress(dst, dport, family)
  if (!isUnicast(remote) || !isUnicast(local)) return { state: 'error', version: 1, reason: 'address is not unicast' }
  return { state: 'done', version: 1, length, addresses: { remote, local }, tlvs: [] }
}

function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined
  const n = Number(s)
  return n <= 65535 ? n : undefined
}

/** A textual IP of the given family in canonical form, or undefined. */
function parseIp(s: string, family: 4 | 6): string | undefined {
  if (family === 4) return net.isIPv4(s) ? s : undefined
  if (!net.isIPv6(s) || s.includes('%')) return undefined
  return canonicalIpv6(s)
}

function ipAddress(ip: string, port: number, family: 4 | 6): Address {
  return { kind: 'ip', ip, port, family }
}

function ipv4FromBytes(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`
}

function ipv6FromBytes(b: Buffer): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16))
  return canonicalIpv6(groups.join(':'))
}

/**
 * RFC 5952 text (what inet_ntop prints): lower case, longest zero run as `::`, and an
 * IPv4-mapped address with its IPv4 part dotted.
 */
export function canonicalIpv6(s: string): string {
  const compressed = new URL(`http://[${s}]/`).hostname.slice(1, -1)
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed)
  if (mapped === null) return compressed
  const hi = parseInt(mapped[1]!, 16)
  const lo = parseInt(mapped[2]!, 16)
  return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
}

/** Envoy's isUnicastAddress: not the any address, not multicast, not IPv4 broadcast. */
function isUnicast(a: Address): boolean {
  if (a.kind !== 'ip') return false
  if (a.family === 4) {
    const first = Number(a.ip.split('.')[0])
    return a.ip !== '0.0.0.0' && a.ip !== '255.255.255.255' && !(first >= 224 && first <= 239)
  }
  return a.ip !== '::' && !a.ip.startsWith('ff')
}
