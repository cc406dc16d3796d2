/**
 * A Scheduler whose clock only moves when the test says so: `advance(ms)` runs every timer due
 * by then, in order (timers set while running fire too if they fall inside the window).
 */
import type { Scheduler, TimerHandle } from '../../../source/common/upstream/scheduler.js'

interface FakeTimer {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

export class FakeScheduler implements Scheduler {
  nowMs = 0
  wallStartMs = Date.UTC(2024, 0, 1)
  private timers: FakeTimer[] = []
  private seq = 0

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: FakeTimer = { at: this.nowMs + Math.max(0, ms), seq: this.seq++, fn, cancelled: false }
    this.timers.push(t)
    return { cancel: () => { t.cancelled = true } }
  }

  now(): number {
    return this.nowMs
  }

  wallNow(): number {
    return this.wallStartMs + this.nowMs
  }

  /** Delays (from now) of the timers still pending, soonest first. */
  pending(): number[] {
    return this.live().map((t) => t.at - this.nowMs)
  }

  /** Moves the clock forward by `ms`, running due timers in time order. */
  advance(ms: number): void {
    const end = this.nowMs + ms
    for (;;) {
      const next = this.live().find((t) => t.at <= end)
      if (next === undefined) break
      this.nowMs = next.at
      next.cancelled = true
      next.fn()
    }
    this.nowMs = end
  }

  /** Runs the next pending timer, moving the clock to it; returns its delay. */
  runNext(): number {
    const next = this.live()[0]
    if (next === undefined) throw new Error('no pending timer')
    const delay = next.at - this.nowMs
    this.advance(delay)
    return delay
  }

  private live(): FakeTimer[] {
    this.timers = this.timers.filter((t) => !t.cancelled)
    return [...this.timers].sort((a, b) => a.at - b.at || a.seq - b.seq)
  }
}
