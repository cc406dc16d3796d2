import { BufferImpl } from '../../../../common/buffer/buffer-impl.js'
import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import { startTimer } from '../../../../common/event/timer-impl.js'
import type { Timer } from '../../../../envoy/event/timer.js'

/** Timers and a monotonic clock (ms); injectable so tests need not sleep. */
export interface FaultTimers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  now(): number
}

/** The real ones: any delay a header or config gives (fault delays may exceed 24.8 days). */
export const systemTimers: FaultTimers = {
  setTimeout: (fn, ms) => startTimer(ms, fn),
  clearTimeout: (handle) => (handle as Timer).disableTimer(),
  now: () => performance.now(),
}

/** Envoy's StreamRateLimiter slices each second into 16 writes. */
export const SECOND_DIVISOR = 16
const SLICE_MS = 1000 / SECOND_DIVISOR

/**
 * Throttles one response body to `kbps` KiB/s (Envoy's StreamRateLimiter): data is held here and
 * released by a timer, one time slice's worth of bytes per token. The bucket holds a second of
 * tokens and starts full, so the first second's bytes go out at once. Trailers wait until the
 * held body is gone.
 */
export class StreamRateLimiter {
  private readonly bytesPerSlice: number
  private readonly timers: FaultTimers
  private readonly write: (data: BufferInstance, endStream: boolean) => void
  private readonly continueTrailers: () => void
  private readonly dispatch: (fn: () => void) => void
  private readonly held = new BufferImpl()
  private tokens = SECOND_DIVISOR
  private lastFill: number
  private timer: unknown
  private savedEndStream = false
  private savedTrailers = false
  private destroyed = false

  constructor(opts: {
    kbps: number
    timers: FaultTimers
    write: (data: BufferInstance, endStream: boolean) => void
    continueTrailers: () => void
    dispatch: (fn: () => void) => void
  }) {
    this.bytesPerSlice = Math.max(1, Math.floor((opts.kbps * 1024) / SECOND_DIVISOR))
    this.timers = opts.timers
    this.write = opts.write
    this.continueTrailers = opts.continueTrailers
    this.dispatch = opts.dispatch
    this.lastFill = opts.timers.now()
  }

  /** Takes the body chunk; it leaves through `write` at the limited rate. */
  writeData(data: BufferInstance, endStream: boolean): void {
    this.held.move(data)
    this.savedEndStream = endStream
    if (this.timer === undefined) this.schedule(0)
  }

  /** True when the trailers must wait (the filter returns StopIteration). */
  onTrailers(): boolean {
    this.savedEndStream = true
    this.savedTrailers = true
    return this.held.length > 0
  }

  destroy(): void {
    this.destroyed = true
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule(ms: number): void {
    this.timer = this.timers.setTimeout(() => this.dispatch(() => this.onTimer()), ms)
  }

  private onTimer(): void {
    this.timer = undefined
    if (this.destroyed) return
    const now = this.timers.now()
    this.tokens = Math.min(SECOND_DIVISOR, this.tokens + ((now - this.lastFill) * SECOND_DIVISOR) / 1000)
    this.lastFill = now
    const taken = Math.floor(this.tokens)
    this.tokens -= taken
    const bytes = Math.min(taken * this.bytesPerSlice, this.held.length)
    const out = new BufferImpl()
    out.moveBytes(this.held, bytes)
    if (this.held.length > 0) this.schedule(Math.max(1, (1 - this.tokens) * SLICE_MS))
    // An empty write still matters when it carries the end of the stream.
    const end = this.savedEndStream && this.held.length === 0 && !this.savedTrailers
    if (bytes > 0 || end) this.write(out, end)
    if (!this.destroyed && this.held.length === 0 && this.savedTrailers) this.continueTrailers()
  }
}
