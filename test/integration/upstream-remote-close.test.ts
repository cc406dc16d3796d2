// Upstream connections that the upstream closes (issue 18, defect 2): an idle keep-alive
// connection closed with a FIN must leave the HTTP/1 pool at once (counted as
// upstream_cx_destroy_remote), a close before the response is a 503 "connection termination"
// (UC) that `retry_on: reset` retries, a request that loses the race with the upstream's FIN on
// a reused connection is retried once on a fresh connection, and the TCP proxy and the health
// checkers cope with the same closes. Real binary, real upstreams on 127.0.0.1:0.
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import { healthy, proxyBootstrap, waitForHost } from './helpers/backends.js'
import { type Json, cluster, hcmBootstrap, send, stderrJsonAccessLog, within } from './helpers/http-upstream.js'
import { listenerPort, statsMap, statValue, waitForStat } from './helpers/tcp.js'

const T = { timeout: 30_000 }
const HOOK = { timeout: 30_000 }
const RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: '
/** Generous: every answer here is immediate once the proxy does the right thing (a stale socket means the 5 s route timeout). */
const ANSWER_MS = 3000

/** A Node HTTP upstream whose idle keep-alive connections are closed after `keepAliveTimeout`. */
class KeepAliveUpstream {
  port = 0
  readonly closes: Array<Promise<void>> = []
  private readonly server: http.Server
  private readonly sockets = new Set<net.Socket>()

