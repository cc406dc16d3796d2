/**
 * Timers and a monotonic clock for main's health checker and outlier detector, injectable so
 * their state machines can be tested without waiting.
 */
import { performance } from 'node:perf_hooks'
import { startTimer } from '../event/timer-impl.js'

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
    // Intervals and timeouts come from config and may exceed one Node timer (24.8 days).
    const t = startTimer(ms, fn).unref()
    return { cancel: () => t.disableTimer() }
  },
  now: () => performance.now(),
  wallNow: () => Date.now(),
}
