/**
 * 64-bit hashes used by the consistent-hashing load balancers: xxHash64 (the XXH64 spec) and
 * MurmurHash2-64 (MurmurHash64A, the form libstdc++'s `std::hash<std::string>` uses on 64-bit
 * targets, which is what Envoy's `MurmurHash::murmurHash2` computes).
 *
 * The arithmetic runs on pairs of uint32 halves rather than BigInt: building a ring hashes each
 * host hundreds of times, and BigInt arithmetic allocates on every operation. The `*Into`
 * variants write the result into a caller-owned `{ hi, lo }` and allocate nothing; the BigInt
 * variants are for callers and tests that want one value.
 */

/** A 64-bit value as two unsigned 32-bit halves. */
export interface Hash64Parts {
  hi: number
  lo: number
}

/** The seed Envoy's ring hash passes to MurmurHash2 (libstdc++'s `_Hash_bytes` default). */
export const MURMUR_STD_HASH_SEED = 0xc70f6907n

const TWO_32 = 0x1_0000_0000

/** A mutable 64-bit unsigned integer; every method works modulo 2^64 and returns `this`. */
class U64 {
  hi = 0
  lo = 0

  set(hi: number, lo: number): this {
    this.hi = hi >>> 0
    this.lo = lo >>> 0
    return this
  }

  copy(o: U64): this {
    this.hi = o.hi
    this.lo = o.lo
    return this
  }

  add(o: U64): this {
    const lo = this.lo + o.lo
    this.hi = (this.hi + o.hi + (lo >= TWO_32 ? 1 : 0)) >>> 0
    this.lo = lo >>> 0
    return this
  }

  xor(o: U64): this {
    this.hi = (this.hi ^ o.hi) >>> 0
    this.lo = (this.lo ^ o.lo) >>> 0
    return this
  }

  mul(o: U64): this {
    // Low 64 bits of the product: the full 64-bit product of the low halves (done in 16-bit
    // pieces so every partial product is exact in a double), plus the cross terms, which only
    // contribute to the high half.
    const a = this.lo
    const b = o.lo
    const a0 = a & 0xffff
    const a1 = a >>> 16
    const b0 = b & 0xffff
    const b1 = b >>> 16
    const p00 = a0 * b0
    const p01 = a0 * b1
    const p10 = a1 * b0
    const p11 = a1 * b1
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
    const carry = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)
    this.lo = ((mid << 16) | (p00 & 0xffff)) >>> 0
    this.hi = (carry + Math.imul(this.hi, b) + Math.imul(a, o.hi)) >>> 0
    return this
  }

  /** Rotate left by 1..63 bits. */
  rotl(r: number): this {
    let hi = this.hi
    let lo = this.lo
    if (r >= 32) {
      const t = hi
      hi = lo
      lo = t
      r -= 32
    }
    if (r !== 0) {
      const nhi = (hi << r) | (lo >>> (32 - r))
      lo = (lo << r) | (hi >>> (32 - r))
      hi = nhi
    }
    this.hi = hi >>> 0
    this.lo = lo >>> 0
    return this
  }

  /** `this ^= this >>> r` for 1..63. */
  xorShr(r: number): this {
    if (r >= 32) {
      this.lo = (this.lo ^ (this.hi >>> (r - 32))) >>> 0
    } else {
      this.lo = (this.lo ^ ((this.lo >>> r) | (this.hi << (32 - r)))) >>> 0
      this.hi = (this.hi ^ (this.hi >>> r)) >>> 0
    }
    return this
  }

  /** Loads 8 bytes little-endian. */
  read(data: Uint8Array, p: number): this {
    this.lo = read32(data, p)
    this.hi = read32(data, p + 4)
    return this
  }
}

function read32(data: Uint8Array, p: number): number {
  return (data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24)) >>> 0
}

function u64(hi: number, lo: number): U64 {
  return new U64().set(hi, lo)
}

// XXH64 primes.
const P1 = u64(0x9e3779b1, 0x85ebca87)
const P2 = u64(0xc2b2ae3d, 0x27d4eb4f)
const P3 = u64(0x165667b1, 0x9e3779f9)
const P4 = u64(0x85ebca77, 0xc2b2ae63)
const P5 = u64(0x27d4eb2f, 0x165667c5)
const NEG_P1 = u64(~0x9e3779b1, ~0x85ebca87).add(u64(0, 1))
// MurmurHash64A multiplier.
const M = u64(0xc6a4a793, 0x5bd1e995)

// Scratch registers: hashing is synchronous and never re-entered, so these are safe to share.
const v1 = new U64()
const v2 = new U64()
const v3 = new U64()
const v4 = new U64()
const h = new U64()
const t = new U64()
const k = new U64()

/** acc = rotl(acc + input * P2, 31) * P1; clobbers `input`. */
function xxRound(acc: U64, input: U64): void {
  acc.add(input.mul(P2)).rotl(31).mul(P1)
}

function xxMerge(acc: U64, v: U64): void {
  k.set(0, 0)
  xxRound(k, t.copy(v))
  acc.xor(k).mul(P1).add(P4)
}

