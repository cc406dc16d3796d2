import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type net from 'node:net'
import { createRequire } from 'node:module'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import { cluster, hcmBootstrap, hcmListener, within } from './helpers/http-upstream.js'
import { listenerPort, statValue, waitForStat } from './helpers/tcp.js'

/** WebSocket (HTTP/1.1 Upgrade) through the HCM with `upgrade_configs`, and refused without it. */

// `ws` ships no types and @types/ws is not installed: the little used here, typed locally.
interface WsSocket {
  readonly readyState: number
  send(data: string | Buffer, cb?: (err?: Error) => void): void
  close(code?: number, reason?: string): void
  terminate(): void
  on(event: 'message', cb: (data: Buffer, isBinary: boolean) => void): this
  on(event: 'close', cb: (code: number, reason: Buffer) => void): this
  on(event: 'open' | 'upgrade' | 'error' | 'unexpected-response', cb: (...args: never[]) => void): this
  once(event: string, cb: (...args: never[]) => void): this
}
interface WsServer {
  on(event: 'connection', cb: (ws: WsSocket, req: http.IncomingMessage) => void): this
  close(cb?: () => void): void
}
interface WsModule {
  WebSocket: new (url: string, opts?: { headers?: Record<string, string> }) => WsSocket
  WebSocketServer: new (opts: { server: http.Server }) => WsServer
}
const { WebSocket, WebSocketServer } = createRequire(import.meta.url)('ws') as WsModule

const T = { timeout: 15_000 }

/** Hooks start and stop processes: bounded, so a failed start cannot hang the run. */
const HOOK = { timeout: 30_000 }
let envoy: EnvoyProcess
let server: http.Server
let wss: WsServer
let upstreamPort = 0
const ports: Record<string, number> = {}
/** Upgrade requests the upstream accepted, with the headers it saw. */
const upgrades: http.IncomingHttpHeaders[] = []
/** Close codes the upstream saw from clients. */
const serverCloses: Array<{ code: number; reason: string }> = []
/** Plain (non-upgrade) requests the upstream answered. */
let plainRequests = 0

const upstreamSockets = new Set<net.Socket>()

/** An echo server: text back as `echo:<text>`, binary back as is; `close-me` makes it close. */
async function startWsUpstream(): Promise<void> {
  const sockets = upstreamSockets
  server = http.createServer((_req, res) => {
    plainRequests++
    res.end('plain')
  })
  server.on('connection', (s: net.Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    upgrades.push(req.headers)
    ws.send('hello from upstream')
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'close-me') ws.close(4000, 'server says bye')
      else ws.send(isBinary ? data : `echo:${data.toString()}`)
    })
    ws.on('close', (code, reason) => serverCloses.push({ code, reason: reason.toString() }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  upstreamPort = (server.address() as net.AddressInfo).port
}

/** A client whose messages are queued, so a test can await them in order. */
class Client {
  readonly ws: WsSocket
  private readonly queue: Array<{ data: Buffer; binary: boolean }> = []
  private wake: (() => void) | undefined
  readonly closed: Promise<{ code: number; reason: string }>

  constructor(url: string) {
    this.ws = new WebSocket(url)
    this.ws.on('message', (data, binary) => {
      this.queue.push({ data, binary })
      this.wake?.()
    })
    this.ws.on('error', () => {})
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  async open(): Promise<void> {
    await within(once(this.ws as unknown as NodeJS.EventEmitter, 'open'), 5000, 'websocket open')
  }

  async next(): Promise<{ data: Buffer; binary: boolean }> {
    for (let i = 0; this.queue.length === 0; i++) {
      if (i > 1000) throw new Error('no message')
      await within(new Promise<void>((resolve) => { this.wake = resolve }), 5000, 'a websocket message')
    }
    return this.queue.shift()!
  }
}

/** Tries to open a WebSocket and resolves with the HTTP status of the refusal. */
function refusedStatus(url: string): Promise<{ status: number; body: string }> {
  return within(new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('open', () => reject(new Error('the upgrade was accepted')))
    ws.on('error', () => {})
    ws.on('unexpected-response', ((req: http.ClientRequest, res: http.IncomingMessage) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => {
        // With this listener, ending the refused request is the caller's job (ws docs).
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body })
      })
    }) as (...args: never[]) => void)
  }), 5000, 'the refusal')
}

