// The HTTP load generator: HTTP/1.1 on raw `net` sockets (no http.Agent, no undici: the less the
// client costs, the more of the machine is left to the target), one request outstanding per
// connection (closed loop). Keep-alive connections reuse their socket; `keepAlive: false` sends
// `Connection: close` and opens a new connection for every request, its latency counted from
// the connect. Responses are delimited by Content-Length, chunked encoding or the close.
import net from 'node:net'
import { countError, errorKind, finishRun, newRun, RECONNECT_MS, recordDone, type Run, slotFinished } from './common.js'
import { NEED_MORE, PARSE_ERROR, ResponseParser } from './http-response-parser.js'
import type { HttpLoadTask, HttpRequestSpec, LoadResult } from './types.js'

/** Bodies at least this large are written after the head instead of copied into one buffer. */
const SEPARATE_BODY = 16 * 1024
/** A socket that should close after its last response is destroyed if it has not after this. */
const CLOSE_GRACE_MS = 2000

interface Slot {
  index: number
  done: number
  reported: boolean
  counted: boolean
  setupDone: boolean
}

/** The bytes of one request: a head and, for uploads, a body written after it. */
interface Wire {
  first: Buffer
  body?: Buffer
  length: number
}

const fillers = new Map<number, Buffer>()
function filler(n: number): Buffer {
  let b = fillers.get(n)
  if (b === undefined) {
    b = Buffer.alloc(n, 0x62)
    fillers.set(n, b)
  }
  return b
}

/** Serializes `spec` for connection `slot` (`{conn}` in path and body becomes the slot number). */
export function requestBytes(spec: HttpRequestSpec, host: string, port: number, keepAlive: boolean, slot: number): Wire {
  const path = spec.path.replaceAll('{conn}', String(slot))
  const body = spec.body !== undefined
    ? Buffer.from(spec.body.replaceAll('{conn}', String(slot)), 'utf8')
    : spec.bodySize !== undefined && spec.bodySize > 0 ? filler(spec.bodySize) : undefined
  let head = `${spec.method} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n`
  for (const [k, v] of Object.entries(spec.headers)) head += `${k}: ${v}\r\n`
  if (body !== undefined) head += `Content-Length: ${body.length}\r\n`
  if (!keepAlive) head += 'Connection: close\r\n'
  head += '\r\n'
  const h = Buffer.from(head, 'latin1')
  if (body === undefined) return { first: h, length: h.length }
  if (body.length >= SEPARATE_BODY) return { first: h, body, length: h.length + body.length }
  const whole = Buffer.concat([h, body])
  return { first: whole, length: whole.length }
}

interface Ctx {
  run: Run
  task: HttpLoadTask
  sockets: Set<net.Socket>
}

function openConn(ctx: Ctx, slot: Slot): void {
  const { run, task, sockets } = ctx
  const fixed = task.requestsPerConnection
  const setup = task.setup !== undefined && !slot.setupDone ? requestBytes(task.setup, task.host, task.port, task.keepAlive, slot.index) : undefined
  const wire = requestBytes(task.request, task.host, task.port, task.keepAlive, slot.index)
  // New connection per request: the latency starts with the connect.
  let t0 = performance.now()
  const s = net.connect({ host: task.host, port: task.port, noDelay: true })
  sockets.add(s)
  const parser = new ResponseParser()
  let everConnected = false
  let awaiting = false
  let inSetup = false
  /** No more requests on this socket: its close is expected (Connection: close, or done). */
  let retired = false

  const finishSlot = (): void => {
    if (fixed !== undefined && !slot.reported) {
      slot.reported = true
      slotFinished(run)
    }
  }

  const write = (w: Wire): void => {
    awaiting = true
    parser.reset()
    if (run.measuring) run.bytes += w.length
    if (w.body !== undefined) {
      s.cork()
      s.write(w.first)
      s.write(w.body)
      s.uncork()
    } else {
      s.write(w.first)
    }
  }

  const send = (): void => {
    if (task.keepAlive) t0 = performance.now()
    write(wire)
  }

  /** Closes this socket once the server has (it closes first, so TIME_WAIT stays on its side). */
  const retire = (): void => {
    retired = true
    s.once('end', () => s.destroy())
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref()
  }

  const startRequests = (): void => {
    if (!run.running) return
    if (fixed !== undefined && Date.now() < task.startAt) {
      setTimeout(startRequests, task.startAt - Date.now())
      return
    }
    send()
  }

  const onResponse = (): void => {
    const t1 = performance.now()
    awaiting = false
    if (inSetup) {
      inSetup = false
      slot.setupDone = true
      if (parser.status < 200 || parser.status >= 300) countError(run, `setup-http-${parser.status}`)
    } else {
      slot.done++
      const ok = parser.status >= 200 && parser.status < 300
      if (!ok) countError(run, `http-${parser.status}`)
      else if (task.expectBodyBytes !== undefined && parser.bodyBytes !== task.expectBodyBytes) countError(run, 'bad-body-length')
      else recordDone(run, t0, t1)
      if (fixed !== undefined && slot.done >= fixed) {
        finishSlot()
        retired = true
        s.end()
        return
      }
    }
    if (!run.running) return
    if (task.keepAlive && parser.keepAlive) {
      startRequests()
      return
    }
    // The server closes this one: the next request goes on a new connection, opened now.
    retire()
    openConn(ctx, slot)
  }

  s.on('error', (err) => { if (!retired) countError(run, errorKind(err)) })
  s.on('connect', () => {
    everConnected = true
    if (!slot.counted) {
      slot.counted = true
      run.connected++
    }
    if (setup !== undefined) {
      inSetup = true
      write(setup)
      return
    }
    if (task.keepAlive) startRequests()
    else if (fixed !== undefined && Date.now() < task.startAt) {
      // Fixed mode, first connection: wait for the start, then count from the connect anyway.
      setTimeout(() => {
        t0 = performance.now()
        if (run.running) write(wire)
      }, task.startAt - Date.now())
    } else {
      write(wire)
    }
  })
  s.on('data', (c: Buffer) => {
    if (run.measuring) run.bytes += c.length
    if (!awaiting) {
      if (!retired) countError(run, 'unexpected-bytes')
      s.destroy()
      return
    }
    const r = parser.feed(c)
    if (r === NEED_MORE) return
    if (r === PARSE_ERROR) {
      countError(run, 'bad-response')
      s.destroy()
      return
    }
    if (r < c.length) {
      countError(run, 'excess-bytes')
      s.destroy()
      return
    }
    onResponse()
  })
  s.on('end', () => {
    // A body delimited by the close completes here.
    if (awaiting && parser.end()) onResponse()
  })
  s.on('close', () => {
    sockets.delete(s)
    if (retired || !run.running) return
    if (fixed !== undefined && slot.reported) return
    countError(run, !everConnected ? 'connect-failed' : awaiting ? (parser.inProgress ? 'short-response' : 'closed') : 'closed-idle')
    if (fixed !== undefined && !everConnected) {
      finishSlot()
      return
    }
    setTimeout(() => { if (run.running) openConn(ctx, slot) }, RECONNECT_MS)
  })
}

export async function httpLoad(task: HttpLoadTask): Promise<LoadResult> {
  const run = newRun(task)
  const ctx: Ctx = { run, task, sockets: new Set() }
  for (let i = 0; i < task.connections; i++) openConn(ctx, { index: i, done: 0, reported: false, counted: false, setupDone: false })
  return finishRun(run, () => { for (const s of ctx.sockets) s.destroy() }, true)
}
