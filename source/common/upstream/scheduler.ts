/**
 * Timers and a monotonic clock for main's health checker and outlier detector, injectable so
 * their state machines can be tested without waiting.
 */
import { performance } from 'node:perf_hooks'

export interface TimerHandle {
  cancel(): void
}

export interface Scheduler {
  /** Runs `fn` once after `ms`. Real timers are unref'd: the server's own handles keep it alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Monotonic milliseconds. */
  now(): number
  /** Wall-clock milliseconds since the epoch (event log timestamps). */
  wallNow(): number
}

export const realScheduler: Scheduler = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms))
    t.unref()
    return { cancel: () => clearTimeout(t) }
  },
  now: () => performance.now(),
  wallNow: () => Date.now(),
}
