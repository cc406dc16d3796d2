/**
 * A small seeded PRNG (sfc32, a 128-bit state counter generator) so that every fuzz case is a
 * pure function of (seed, case number): `caseRng(seed, n)` gives case n's generator without
 * running cases 0..n-1, which is what makes a failing case replayable from its seed alone.
 */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number, stream = 0) {
    this.a = 0x9e3779b9
    this.b = seed >>> 0
    this.c = stream >>> 0
    this.d = 1
    // Mix the seed in before the first output (sfc32's recommended warm-up).
    for (let i = 0; i < 15; i++) this.next()
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** An integer in [0, n). */
  int(n: number): number {
    if (n <= 0) return 0
    return Math.floor((this.next() / 0x1_0000_0000) * n)
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.int(items.length)]!
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    const total = items.reduce((s, [w]) => s + w, 0)
    let r = this.int(total)
    for (const [w, v] of items) {
      if (r < w) return v
      r -= w
    }
    return items[items.length - 1]![1]
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff
    return b
  }

  /** A string of `n` characters drawn from `alphabet`. */
  string(n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'): string {
    let s = ''
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)]
    return s
  }
}

/** The generator of case `index` of a run seeded with `seed`. */
export function caseRng(seed: number, index: number): Prng {
  return new Prng(seed, Math.imul(index + 1, 0x85ebca6b) ^ 0x5bd1e995)
}

/** A fresh seed when none is given on the command line (printed, so a run can be repeated). */
export function randomSeed(): number {
  return (Date.now() ^ (process.pid << 16) ^ Math.floor(Math.random() * 0x1_0000_0000)) >>> 0
}
