// What every rate load task shares: counters, the latency histogram, the measured window (timed:
// from `startAt` for `durationMs`; fixed: until every connection did its requests).
import * as hdr from 'hdr-histogram-js'
import type { LoadResult, TaskBase } from './types.js'

/** Reconnect delay after a connection fails while the round is running. */
export const RECONNECT_MS = 10

export interface Run {
  task: TaskBase
  /** Traffic flows (false once the window closed). */
  running: boolean
  /** Inside the measured window: completions count and latencies are recorded. */
  measuring: boolean
  ops: number
  bytes: number
  errors: Record<string, number>
  connected: number
  histogram: hdr.Histogram
  /** Fixed mode: connections still working. */
  remaining: number
  lastDone: number
  allDone: Promise<void>
  onAllDone: () => void
}

export function newRun(task: TaskBase): Run {
  let onAllDone: () => void = () => {}
  const allDone = new Promise<void>((resolve) => { onAllDone = resolve })
  return {
    task,
    running: true,
    // Fixed mode counts everything; timed mode opens the window at startAt.
    measuring: task.requestsPerConnection !== undefined,
    ops: 0,
    bytes: 0,
    errors: {},
    connected: 0,
    histogram: hdr.build({ bitBucketSize: 32, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 2, numberOfSignificantValueDigits: 3, useWebAssembly: false }),
    remaining: task.connections,
    lastDone: 0,
    allDone,
    onAllDone,
  }
}

/** Counts an error while the round runs (teardown noise after the window is not an error). */
export function countError(run: Run, kind: string): void {
  if (!run.running) return
  run.errors[kind] = (run.errors[kind] ?? 0) + 1
}

export function errorKind(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message
}

/** A request completed at `t1` (performance.now()) that was sent at `t0`. */
export function recordDone(run: Run, t0: number, t1: number): void {
  if (!run.measuring) return
  run.ops++
  run.histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)))
  run.lastDone = Date.now()
}

/** Fixed mode: one connection has done its requests (or given up). */
export function slotFinished(run: Run): void {
  run.remaining--
  if (run.remaining === 0) run.onAllDone()
}

/**
 * Waits out the window (timed) or the fixed count, stops traffic with `stop`, and returns the
 * counts. Connections must already be opening when this is called.
 */
export async function finishRun(run: Run, stop: () => void, withHistogram: boolean): Promise<LoadResult> {
  const task = run.task
  let windowStart = task.startAt
  let windowEnd: number
  if (task.requestsPerConnection !== undefined) {
    const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), Math.max(0, task.startAt - Date.now()) + task.timeoutMs))
    const how = await Promise.race([run.allDone.then(() => 'done' as const), timedOut])
    if (how === 'timeout') countError(run, 'timeout')
    windowEnd = Math.max(run.lastDone, task.startAt)
  } else {
    await new Promise((r) => setTimeout(r, Math.max(0, task.startAt - Date.now())))
    windowStart = Date.now()
    run.measuring = true
    await new Promise((r) => setTimeout(r, Math.max(0, task.startAt + task.durationMs - Date.now())))
    run.measuring = false
    windowEnd = Date.now()
  }
  run.running = false
  stop()
  return {
    ops: run.ops,
    bytes: run.bytes,
    windowMs: Math.max(1, windowEnd - windowStart),
    ...(withHistogram ? { histogram: hdr.encodeIntoCompressedBase64(run.histogram) } : {}),
    errors: run.errors,
    connected: run.connected,
  }
}