/** XXH64 of `data` with a seed given as halves; result into `out`. */
export function xxHash64Into(data: Uint8Array, seedHi: number, seedLo: number, out: Hash64Parts): void {
  const len = data.length
  let p = 0
  if (len >= 32) {
    v1.set(seedHi, seedLo).add(P1).add(P2)
    v2.set(seedHi, seedLo).add(P2)
    v3.set(seedHi, seedLo)
    v4.set(seedHi, seedLo).add(NEG_P1)
    for (const limit = len - 32; p <= limit; p += 32) {
      xxRound(v1, t.read(data, p))
      xxRound(v2, t.read(data, p + 8))
      xxRound(v3, t.read(data, p + 16))
      xxRound(v4, t.read(data, p + 24))
    }
    h.copy(v1).rotl(1)
    h.add(t.copy(v2).rotl(7))
    h.add(t.copy(v3).rotl(12))
    h.add(t.copy(v4).rotl(18))
    xxMerge(h, v1)
    xxMerge(h, v2)
    xxMerge(h, v3)
    xxMerge(h, v4)
  } else {
    h.set(seedHi, seedLo).add(P5)
  }
  h.add(t.set(Math.floor(len / TWO_32), len))
  for (; p + 8 <= len; p += 8) {
    k.set(0, 0)
    xxRound(k, t.read(data, p))
    h.xor(k).rotl(27).mul(P1).add(P4)
  }
  if (p + 4 <= len) {
    h.xor(t.set(0, read32(data, p)).mul(P1)).rotl(23).mul(P2).add(P3)
    p += 4
  }
  for (; p < len; p++) h.xor(t.set(0, data[p]!).mul(P5)).rotl(11).mul(P1)
  h.xorShr(33).mul(P2).xorShr(29).mul(P3).xorShr(32)
  out.hi = h.hi
  out.lo = h.lo
}

/** MurmurHash64A of `data` with a seed given as halves; result into `out`. */
export function murmurHash2Into(data: Uint8Array, seedHi: number, seedLo: number, out: Hash64Parts): void {
  const len = data.length
  h.set(seedHi, seedLo).xor(t.set(Math.floor(len / TWO_32), len).mul(M))
  const aligned = len - (len & 7)
  for (let p = 0; p < aligned; p += 8) {
    k.read(data, p).mul(M).xorShr(47).mul(M)
    h.xor(k).mul(M)
  }
  const rest = len & 7
  if (rest !== 0) {
    let lo = 0
    let hi = 0
    for (let i = rest - 1; i >= 0; i--) {
      if (i >= 4) hi = (hi << 8) | data[aligned + i]!
      else lo = (lo << 8) | data[aligned + i]!
    }
    h.xor(t.set(hi, lo)).mul(M)
  }
  h.xorShr(47).mul(M).xorShr(47)
  out.hi = h.hi
  out.lo = h.lo
}

const scratch: Hash64Parts = { hi: 0, lo: 0 }

function bytesOf(input: string | Uint8Array): Uint8Array {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : input
}

function seedHalves(seed: bigint): [number, number] {
  const s = BigInt.asUintN(64, seed)
  return [Number(s >> 32n), Number(s & 0xffffffffn)]
}

/** Joins two uint32 halves into an unsigned bigint. */
export function partsToBigInt(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo)
}

/** xxHash64 (XXH64) as an unsigned bigint; `seed` defaults to 0, Envoy's `HashUtil::xxHash64`. */
export function xxHash64(input: string | Uint8Array, seed: bigint = 0n): bigint {
  const [hi, lo] = seedHalves(seed)
  xxHash64Into(bytesOf(input), hi, lo, scratch)
  return partsToBigInt(scratch.hi, scratch.lo)
}

/** MurmurHash2-64 as an unsigned bigint; `seed` defaults to Envoy's `STD_HASH_SEED`. */
export function murmurHash2(input: string | Uint8Array, seed: bigint = MURMUR_STD_HASH_SEED): bigint {
  const [hi, lo] = seedHalves(seed)
  murmurHash2Into(bytesOf(input), hi, lo, scratch)
  return partsToBigInt(scratch.hi, scratch.lo)
}

/**
 * `(hi * 2^32 + lo) % m` without BigInt. Exact for m < 2^26 (table sizes, 100 for priority
 * buckets), where every intermediate stays below 2^53.
 */
export function modParts(hi: number, lo: number, m: number): number {
  return (((hi % m) * (TWO_32 % m)) + (lo % m)) % m
}

/** Maps a 64-bit hash onto [0, 1), e.g. to compare against a fraction. */
export function hashToUnit(hash: bigint): number {
  const v = BigInt.asUintN(64, hash)
  return Number(v >> 11n) / 2 ** 53
}

/** Splits an unsigned 64-bit bigint into halves, into `out`. */
export function bigIntToParts(hash: bigint, out: Hash64Parts): void {
  const v = BigInt.asUintN(64, hash)
  out.hi = Number(v >> 32n)
  out.lo = Number(v & 0xffffffffn)
}
