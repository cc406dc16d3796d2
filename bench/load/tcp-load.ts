// The TCP load generator: a piscina task, one per load thread per round. Each task opens its
// share of the connections, drives them until the window closes (or, in fixed mode, until every
// connection has done its requests), and returns counts plus an encoded latency histogram.
import net from 'node:net'
import * as hdr from 'hdr-histogram-js'
import type { TcpLoadResult, TcpLoadTask } from './types.js'

/** Reconnect delay after a connection fails while the round is running. */
const RECONNECT_MS = 10

interface Run {
  task: TcpLoadTask
  /** Traffic flows (false once the window closed). */
  running: boolean
  /** Inside the measured window: completions count and latencies are recorded. */
  measuring: boolean
  ops: number
  errors: Record<string, number>
  connected: number
  histogram: hdr.Histogram
  sockets: Set<net.Socket>
  /** Fixed mode: connections still working. */
  remaining: number
  lastDone: number
  onAllDone: () => void
}

function countError(run: Run, kind: string): void {
  if (!run.running) return
  run.errors[kind] = (run.errors[kind] ?? 0) + 1
}

function errorKind(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message
}

/**
 * Opens one connection slot. In timed mode a failed connection is reopened after a short delay
 * (and counted), so the load stays at `connections`; in fixed mode it is not, so a short count
 * shows up next to the errors.
 */
interface Slot {
  /** Requests completed on this slot (fixed mode stops at requestsPerConnection). */
  done: number
  /** Fixed mode: this slot has told the run it is finished. */
  reported: boolean
  /** Counted in `connected` already (reconnects are not counted again). */
  counted: boolean
}

function openSlot(run: Run, slot: Slot): void {
  const { task } = run
  const fixed = task.requestsPerConnection !== undefined
  const s = net.connect({ host: task.host, port: task.port, noDelay: true })
  run.sockets.add(s)
  let everConnected = false
  let finished = false
  const finish = (): void => {
    if (finished) return
    finished = true
    if (fixed && !slot.reported) {
      slot.reported = true
      run.remaining--
      if (run.remaining === 0) run.onAllDone()
    }
  }
  s.on('error', (err) => countError(run, errorKind(err)))
  s.on('close', () => {
    run.sockets.delete(s)
    if (!run.running) return
    if (!finished) countError(run, everConnected ? 'closed' : 'connect-failed')
    if (fixed) finish()
    else setTimeout(() => { if (run.running) openSlot(run, slot) }, RECONNECT_MS)
  })
  s.on('connect', () => {
    everConnected = true
    if (!slot.counted) {
      slot.counted = true
      run.connected++
    }
    if (task.kind === 'rr') driveRr(run, s, slot, finish)
    else if (task.kind === 'upload') driveUpload(run, s)
    else driveDownload(run, s)
  })
}

function driveRr(run: Run, s: net.Socket, slot: Slot, finish: () => void): void {
  const { task } = run
  const request = Buffer.alloc(task.requestSize, 0x71)
  const fixed = task.requestsPerConnection
  let awaiting = 0
  let t0 = 0
  const send = (): void => {
    awaiting = task.responseSize
    t0 = performance.now()
    s.write(request)
  }
  s.on('data', (c: Buffer) => {
    awaiting -= c.length
    if (awaiting > 0) return
    const t1 = performance.now()
    if (awaiting < 0) {
      countError(run, 'excess-bytes')
      s.destroy()
      return
    }
    slot.done++
    if (run.measuring) {
      run.ops++
      run.histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)))
      run.lastDone = Date.now()
    }
    if (fixed !== undefined && slot.done >= fixed) {
      finish()
      s.end()
      return
    }
    if (run.running) send()
  })
  s.on('end', () => { if (awaiting > 0 && awaiting < task.responseSize) countError(run, 'short-response') })
  const start = (): void => { if (run.running) send() }
  if (fixed !== undefined) setTimeout(start, Math.max(0, task.startAt - Date.now()))
  else start()
}

function driveUpload(run: Run, s: net.Socket): void {
  const chunk = Buffer.alloc(run.task.chunkSize, 0x75)
  const pump = (): void => {
    while (run.running) {
      // Counted when accepted: in steady state (buffers full) that is the rate the far end drains.
      if (run.measuring) run.ops += chunk.length
      if (!s.write(chunk)) {
        s.once('drain', pump)
        return
      }
    }
  }
  pump()
}

function driveDownload(run: Run, s: net.Socket): void {
  s.on('data', (c: Buffer) => { if (run.measuring) run.ops += c.length })
}

export default async function tcpLoad(task: TcpLoadTask): Promise<TcpLoadResult> {
  const fixed = task.requestsPerConnection !== undefined
  let resolveDone: () => void = () => {}
  const allDone = new Promise<void>((resolve) => { resolveDone = resolve })
  const run: Run = {
    task,
    running: true,
    // Fixed mode counts everything; timed mode opens the window at startAt.
    measuring: fixed,
    ops: 0,
    errors: {},
    connected: 0,
    histogram: hdr.build({ bitBucketSize: 32, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 2, numberOfSignificantValueDigits: 3, useWebAssembly: false }),
    sockets: new Set(),
    remaining: task.connections,
    lastDone: 0,
    onAllDone: resolveDone,
  }
  for (let i = 0; i < task.connections; i++) openSlot(run, { done: 0, reported: false, counted: false })

  let windowStart = task.startAt
  let windowEnd: number
  if (fixed) {
    const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), Math.max(0, task.startAt - Date.now()) + task.timeoutMs))
    const how = await Promise.race([allDone.then(() => 'done' as const), timedOut])
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
  for (const s of run.sockets) s.destroy()
  return {
    ops: run.ops,
    windowMs: Math.max(1, windowEnd - windowStart),
    ...(task.kind === 'rr' ? { histogram: hdr.encodeIntoCompressedBase64(run.histogram) } : {}),
    errors: run.errors,
    connected: run.connected,
  }
}
