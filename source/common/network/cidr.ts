/**
 * IP addresses and CIDR ranges (Envoy's Network::Address::CidrRange and the LC-trie lookup used by
 * filter chain matching), parsed once at config time and matched with precomputed masks.
 *
 * IPv4 values are unsigned 32-bit numbers and IPv6 values are 128-bit bigints, so a lookup is a
 * mask and a Map probe per distinct prefix length.
 */
import { EnvoyTsError } from '../errors/envoy-ts-error.js'
import { ErrorCode } from '../errors/codes.js'
import type { CidrRange as CidrRangeConfig } from '../protobuf/generated/envoy/config/core/v3.js'

/** A parsed IP address. */
export type IpAddress =
  | { readonly family: 4; readonly value: number }
  | { readonly family: 6; readonly value: bigint }

const V6_ALL = (1n << 128n) - 1n
const MAPPED_V4_PREFIX = 0xffffn

function parseV4(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let v = 0
  for (const p of parts) {
    // inet_pton rules: decimal only, no leading zeros, each octet <= 255.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined
    const n = Number(p)
    if (n > 255) return undefined
    v = v * 256 + n
  }
  return v
}

function parseGroups(text: string, allowV4Tail: boolean): number[] | undefined {
  if (text === '') return []
  const out: number[] = []
  const parts = text.split(':')
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!
    if (allowV4Tail && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseV4(p)
      if (v4 === undefined) return undefined
      out.push(Math.floor(v4 / 0x10000), v4 & 0xffff)
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined
      out.push(parseInt(p, 16))
    }
  }
  return out
}

function parseV6(text: string): bigint | undefined {
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  let groups: number[]
  if (halves.length === 1) {
    const all = parseGroups(text, true)
    if (all === undefined || all.length !== 8) return undefined
    groups = all
  } else {
    const head = parseGroups(halves[0]!, false)
    const tail = parseGroups(halves[1]!, true)
    // '::' stands for at least one zero group.
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
  }
  let v = 0n
  for (const g of groups) v = (v << 16n) | BigInt(g)
  return v
}

/** Parses a literal IPv4 or IPv6 address exactly as written; undefined if it is not one. */
export function tryParseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const v = parseV6(text)
    return v === undefined ? undefined : { family: 6, value: v }
  }
  const v = parseV4(text)
  return v === undefined ? undefined : { family: 4, value: v }
}

/** Parses a literal IPv4 or IPv6 address; throws a config error if it is not one. */
export function parseIp(text: string): IpAddress {
  const ip = tryParseIp(text)
  if (ip === undefined) throw new EnvoyTsError(ErrorCode.CONFIG_INVALID, `malformed IP address: '${text}'`)
  return ip
}

/**
 * Parses the address of a live socket (Node's `remoteAddress` / `localAddress`). A zone id
 * (`fe80::1%eth0`) is dropped, and an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack
 * socket reports for an IPv4 peer) becomes plain IPv4, as Envoy does for sockets that are not
 * v6-only; so it matches IPv4 ranges. Undefined if the text is not an IP address.
 */
export function parsePeerIp(text: string | undefined): IpAddress | undefined {
  if (text === undefined || text === '') return undefined
  const zone = text.indexOf('%')
  const ip = tryParseIp(zone < 0 ? text : text.slice(0, zone))
  if (ip !== undefined && ip.family === 6 && ip.value >> 32n === MAPPED_V4_PREFIX) {
    return { family: 4, value: Number(ip.value & 0xffffffffn) }
  }
  return ip
}

/** Both addresses are the same IP (same family and value). */
export function ipEquals(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value
}

/** Envoy's isLoopbackAddress: exactly 127.0.0.1 or ::1. */
export function isLoopbackIp(ip: IpAddress): boolean {
  return ip.family === 4 ? ip.value === 0x7f000001 : ip.value === 1n
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    const v = ip.value
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`
  }
  const groups: number[] = []
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn))
  let bestAt = -1
  let bestLen = 1 // a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) { bestAt = i; bestLen = j - i }
    i = j === i ? i + 1 : j
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':')
  if (bestAt < 0) return hex(groups)
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`
}

function v4Mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
}

function v6Mask(len: number): bigint {
  return len === 0 ? 0n : (V6_ALL << BigInt(128 - len)) & V6_ALL
}

/**
 * An address prefix and a length. The address is masked to the prefix (`10.1.2.3/8` is
 * `10.0.0.0/8`), as Envoy does. A length of 0 matches every address of the prefix's family, and
 * only that family.
 */
export class CidrRange {
  readonly family: 4 | 6
  readonly prefixLen: number
  /** The masked prefix; a number for IPv4, a bigint for IPv6. */
  readonly base: number | bigint
  readonly mask: number | bigint