function config(): string {
  const toBackend = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ cluster: 'backend', ...extra })
  return hcmBootstrap({
    statPrefix: 'ws',
    hcm: { upgrade_configs: [{ upgrade_type: 'websocket' }] },
    virtualHosts: [{
      name: 'all',
      domains: ['*'],
      routes: [
        { match: { prefix: '/no-ws' }, route: toBackend({ upgrade_configs: [{ upgrade_type: 'websocket', enabled: false }] }) },
        { match: { prefix: '/' }, route: toBackend() },
      ],
    }],
    extraListeners: [hcmListener({
      name: 'plain',
      statPrefix: 'plain',
      virtualHosts: [{
        name: 'all',
        domains: ['*'],
        routes: [
          { match: { prefix: '/ws-route' }, route: toBackend({ upgrade_configs: [{ upgrade_type: 'websocket' }] }) },
          { match: { prefix: '/' }, route: toBackend() },
        ],
      }],
    })],
    clusters: [cluster('backend', { endpoints: [upstreamPort] })],
  })
}

describe('WebSocket through the HTTP connection manager', () => {
  before(async () => {
    await startWsUpstream()
    envoy = await startEnvoy({ config: config(), args: ['--drain-time-s', '2'] })
    ports.ws = await listenerPort(envoy, 'http_in')
    ports.plain = await listenerPort(envoy, 'plain')
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    // Connections first: server.close waits for every one of them.
    for (const s of upstreamSockets) s.destroy()
    if (wss !== undefined) await new Promise<void>((resolve) => wss.close(() => resolve()))
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }, HOOK)

  it('carries messages both ways, and a client close', T, async () => {
    const c = new Client(`ws://127.0.0.1:${ports.ws}/chat`)
    await c.open()
    assert.equal((await c.next()).data.toString(), 'hello from upstream')
    c.ws.send('one')
    c.ws.send('two')
    assert.equal((await c.next()).data.toString(), 'echo:one')
    assert.equal((await c.next()).data.toString(), 'echo:two')
    // Binary frames, one of 1 MiB (larger than a socket read), come back byte-exact.
    const big = Buffer.alloc(1024 * 1024, 7)
    big.write('start')
    c.ws.send(big)
    const back = await c.next()
    assert.equal(back.binary, true)
    assert.ok(back.data.equals(big))
    const h = upgrades[upgrades.length - 1]!
    assert.equal(h.upgrade?.toLowerCase(), 'websocket')
    assert.match(String(h.connection), /upgrade/i)
    assert.equal(h['x-forwarded-proto'], 'http')
    await waitForStat(envoy, 'http.ws.downstream_cx_upgrades_total', (v) => v === 1)
    c.ws.close(1000, 'client done')
    const closed = await within(c.closed, 5000, 'client close handshake')
    assert.equal(closed.code, 1000)
    await within((async () => { while (serverCloses.length === 0) await new Promise((r) => setImmediate(r)) })(), 5000, 'the upstream saw the close')
    assert.deepEqual(serverCloses[serverCloses.length - 1], { code: 1000, reason: 'client done' })
    await waitForStat(envoy, 'http.ws.downstream_cx_active', (v) => v === 0)
  })

  it('passes a close from the upstream to the client', T, async () => {
    const c = new Client(`ws://127.0.0.1:${ports.ws}/chat`)
    await c.open()
    assert.equal((await c.next()).data.toString(), 'hello from upstream')
    c.ws.send('close-me')
    const closed = await within(c.closed, 5000, 'close from the upstream')
    assert.deepEqual(closed, { code: 4000, reason: 'server says bye' })
  })

  it('a plain request on the same listener is still plain HTTP', T, async () => {
    const before = plainRequests
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: ports.ws, path: '/plain', agent: false }, (res) => {
        let body = ''
        res.on('data', (c: Buffer) => { body += c.toString() })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      }).on('error', reject)
    })
    assert.deepEqual(r, { status: 200, body: 'plain' })
    assert.equal(plainRequests, before + 1)
  })

  it('is refused with 403 without upgrade_configs (downstream_rq_ws_on_non_ws_route)', T, async () => {
    const seen = upgrades.length
    const r = await refusedStatus(`ws://127.0.0.1:${ports.plain}/chat`)
    assert.equal(r.status, 403)
    await waitForStat(envoy, 'http.plain.downstream_rq_ws_on_non_ws_route', (v) => v === 1)
    assert.equal(upgrades.length, seen, 'the upgrade never reached the upstream')
    assert.equal(await statValue(envoy, 'http.plain.downstream_cx_upgrades_total'), 0)
  })

  it('a route can enable the upgrade the HCM does not, and disable one it does', T, async () => {
    const c = new Client(`ws://127.0.0.1:${ports.plain}/ws-route`)
    await c.open()
    assert.equal((await c.next()).data.toString(), 'hello from upstream')
    c.ws.close(1000)
    await within(c.closed, 5000, 'close')
    const r = await refusedStatus(`ws://127.0.0.1:${ports.ws}/no-ws`)
    assert.equal(r.status, 403)
    await waitForStat(envoy, 'http.ws.downstream_rq_ws_on_non_ws_route', (v) => v === 1)
  })
})