  constructor(keepAliveTimeoutMs: number) {
    this.server = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => res.end(`ok ${req.url}`))
    })
    this.server.keepAliveTimeout = keepAliveTimeoutMs
    this.server.on('connection', (s: net.Socket) => {
      // A connection that never carries a request is closed after the same idle time (as nginx's
      // keepalive_timeout; Node alone would keep it until requestTimeout).
      s.setTimeout(keepAliveTimeoutMs)
      this.sockets.add(s)
      this.closes.push(new Promise((resolve) => s.once('close', () => { this.sockets.delete(s); resolve() })))
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this
  }

  /** Connections accepted so far. */
  get accepted(): number {
    return this.closes.length
  }

  /** Resolves once every connection accepted so far has closed (the keep-alive timeout fired). */
  allClosed(): Promise<void> {
    return within(Promise.all(this.closes).then(() => undefined), 10_000, 'upstream keep-alive closes')
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/**
 * A raw HTTP/1 upstream that reads each request head and then, by path, answers or closes (FIN)
 * without a byte of answer: `/close/...` always closes; a path with `closefirst` closes the
 * first time it is seen; `/race...` answers the first request on each connection with keep-alive
 * and closes on the second (the upstream's FIN crossing our request). Bodies (content-length)
 * are echoed back.
 */
class RawUpstream {
  port = 0
  requests = 0
  readonly seen = new Map<string, number>()
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()

  constructor() {
    this.server = net.createServer((s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
      s.on('error', () => {})
      let buf = Buffer.alloc(0)
      let onConnection = 0
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d])
        for (;;) {
          const end = buf.indexOf('\r\n\r\n')
          if (end < 0) return
          const head = buf.subarray(0, end).toString('latin1')
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
          if (buf.length < end + 4 + length) return
          const body = buf.subarray(end + 4, end + 4 + length)
          buf = buf.subarray(end + 4 + length)
          const path = head.split(' ')[1] ?? '/'
          this.requests++
          onConnection++
          const n = (this.seen.get(path) ?? 0) + 1
          this.seen.set(path, n)
          const close = path.startsWith('/close/') || (path.includes('closefirst') && n === 1) || (path.startsWith('/race') && onConnection > 1)
          if (close) {
            s.end()
            return
          }
          const answer = Buffer.concat([Buffer.from(`answer ${path} `), body])
          s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${answer.length}\r\n\r\n`)
          s.write(answer)
        }
      })
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

const route = (prefix: string, action: Json): Json => ({ match: { prefix }, route: action })

describe('upstream closes: HTTP/1 pool and router', () => {
  let envoy: EnvoyProcess
  let ka: KeepAliveUpstream
  let raw: RawUpstream
  let port: number
  const stat = (name: string): Promise<number> => statValue(envoy, name)

  before(async () => {
    ka = await new KeepAliveUpstream(1000).start()
    raw = await new RawUpstream().start()
    const config = hcmBootstrap({
      statPrefix: 'rc',
      hcm: { access_log: [stderrJsonAccessLog({ path: '%REQ(:PATH)%', code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', attempts: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%' })] },
      virtualHosts: [{
        name: 'all',
        domains: ['*'],
        routes: [
          route('/ka', { cluster: 'ka', timeout: '5s' }),
          route('/retry', { cluster: 'raw_retry', timeout: '5s', retry_policy: { retry_on: 'reset,connect-failure', num_retries: 1 } }),
          route('/race', { cluster: 'race', timeout: '5s' }),
          route('/', { cluster: 'raw', timeout: '5s' }),
        ],
      }],
      clusters: [
        cluster('ka', { endpoints: [ka.port] }),
        cluster('raw', { endpoints: [raw.port] }),
        cluster('raw_retry', { endpoints: [raw.port] }),
        cluster('race', { endpoints: [raw.port] }),
      ],
    })
    envoy = await startEnvoy({ config, args: ['--file-flush-interval-msec', '10'] })
    port = await listenerPort(envoy, 'http_in')
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    await ka?.close()
    await raw?.close()
  }, HOOK)

  /** `n` requests at once; each must be a 200 within ANSWER_MS. */
  async function burst(prefix: string, n: number): Promise<void> {
    const results = await Promise.all(Array.from({ length: n }, (_, i) => within(send(port, `${prefix}/${i}`), ANSWER_MS, `${prefix}/${i}`)))
    const bad = results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body}`)
    assert.deepEqual(bad, [], 'every request answered 200')
  }

  it('idle pooled connections closed by a 1 s keep-alive timeout leave the pool at once (upstream_cx_destroy_remote)', T, async () => {
    await burst('/ka/warm', 4)
    const opened = ka.accepted
    assert.ok(opened >= 1)
    await ka.allClosed()
    // The upstream closed them: the proxy must notice without sending anything.
    await waitForStat(envoy, 'cluster.ka.upstream_cx_destroy_remote', (v) => v >= opened)
    await waitForStat(envoy, 'cluster.ka.upstream_cx_active', (v) => v === 0)
    await burst('/ka/after-idle', 6)
    assert.equal(await stat('cluster.ka.upstream_rq_timeout'), 0)
  })

  it('requests sent the moment the upstream closes its idle connections all succeed, after every idle period', T, async () => {
    for (let round = 0; round < 2; round++) {
      await burst(`/ka/round${round}`, 4)
      await ka.allClosed()
      // No waiting for the proxy: these race the FINs.
      await burst(`/ka/round${round}-after`, 8)
    }
    assert.equal(await stat('cluster.ka.upstream_rq_timeout'), 0)
    assert.equal(await stat('http.rc.downstream_rq_5xx'), 0)
  })

  it('an upstream that closes after reading the request, without answering: 503 "connection termination", flag UC', T, async () => {
    const before = await stat('cluster.raw.upstream_cx_destroy_remote_with_active_rq').catch(() => 0)
    const started = Date.now()
    const r = await within(send(port, '/close/1'), ANSWER_MS, '/close/1')
    assert.equal(r.status, 503)
    assert.equal(r.body, `${RESET_PREFIX}connection termination`)
    assert.ok(Date.now() - started < ANSWER_MS)
    const line = await within(envoy.waitForLog((l) => l.path === '/close/1'), 5000, 'access log')
    assert.equal(line.flags, 'UC')
    assert.equal(raw.seen.get('/close/1'), 1, 'a fresh connection is not retried without a policy')
    await waitForStat(envoy, 'cluster.raw.upstream_cx_destroy_remote_with_active_rq', (v) => v === before + 1)
    assert.ok(await stat('cluster.raw.upstream_cx_destroy_with_active_rq') >= 1)
    assert.ok(await stat('cluster.raw.upstream_rq_rx_reset') >= 1)
  })

  it('retry_on: reset retries a close before the answer: 200 after one retry', T, async () => {
    const r = await within(send(port, '/retry/closefirst'), ANSWER_MS, '/retry/closefirst')
    assert.equal(r.status, 200)
    assert.equal(r.body, 'answer /retry/closefirst ')
    assert.equal(raw.seen.get('/retry/closefirst'), 2)
    await waitForStat(envoy, 'cluster.raw_retry.upstream_rq_retry', (v) => v === 1)
    assert.equal(await stat('cluster.raw_retry.upstream_rq_retry_success'), 1)
    const line = await within(envoy.waitForLog((l) => l.path === '/retry/closefirst'), 5000, 'access log')
    assert.equal(line.attempts, 2)
  })

  it('a request whose reused connection is closed before any answer byte is retried once on a fresh one, without a retry policy', T, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const first = await within(send(port, '/race/1', { agent }), ANSWER_MS, '/race/1')
      assert.equal(first.status, 200)
      // Same pooled upstream connection: the upstream closes it on this request.
      const second = await within(send(port, '/race/2', { agent }), ANSWER_MS, '/race/2')
      assert.equal(second.status, 200, second.body)
      assert.equal(second.body, 'answer /race/2 ')
      // A POST whose body is held whole is safe to send again.
      const post = await within(send(port, '/race/3', { agent, method: 'POST', body: 'payload-bytes' }), ANSWER_MS, '/race/3')
      assert.equal(post.status, 200, post.body)
      assert.equal(post.body, 'answer /race/3 payload-bytes')
    } finally {
      agent.destroy()
    }
    assert.equal(raw.seen.get('/race/2'), 2)
    assert.equal(raw.seen.get('/race/3'), 2)
    await waitForStat(envoy, 'cluster.race.upstream_rq_retry_reused_connection', (v) => v === 2)
    assert.equal(await stat('cluster.race.upstream_rq_retry'), 0, 'not a policy retry')
  })
})

