// The idle-conns load task: open many keep-alive connections and hold them idle, then send one
// request on each and count the answers, then close them. The runner drives the phases over a
// MessagePort, sampling the proxy's memory between them.
import net from 'node:net'
import { errorKind } from './common.js'
import { requestBytes } from './http-load.js'
import { NEED_MORE, ResponseParser } from './http-response-parser.js'
import type { IdleCommand, IdleLoadResult, IdleLoadTask, IdleReport } from './types.js'

interface Held {
  socket: net.Socket
  /** Closed by the peer (or failed) since it opened. */
  closed: boolean
  /** Set while its one request is in flight. */
  onData?: (c: Buffer) => void
  onGone?: () => void
}

export async function idleLoad(task: IdleLoadTask): Promise<IdleLoadResult> {
  const errors: Record<string, number> = {}
  const count = (kind: string): void => { errors[kind] = (errors[kind] ?? 0) + 1 }
  const held: Held[] = []
  const port = task.control
  const commands: IdleCommand[] = []
  let wake: (() => void) | undefined
  port.on('message', (m: IdleCommand) => {
    commands.push(m)
    wake?.()
  })
  const next = async (): Promise<IdleCommand> => {
    while (commands.length === 0) await new Promise<void>((r) => { wake = r })
    return commands.shift()!
  }
  const report = (r: IdleReport): void => port.postMessage(r)

  // ---- open, a bounded number of connects in flight ----
  const t0 = Date.now()
  const openDeadline = t0 + task.openTimeoutMs
  let started = 0
  let opened = 0
  await new Promise<void>((resolve) => {
    let inFlight = 0
    let settled = 0
    const done = (): void => {
      settled++
      inFlight--
      if (settled === task.connections) resolve()
      else pump()
    }
    const pump = (): void => {
      while (inFlight < task.openConcurrency && started < task.connections && Date.now() < openDeadline) {
        started++
        inFlight++
        const s = net.connect({ host: task.host, port: task.port, noDelay: true })
        const h: Held = { socket: s, closed: false }
        let connected = false
        const timer = setTimeout(() => s.destroy(new Error('connect-timeout')), Math.max(1, openDeadline - Date.now()))
        s.on('error', (err) => { if (!connected) count(`connect-${errorKind(err)}`) })
        s.on('close', () => {
          h.closed = true
          if (!connected) {
            clearTimeout(timer)
            done()
          }
          h.onGone?.()
        })
        s.on('data', (c: Buffer) => {
          if (h.onData !== undefined) h.onData(c)
          else {
            count('unexpected-bytes')
            s.destroy()
          }
        })
        s.once('connect', () => {
          connected = true
          clearTimeout(timer)
          opened++
          held.push(h)
          done()
        })
      }
      if (started < task.connections && inFlight === 0) {
        // Out of time: the rest were never tried.
        count('not-attempted')
        resolve()
      }
    }
    if (task.connections === 0) resolve()
    else pump()
  })
  const openMs = Date.now() - t0
  report({ phase: 'opened', opened, ms: openMs })

  // ---- serve: one request on each held connection ----
  let cmd = await next()
  let served = 0
  let serveMs = 0
  if (cmd.cmd === 'serve') {
    const wire = requestBytes({ method: 'GET', path: task.path, headers: {} }, task.host, task.port, true, 0)
    const t1 = Date.now()
    const deadline = t1 + task.serveTimeoutMs
    await new Promise<void>((resolve) => {
      let i = 0
      let inFlight = 0
      let settled = 0
      const total = held.length
      const finish = (): void => {
        settled++
        inFlight--
        if (settled === total) resolve()
        else pump()
      }
      const pump = (): void => {
        while (inFlight < task.serveConcurrency && i < total && Date.now() < deadline) {
          const h = held[i++]!
          inFlight++
          if (h.closed) {
            count('closed-while-idle')
            queueMicrotask(finish)
            continue
          }
          const parser = new ResponseParser()
          let over = false
          const end = (kind?: string): void => {
            if (over) return
            over = true
            clearTimeout(timer)
            h.onData = undefined
            h.onGone = undefined
            if (kind === undefined) served++
            else count(kind)
            finish()
          }
          const timer = setTimeout(() => end('timeout'), Math.max(1, deadline - Date.now()))
          h.onData = (c) => {
            const r = parser.feed(c)
            if (r === NEED_MORE) return
            if (r < 0 || r < c.length) return end('bad-response')
            if (parser.status !== 200) return end(`http-${parser.status}`)
            if (parser.bodyBytes !== task.expectBodyBytes) return end('bad-body-length')
            end()
          }
          h.onGone = () => end(parser.inProgress ? 'short-response' : 'closed')
          h.socket.write(wire.first)
        }
        if (i < total && inFlight === 0) {
          count('not-served-in-time')
          resolve()
        }
      }
      if (total === 0) resolve()
      else pump()
    })
    serveMs = Date.now() - t1
    report({ phase: 'served', served, ms: serveMs })
    cmd = await next()
  }

  // ---- close ----
  let stillOpen = 0
  for (const h of held) {
    if (!h.closed) stillOpen++
    h.socket.destroy()
  }
  port.close()
  return { kind: 'idle', opened, served, stillOpen, openMs, serveMs, errors }
}
