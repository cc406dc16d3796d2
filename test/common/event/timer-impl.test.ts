import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Timer } from '../../../source/envoy/event/timer.js'
import {
  MAX_NODE_TIMER_DELAY_MS, TimerImpl, delay, startPeriodicTimer, startTimer,
} from '../../../source/common/event/timer-impl.js'

/**
 * The one timer facility (issue 18, defect 6). Chaining is driven with a small `maxSegmentMs` so
 * a test sees a "longer than one Node timer" delay in milliseconds instead of 24.8 days; the
 * real TimerImpl is used through the Timer interface throughout.
 */

const T = { timeout: 10_000 }
/** Small segment so that the delays below are chains of several Node timers. */
const SEGMENT = 15

/** A timer (through its interface) and a promise of the time its callback ran. */
function timed(options?: { maxSegmentMs?: number }): { timer: Timer; fired: Promise<number>; count: () => number } {
  let n = 0
  let resolve!: (t: number) => void
  const fired = new Promise<number>((r) => { resolve = r })
  const timer: Timer = new TimerImpl(() => {
    n++
    resolve(performance.now())
  }, options)
  return { timer, fired, count: () => n }
}

function noOverflowWarning(): { check(): void } {
  const seen: string[] = []
  const on = (w: Error): void => { seen.push(w.name) }
  process.on('warning', on)
  return {
    check() {
      process.off('warning', on)
      assert.deepEqual(seen.filter((n) => n === 'TimeoutOverflowWarning'), [], 'no TimeoutOverflowWarning')
    },
  }
}

