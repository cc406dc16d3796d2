/** Milliseconds on a clock that all threads share. */
export type Clock = () => number

/** Wall-clock milliseconds with sub-millisecond steps; comparable across worker threads. */
export const defaultClock: Clock = () => performance.timeOrigin + performance.now()

/** Int32 slots of shared memory one bucket needs: two 64-bit words. */
export const SHARED_TOKEN_BUCKET_SLOTS = 4

const BASE = 0
const STATE = 1
const U32 = 0x1_0000_0000

/**
 * A token bucket in shared memory, so one bucket serves every worker (Envoy's network
 * local_ratelimit keeps one bucket per filter config for the whole process). It starts full;
 * every whole `fillIntervalMs` adds `tokensPerFill`, up to `maxTokens`. Fills are computed when
 * a token is asked for, so no timer runs.
 *
 * Lock-free: word 0 holds the bucket's start time (set once by compare-and-swap, +1 so that 0
 * means unset); word 1 packs the fill tick of the last update (high 32 bits, modulo 2^32) and
 * the tokens used since full (low 32 bits), updated by compare-and-swap. All-zero memory is a
 * full bucket, so whichever thread comes first needs no set-up.
 */
export class SharedTokenBucket {
  private readonly words: BigUint64Array
  private readonly maxTokens: number
  private readonly tokensPerFill: number
  private readonly fillIntervalMs: number
  private readonly now: Clock

  constructor(opts: {
    memory: Int32Array
    maxTokens: number
    tokensPerFill: number
    fillIntervalMs: number
    now?: Clock
  }) {
    if (opts.memory.length < SHARED_TOKEN_BUCKET_SLOTS || opts.memory.byteOffset % 8 !== 0) {
      throw new RangeError('token bucket needs 16 bytes of 8-byte aligned memory')
    }
    this.words = new BigUint64Array(opts.memory.buffer, opts.memory.byteOffset, 2)
    this.maxTokens = opts.maxTokens
    this.tokensPerFill = opts.tokensPerFill
    this.fillIntervalMs = opts.fillIntervalMs
    this.now = opts.now ?? defaultClock
  }

  /** Takes one token if there is one. */
  consume(): boolean {
    const tick = this.currentTick()
    for (;;) {
      const old = Atomics.load(this.words, STATE)
      const { lastTick, used } = this.refilled(old, tick)
      if (this.maxTokens - used < 1) return false
      const next = (BigInt(lastTick) << 32n) | BigInt(used + 1)
      if (Atomics.compareExchange(this.words, STATE, old, next) === old) return true
    }
  }

  /** Tokens left right now. */
  remainingTokens(): number {
    const { used } = this.refilled(Atomics.load(this.words, STATE), this.currentTick())
    return this.maxTokens - used
  }

  /** The state word after the fills due by `tick`. */
  private refilled(word: bigint, tick: number): { lastTick: number; used: number } {
    const lastTick = Number(word >> 32n)
    let used = Number(word & 0xffff_ffffn)
    // Ticks wrap at 2^32; a "negative" distance is another thread's clock running a hair ahead.
    const elapsed = (tick - lastTick + U32) % U32
    if (elapsed === 0 || elapsed >= U32 / 2) return { lastTick, used }
    used = Math.max(0, used - elapsed * this.tokensPerFill)
    return { lastTick: tick, used }
  }

  /** Whole fill intervals since the bucket started, modulo 2^32. */
  private currentTick(): number {
    const now = Math.floor(this.now())
    let base = Atomics.load(this.words, BASE)
    if (base === 0n) {
      const seen = Atomics.compareExchange(this.words, BASE, 0n, BigInt(now) + 1n)
      base = seen === 0n ? BigInt(now) + 1n : seen
    }
    const since = Math.max(0, now - (Number(base) - 1))
    return Math.floor(since / this.fillIntervalMs) % U32
  }
}