describe('upstream closes: TCP proxy and health checks', () => {
  it('tcp_proxy: an upstream FIN reaches the client, and once the client closes nothing stays open', T, async (t) => {
    const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {})
      s.resume()
      s.end('bye')
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const upPort = (upstream.address() as net.AddressInfo).port
    t.after(() => new Promise<void>((resolve) => upstream.close(() => resolve())))
    const envoy = await startEnvoy({ config: proxyBootstrap(`
  - name: backend
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upPort} } } }`) })
    t.after(() => envoy.stop())
    const tcpPort = await listenerPort(envoy, 'tcp_in')
    for (let i = 0; i < 3; i++) {
      const c = net.connect({ port: tcpPort, host: '127.0.0.1', allowHalfOpen: true })
      c.on('error', () => {})
      const got = await within(new Promise<string>((resolve) => {
        let data = ''
        c.on('data', (d: Buffer) => { data += d.toString() })
        c.once('end', () => resolve(data))
      }), ANSWER_MS, 'the upstream FIN at the client')
      assert.equal(got, 'bye')
      c.end()
      await within(new Promise((resolve) => c.once('close', resolve)), ANSWER_MS, 'client close')
    }
    await waitForStat(envoy, 'cluster.backend.upstream_cx_active', (v) => v === 0)
    const down = [...(await statsMap(envoy, 'downstream_cx_active')).entries()].filter(([k]) => k.startsWith('listener.'))
    assert.ok(down.length > 0)
    for (const [k] of down) await waitForStat(envoy, k, (v) => v === 0)
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_cx_destroy_remote'), 3)
  })

  it('tcp health check: a reused check connection closed by the host between checks is not a failure', T, async (t) => {
    // Answers PING with PONG, then closes the connection once it has been idle for 100 ms.
    let accepted = 0
    const backend = net.createServer((s) => {
      accepted++
      s.on('error', () => {})
      s.setTimeout(100, () => s.end())
      s.on('data', (d) => { if (d.toString() === 'PING') s.write('PONG') })
    })
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
    const bPort = (backend.address() as net.AddressInfo).port
    t.after(() => new Promise<void>((resolve) => { backend.close(() => resolve()); backend.unref() }))
    const envoy = await startEnvoy({ config: proxyBootstrap(`
  - name: backend
    connect_timeout: 1s
    health_checks:
    - timeout: 1s
      interval: 0.4s
      no_traffic_interval: 0.4s
      unhealthy_threshold: 1
      healthy_threshold: 1
      tcp_health_check: { send: { text: "50494e47" }, receive: [{ text: "504f4e47" }] }
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${bPort} } } }`) })
    t.after(() => envoy.stop())
    await waitForHost(envoy, 'backend', bPort, healthy)
    // Several checks, each after the host closed the previous (idle) connection.
    await waitForStat(envoy, 'cluster.backend.health_check.success', (v) => v >= 4, 10_000)
    assert.ok(accepted >= 3, `a fresh connection per check after each close (${accepted})`)
    assert.equal(await statValue(envoy, 'cluster.backend.health_check.failure'), 0)
    assert.equal(await statValue(envoy, 'cluster.backend.health_check.network_failure'), 0)
  })

  it('http health check: a keep-alive check connection closed by the host is dropped and the next check opens a fresh one', T, async (t) => {
    const backend = http.createServer((_req, res) => res.end('ok'))
    backend.keepAliveTimeout = 150
    let accepted = 0
    backend.on('connection', () => { accepted++ })
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
    const bPort = (backend.address() as net.AddressInfo).port
    t.after(() => new Promise<void>((resolve) => { backend.closeAllConnections(); backend.close(() => resolve()) }))
    const envoy = await startEnvoy({ config: proxyBootstrap(`
  - name: backend
    connect_timeout: 1s
    health_checks:
    - timeout: 1s
      interval: 0.4s
      no_traffic_interval: 0.4s
      unhealthy_threshold: 1
      healthy_threshold: 1
      http_health_check: { path: /healthz }
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${bPort} } } }`) })
    t.after(() => envoy.stop())
    await waitForHost(envoy, 'backend', bPort, healthy)
    await waitForStat(envoy, 'cluster.backend.health_check.success', (v) => v >= 4, 10_000)
    assert.ok(accepted >= 3, `a fresh connection per check after each close (${accepted})`)
    assert.equal(await statValue(envoy, 'cluster.backend.health_check.failure'), 0)
  })

  it('health checks: a check whose reused connection the host closes before answering is sent again on a fresh one (HTTP and TCP)', T, async (t) => {
    // HTTP: `/race...` answers the first request on each connection and closes on the second.
    const raw = await new RawUpstream().start()
    t.after(() => raw.close())
    // TCP: answers the first PING on each connection, closes on the second.
    let tcpAccepted = 0
    const tcp = net.createServer((s) => {
      tcpAccepted++
      let pings = 0
      s.on('error', () => {})
      s.on('data', (d) => {
        if (d.toString() !== 'PING') return
        if (++pings === 1) s.write('PONG')
        else s.end()
      })
    })
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    const tcpPort = (tcp.address() as net.AddressInfo).port
    t.after(() => new Promise<void>((resolve) => { tcp.close(() => resolve()); tcp.unref() }))
    const check = (kind: string): string => `
    health_checks:
    - timeout: 1s
      interval: 0.3s
      no_traffic_interval: 0.3s
      unhealthy_threshold: 1
      healthy_threshold: 1
      ${kind}`
    const envoy = await startEnvoy({ config: proxyBootstrap(`
  - name: backend
    connect_timeout: 1s${check('http_health_check: { path: /race-hc }')}
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${raw.port} } } }
  - name: tcpcheck
    connect_timeout: 1s${check('tcp_health_check: { send: { text: "50494e47" }, receive: [{ text: "504f4e47" }] }')}
    load_assignment:
      cluster_name: tcpcheck
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${tcpPort} } } }`) })
    t.after(() => envoy.stop())
    await waitForHost(envoy, 'backend', raw.port, healthy)
    await waitForHost(envoy, 'tcpcheck', tcpPort, healthy)
    await waitForStat(envoy, 'cluster.backend.health_check.success', (v) => v >= 4, 10_000)
    await waitForStat(envoy, 'cluster.tcpcheck.health_check.success', (v) => v >= 4, 10_000)
    assert.ok((raw.seen.get('/race-hc') ?? 0) >= 5, 'every other check went out twice')
    assert.ok(tcpAccepted >= 3)
    for (const c of ['backend', 'tcpcheck']) {
      assert.equal(await statValue(envoy, `cluster.${c}.health_check.failure`), 0, c)
      assert.equal(await statValue(envoy, `cluster.${c}.health_check.network_failure`), 0, c)
    }
  })
})