describe('TimerImpl', () => {
  it('fires once after a delay that fits one Node timer', T, async () => {
    const { timer, fired, count } = timed()
    const start = performance.now()
    timer.enableTimer(30)
    assert.equal(timer.enabled(), true)
    const at = await fired
    assert.ok(at - start >= 25, `fired after ${at - start} ms`)
    assert.equal(timer.enabled(), false)
    await delay(40)
    assert.equal(count(), 1, 'one-shot')
  })

  it('chains segments for a delay longer than one segment, firing at the deadline and not before', T, async () => {
    const { timer, fired, count } = timed({ maxSegmentMs: SEGMENT })
    const start = performance.now()
    const deadline = 1000 // about 67 segments
    timer.enableTimer(deadline)
    // Several segments later the timer is still armed and has not fired.
    await delay(SEGMENT * 3)
    assert.equal(count(), 0)
    assert.equal(timer.enabled(), true)
    const at = await fired
    assert.ok(at - start >= deadline - 1, `fired after ${at - start} ms, deadline ${deadline}`)
    assert.equal(count(), 1)
  })

  it('disableTimer stops a chained timer between segments; enableTimer re-arms it', T, async () => {
    const { timer, fired, count } = timed({ maxSegmentMs: SEGMENT })
    timer.enableTimer(1000)
    await delay(SEGMENT * 3)
    timer.disableTimer()
    assert.equal(timer.enabled(), false)
    timer.disableTimer() // idempotent
    await delay(SEGMENT * 6)
    assert.equal(count(), 0, 'never fired while disabled')
    timer.enableTimer(SEGMENT * 2)
    await fired
    assert.equal(count(), 1)
  })

  it('enableTimer on an armed timer replaces its deadline (shorter or longer)', T, async () => {
    const a = timed({ maxSegmentMs: SEGMENT })
    const start = performance.now()
    a.timer.enableTimer(60_000)
    a.timer.enableTimer(20)
    const at = await a.fired
    assert.ok(at - start < 5000, 'the shorter, later deadline wins')

    const b = timed({ maxSegmentMs: SEGMENT })
    b.timer.enableTimer(5)
    const s2 = performance.now()
    b.timer.enableTimer(1000)
    await delay(SEGMENT * 3)
    assert.equal(b.count(), 0, 'the first, short deadline is forgotten')
    const at2 = await b.fired
    assert.ok(at2 - s2 >= 1000 - 1)
  })

  it('refresh moves the deadline of a single-segment timer and of a chained one', T, async () => {
    for (const maxSegmentMs of [undefined, 200]) {
      const { timer, fired, count } = timed(maxSegmentMs === undefined ? undefined : { maxSegmentMs })
      const d = 1000
      timer.enableTimer(d)
      // Refresh every 50 ms for 1.5 delays: the first deadline passes unnoticed.
      const start = performance.now()
      let lastRefresh = start
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          timer.refresh()
          lastRefresh = performance.now()
          if (lastRefresh - start >= d * 1.5) {
            clearInterval(tick)
            resolve()
          }
        }, 50)
      })
      assert.equal(count(), 0, `still armed after ${lastRefresh - start} ms of refreshes (segment ${maxSegmentMs})`)
      const at = await fired
      assert.ok(at - lastRefresh >= d - 5, `fired ${at - lastRefresh} ms after the last refresh`)
    }
  })

  it('refresh of a disarmed timer does nothing', T, async () => {
    const { timer, count } = timed()
    timer.refresh()
    assert.equal(timer.enabled(), false)
    timer.enableTimer(5)
    timer.disableTimer()
    timer.refresh()
    await delay(30)
    assert.equal(count(), 0)
  })

  it('negative and NaN delays fire on a later turn, never synchronously', T, async () => {
    for (const ms of [-5, Number.NaN, 0]) {
      const { timer, fired, count } = timed()
      timer.enableTimer(ms)
      assert.equal(count(), 0, 'not from inside enableTimer')
      await fired
    }
  })

  it('a 30-day delay and Envoy\'s maximum Duration wait with the real segment size: no overflow warning, no early fire', T, async () => {
    const warnings = noOverflowWarning()
    const month = timed()
    const max = timed()
    month.timer.enableTimer(30 * 24 * 3600 * 1000)
    max.timer.enableTimer(315_576_000_000 * 1000)
    const inf = timed()
    inf.timer.enableTimer(Number.POSITIVE_INFINITY)
    assert.ok(30 * 24 * 3600 * 1000 > MAX_NODE_TIMER_DELAY_MS)
    await delay(50)
    // A warning is emitted on the next tick: give it a turn.
    await new Promise((r) => setImmediate(r))
    for (const t of [month, max, inf]) {
      assert.equal(t.count(), 0)
      assert.equal(t.timer.enabled(), true)
      t.timer.disableTimer()
    }
    warnings.check()
  })

  it('startTimer, startPeriodicTimer and delay are built on the same timer', T, async () => {
    let n = 0
    await new Promise<void>((resolve) => {
      const periodic = startPeriodicTimer(5, () => {
        if (++n === 3) {
          periodic.disableTimer()
          resolve()
        }
      })
    })
    await delay(30)
    assert.equal(n, 3, 'a periodic timer stops when disabled from its callback')
    let t: Timer | undefined
    await new Promise<void>((resolve) => {
      t = startTimer(5, resolve)
      assert.equal(t.enabled(), true)
    })
    assert.equal(t!.enabled(), false)
  })

  it('an unref\'d armed timer does not keep the process alive; a ref\'d one does until it fires', T, async () => {
    const mod = fileURLToPath(new URL('../../../source/common/event/timer-impl.js', import.meta.url))
    const run = (code: string): Promise<{ code: number | null; ms: number; out: string }> => new Promise((resolve) => {
      const start = performance.now()
      const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (c: Buffer) => { out += c.toString() })
      child.stderr.on('data', (c: Buffer) => { out += c.toString() })
      child.on('exit', (c) => resolve({ code: c, ms: performance.now() - start, out }))
    })
    const unrefd = await run(`import { startTimer } from ${JSON.stringify(mod)}; startTimer(30 * 24 * 3600e3, () => console.log('fired')).unref()`)
    assert.equal(unrefd.code, 0)
    assert.equal(unrefd.out, '', 'exits without firing or warning')
    const refd = await run(`import { TimerImpl } from ${JSON.stringify(mod)}; const t = new TimerImpl(() => console.log('fired'), { maxSegmentMs: 10 }); t.enableTimer(50)`)
    assert.equal(refd.code, 0)
    assert.equal(refd.out.trim(), 'fired', 'the chain kept the process alive until the deadline')
  })
})