  private constructor(ip: IpAddress, prefixLen: number) {
    this.family = ip.family
    this.prefixLen = prefixLen
    if (ip.family === 4) {
      this.mask = v4Mask(prefixLen)
      this.base = (ip.value & this.mask) >>> 0
    } else {
      this.mask = v6Mask(prefixLen)
      this.base = ip.value & this.mask
    }
  }

  /** From an address and a length; throws a config error for a bad address or length. */
  static create(addressPrefix: string, prefixLen = 0): CidrRange {
    const ip = parseIp(addressPrefix)
    const max = ip.family === 4 ? 32 : 128
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
      throw new EnvoyTsError(ErrorCode.CONFIG_INVALID,
        `invalid prefix_len ${prefixLen} for IPv${ip.family} address '${addressPrefix}' (must be 0..${max})`)
    }
    return new CidrRange(ip, prefixLen)
  }

  /** From config (`envoy.config.core.v3.CidrRange`); an unset prefix_len is 0. */
  static fromConfig(c: CidrRangeConfig): CidrRange {
    return CidrRange.create(c.address_prefix, c.prefix_len ?? 0)
  }

  /** From `10.0.0.0/8` or `::1/128`; a bare address is a full-length range. */
  static parse(text: string): CidrRange {
    const slash = text.indexOf('/')
    if (slash < 0) {
      const ip = parseIp(text)
      return new CidrRange(ip, ip.family === 4 ? 32 : 128)
    }
    const len = text.slice(slash + 1)
    if (!/^\d{1,3}$/.test(len)) throw new EnvoyTsError(ErrorCode.CONFIG_INVALID, `malformed CIDR range: '${text}'`)
    return CidrRange.create(text.slice(0, slash), Number(len))
  }

  /** The address is in this range; addresses of the other family never are. */
  contains(ip: IpAddress | string): boolean {
    const a = typeof ip === 'string' ? parsePeerIp(ip) : ip
    if (a === undefined || a.family !== this.family) return false
    if (a.family === 4) return ((a.value & (this.mask as number)) >>> 0) === this.base
    return (a.value & (this.mask as bigint)) === this.base
  }

  /** Canonical `address/len`, e.g. `10.0.0.0/8`; equal ranges give equal strings. */
  toString(): string {
    const ip: IpAddress = this.family === 4
      ? { family: 4, value: this.base as number }
      : { family: 6, value: this.base as bigint }
    return `${formatIp(ip)}/${this.prefixLen}`
  }
}

interface LengthBucket<K, T> {
  readonly mask: K
  readonly byBase: Map<K, T>
}

/**
 * Longest-prefix match over many ranges, each carrying a value (the part of Envoy's LC trie that
 * filter chain matching uses). A lookup costs one Map probe per distinct prefix length present,
 * longest first.
 */
export class CidrRangeMatcher<T> {
  private readonly v4: LengthBucket<number, T>[] = []
  private readonly v6: LengthBucket<bigint, T>[] = []

  /** Throws if the same range (after masking) appears twice. */
  constructor(entries: Iterable<readonly [CidrRange, T]>) {
    const v4 = new Map<number, LengthBucket<number, T>>()
    const v6 = new Map<number, LengthBucket<bigint, T>>()
    for (const [range, value] of entries) {
      const buckets = (range.family === 4 ? v4 : v6) as Map<number, LengthBucket<number | bigint, T>>
      let b = buckets.get(range.prefixLen)
      if (b === undefined) {
        b = { mask: range.mask, byBase: new Map() }
        buckets.set(range.prefixLen, b)
      }
      if (b.byBase.has(range.base)) {
        throw new EnvoyTsError(ErrorCode.CONFIG_INVALID, `duplicate CIDR range ${range.toString()}`)
      }
      b.byBase.set(range.base, value)
    }
    const byLengthDesc = (a: [number, unknown], b: [number, unknown]): number => b[0] - a[0]
    for (const [, b] of [...v4].sort(byLengthDesc)) this.v4.push(b)
    for (const [, b] of [...v6].sort(byLengthDesc)) this.v6.push(b)
  }

  /** The value of the longest range that contains the address, if any. */
  lookup(ip: IpAddress): T | undefined {
    if (ip.family === 4) {
      for (const b of this.v4) {
        const hit = b.byBase.get((ip.value & b.mask) >>> 0)
        if (hit !== undefined) return hit
      }
    } else {
      for (const b of this.v6) {
        const hit = b.byBase.get(ip.value & b.mask)
        if (hit !== undefined) return hit
      }
    }
    return undefined
  }
}
