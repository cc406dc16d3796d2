import { performance } from 'node:perf_hooks'
import type { Timer, TimerFactory } from '../../envoy/event/timer.js'

/** The longest delay one Node timer takes (2^31-1 ms, 24.8 days); longer ones fire at once. */
export const MAX_NODE_TIMER_DELAY_MS = 2 ** 31 - 1

export interface TimerOptions {
  /**
   * The longest single Node timer to use; longer delays are chained from several. Only tests
   * lower it (so chaining can be seen in milliseconds rather than days).
   */
  maxSegmentMs?: number
}

/**
 * Timer on the current thread's event loop. A delay up to `maxSegmentMs` is one Node timer,
 * re-armed with `Timeout.refresh()` when the same delay is used again (idle timeouts). A longer
 * delay is a chain of segments: each time a segment ends the time left to the deadline is
 * measured on the monotonic clock and, while some is left, another segment starts. `refresh()`
 * of a long timer only moves the deadline; the running segment notices when it ends.
 */
export class TimerImpl implements Timer {
  private readonly cb: () => void
  private readonly maxSegmentMs: number
  private handle: NodeJS.Timeout | undefined
  /** The delay `handle` was created with (Node's refresh() reuses it). */
  private segmentMs = -1
  private delayMs = 0
  private deadline = 0
  private armed = false
  private unrefed = false
  private readonly onSegmentEnd = (): void => this.segmentEnded()

  constructor(cb: () => void, options: TimerOptions = {}) {
    this.cb = cb
    const max = options.maxSegmentMs ?? MAX_NODE_TIMER_DELAY_MS
    this.maxSegmentMs = Math.max(1, Math.min(Math.floor(max), MAX_NODE_TIMER_DELAY_MS))
  }

  // Event.Timer
  enableTimer(ms: number): void {
    const delay = ms > 0 ? ms : 0 // NaN and negatives: now
    this.delayMs = delay
    this.armed = true
    this.deadline = performance.now() + delay
    this.startSegment(delay)
  }

  disableTimer(): void {
    this.armed = false
    if (this.handle !== undefined) clearTimeout(this.handle)
    this.handle = undefined
    this.segmentMs = -1
  }

  enabled(): boolean {
    return this.armed
  }

  refresh(): void {
    if (!this.armed) return
    if (this.delayMs <= this.maxSegmentMs) {
      // One segment of the same length: let Node move it (no allocation, no clock read; the
      // deadline is only consulted for chained delays).
      this.handle!.refresh()
      return
    }
    this.deadline = performance.now() + this.delayMs
  }

  unref(): Timer {
    this.unrefed = true
    this.handle?.unref()
    return this
  }

  // Internals.

  private startSegment(remaining: number): void {
    // Node runs a timer for at least 1 ms; an infinite delay is chained forever.
    const seg = Math.max(1, Math.min(Math.ceil(remaining), this.maxSegmentMs))
    if (this.handle !== undefined && this.segmentMs === seg) {
      this.handle.refresh()
      return
    }
    if (this.handle !== undefined) clearTimeout(this.handle)
    this.segmentMs = seg
    this.handle = setTimeout(this.onSegmentEnd, seg)
    if (this.unrefed) this.handle.unref()
  }

  private segmentEnded(): void {
    if (!this.armed) return
    // Only a chained delay checks the clock: one Node timer is trusted to have waited its delay.
    if (this.delayMs > this.maxSegmentMs) {
      const remaining = this.deadline - performance.now()
      if (remaining >= 1) {
        this.startSegment(remaining)
        return
      }
    }
    this.armed = false
    this.cb()
  }
}

/** Timers on the calling thread's event loop. */
export const timerFactory: TimerFactory = {
  createTimer: (cb) => new TimerImpl(cb),
}

/** A timer on the calling thread's event loop that calls `cb` when it fires. */
export function createTimer(cb: () => void): Timer {
  return new TimerImpl(cb)
}

/** A timer already armed to call `cb` once after `ms` (the setTimeout shape, any duration). */
export function startTimer(ms: number, cb: () => void): Timer {
  const t = new TimerImpl(cb)
  t.enableTimer(ms)
  return t
}

/**
 * A repeating timer: calls `cb` every `ms` (each period counted from the end of the previous
 * callback, as Envoy re-arms its flush timers). Returns the timer; `disableTimer()` stops it.
 */
export function startPeriodicTimer(ms: number, cb: () => void): Timer {
  const t: Timer = new TimerImpl(() => {
    t.enableTimer(ms)
    cb()
  })
  t.enableTimer(ms)
  return t
}

/** Resolves after `ms` (any duration), like `timers/promises` setTimeout without the 24.8-day cap. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => startTimer(ms, resolve))
}
