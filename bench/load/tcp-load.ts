// The TCP load generator: each task opens its share of the connections, drives them until the
// window closes (or, in fixed mode, until every connection has done its requests), and returns
// counts plus an encoded latency histogram.
import net from 'node:net'
import { countError, errorKind, finishRun, newRun, RECONNECT_MS, recordDone, type Run, slotFinished } from './common.js'
import type { LoadResult, TcpLoadTask } from './types.js'

interface Slot {
  /** Requests completed on this slot (fixed mode stops at requestsPerConnection). */
  done: number
  /** Fixed mode: this slot has told the run it is finished. */
  reported: boolean
  /** Counted in `connected` already (reconnects are not counted again). */
  counted: boolean
}

/**
 * Opens one connection slot. In timed mode a failed connection is reopened after a short delay
 * (and counted), so the load stays at `connections`; in fixed mode it is not, so a short count
 * shows up next to the errors.
 */
function openSlot(run: Run, task: TcpLoadTask, slot: Slot, sockets: Set<net.Socket>): void {
  const fixed = task.requestsPerConnection !== undefined
  const s = net.connect({ host: task.host, port: task.port, noDelay: true })
  sockets.add(s)
  let everConnected = false
  let finished = false
  const finish = (): void => {
    if (finished) return
    finished = true
    if (fixed && !slot.reported) {
      slot.reported = true
      slotFinished(run)
    }
  }
  s.on('error', (err) => countError(run, errorKind(err)))
  s.on('close', () => {
    sockets.delete(s)
    if (!run.running) return
    if (!finished) countError(run, everConnected ? 'closed' : 'connect-failed')
    if (fixed) finish()
    else setTimeout(() => { if (run.running) openSlot(run, task, slot, sockets) }, RECONNECT_MS)
  })
  s.on('connect', () => {
    everConnected = true
    if (!slot.counted) {
      slot.counted = true
      run.connected++
    }
    if (task.kind === 'rr') driveRr(run, task, s, slot, finish)
    else if (task.kind === 'upload') driveUpload(run, task, s)
    else driveDownload(run, s)
  })
}

function driveRr(run: Run, task: TcpLoadTask, s: net.Socket, slot: Slot, finish: () => void): void {
  const request = Buffer.alloc(task.requestSize, 0x71)
  const fixed = task.requestsPerConnection
  let awaiting = 0
  let t0 = 0
  const send = (): void => {
    awaiting = task.responseSize
    t0 = performance.now()
    if (run.measuring) run.bytes += request.length
    s.write(request)
  }
  s.on('data', (c: Buffer) => {
    if (run.measuring) run.bytes += c.length
    awaiting -= c.length
    if (awaiting > 0) return
    const t1 = performance.now()
    if (awaiting < 0) {
      countError(run, 'excess-bytes')
      s.destroy()
      return
    }
    slot.done++
    recordDone(run, t0, t1)
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

function driveUpload(run: Run, task: TcpLoadTask, s: net.Socket): void {
  const chunk = Buffer.alloc(task.chunkSize, 0x75)
  const pump = (): void => {
    while (run.running) {
      // Counted when accepted: in steady state (buffers full) that is the rate the far end drains.
      if (run.measuring) {
        run.ops += chunk.length
        run.bytes += chunk.length
      }
      if (!s.write(chunk)) {
        s.once('drain', pump)
        return
      }
    }
  }
  pump()
}

function driveDownload(run: Run, s: net.Socket): void {
  s.on('data', (c: Buffer) => {
    if (run.measuring) {
      run.ops += c.length
      run.bytes += c.length
    }
  })
}

export async function tcpLoad(task: TcpLoadTask): Promise<LoadResult> {
  const run = newRun(task)
  const sockets = new Set<net.Socket>()
  for (let i = 0; i < task.connections; i++) openSlot(run, task, { done: 0, reported: false, counted: false }, sockets)
  return finishRun(run, () => { for (const s of sockets) s.destroy() }, task.kind === 'rr')
}
