import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import pino from 'pino'
import type { HealthCheck } from '../../../../source/common/protobuf/generated/envoy/config/core/v3.js'
import type { HostSnapshot } from '../../../../source/envoy/upstream/cluster-snapshot.js'
import { HealthFlag } from '../../../../source/envoy/upstream/host.js'
import { StatMemory } from '../../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../../source/common/stats/thread-local-store.js'
import { ClusterHost } from '../../../../source/common/upstream/cluster-host.js'
import type { HealthState, HealthTransition } from '../../../../source/common/upstream/health-checker/health-checker-base.js'
import { checkHealthChecks, createHealthChecker } from '../../../../source/common/upstream/health-checker/health-checker-factory.js'
import { FakeScheduler } from '../../../mocks/upstream/fake-scheduler.js'

interface Result { transition: HealthTransition; state: HealthState }

const servers: net.Server[] = []
after(() => { for (const s of servers) s.close() })

async function listen(server: net.Server): Promise<number> {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

function hostSnapshot(port: number, extra: Partial<HostSnapshot> = {}): HostSnapshot {
  return { ip: '127.0.0.1', port, family: 4, hostname: '', weight: 1, priority: 0, locality: { region: '', zone: '', sub_zone: '' }, localityWeight: 0, healthFlags: 0, ...extra }
}

/** A checker for one host; `next()` resolves with the next check result. */
function run(config: Partial<HealthCheck>, snapshot: HostSnapshot) {
  const scheduler = new FakeScheduler()
  const scope = new ThreadLocalStoreImpl(StatMemory.create(256, 2), 0).createScope('cluster.web')
  const waiters: Array<(r: Result) => void> = []
  const results: Result[] = []
  const hc = {
    timeout: '1s', interval: '5s', unhealthy_threshold: 3, healthy_threshold: 1, event_log_path: '',
    always_log_health_check_failures: false, always_log_health_check_success: false, interval_jitter_percent: 0, ...config,
  } as HealthCheck
  const checker = createHealthChecker(hc, {
    clusterName: 'web', scope, log: pino({ level: 'silent' }), scheduler, random: () => 0, hasTraffic: () => true,
    onHostCheckComplete: (_h, transition, state) => {
      results.push({ transition, state })
      waiters.shift()?.({ transition, state })
    },
  })
  const host = new ClusterHost(snapshot)
  host.flags = HealthFlag.FAILED_ACTIVE_HC
  const next = (): Promise<Result> => new Promise((resolve) => waiters.push(resolve))
  const first = next()
  checker.addHosts([host])
  /** Runs the next check (the interval timer) and waits for its result. */
  const again = (): Promise<Result> => {
    const p = next()
    scheduler.runNext()
    return p
  }
  after(() => checker.stop())
  return { checker, host, scope, scheduler, first, again, results }
}

function httpServer(handler: http.RequestListener): { server: http.Server; connections: () => number } {
  let n = 0
  const server = http.createServer(handler)
  server.on('connection', () => { n++ })
  return { server, connections: () => n }
}

const httpCheck = (h: Record<string, unknown>): Partial<HealthCheck> => ({
  http_health_check: {
    host: '', path: '/healthz', receive: [], request_headers_to_add: [], request_headers_to_remove: [], expected_statuses: [],
    retriable_statuses: [], codec_client_type: 'HTTP1', method: 'METHOD_UNSPECIFIED', ...h,
  } as unknown as HealthCheck['http_health_check'],
})

describe('HttpHealthCheckerImpl', () => {
  it('sends GET <path> with host = cluster name, user-agent Envoy/HC and the configured headers', async () => {
    const seen: http.IncomingHttpHeaders[] = []
    const paths: string[] = []
    const { server } = httpServer((req, res) => { seen.push(req.headers); paths.push(`${req.method} ${req.url}`); res.end('ok') })
    const port = await listen(server)
    const r = run(httpCheck({
      request_headers_to_add: [{ header: { key: 'x-hc', value: 'yes', raw_value: '' }, append_action: 'APPEND_IF_EXISTS_OR_ADD', keep_empty_value: false }],
      request_headers_to_remove: ['user-agent'],
    }), hostSnapshot(port))
    assert.deepEqual(await r.first, { transition: 'Changed', state: 'Healthy' })
    assert.equal(r.host.flags, 0)
    assert.deepEqual(paths, ['GET /healthz'])
    assert.equal(seen[0]!.host, 'web')
    assert.equal(seen[0]!['x-hc'], 'yes')
    assert.equal(seen[0]!['user-agent'], undefined)
  })

  it('uses the endpoint health_check_config hostname and port, and http_health_check.host otherwise', async () => {
    const hosts: string[] = []
    const { server } = httpServer((req, res) => { hosts.push(req.headers.host ?? ''); res.end() })
    const port = await listen(server)
    const a = run(httpCheck({ host: 'cfg.example' }), hostSnapshot(1, { healthCheckPort: port, healthCheckHostname: 'ep.example' }))
    await a.first
    const b = run(httpCheck({ host: 'cfg.example' }), hostSnapshot(port))
    await b.first
    assert.deepEqual(hosts, ['ep.example', 'cfg.example'])
  })

  it('fails at once on an unexpected status; x-envoy-immediate-health-check-fail also excludes the host', async () => {
    let status = 200
    let immediate = false
    const { server } = httpServer((_req, res) => {
      if (immediate) res.setHeader('x-envoy-immediate-health-check-fail', 'true')
      res.statusCode = status
      res.end()
    })
    const r = run(httpCheck({}), hostSnapshot(await listen(server)))
    await r.first
    status = 503
    assert.deepEqual(await r.again(), { transition: 'Changed', state: 'Unhealthy' })
    assert.equal(r.host.healthFlagGet(HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL), false)
    immediate = true
    await r.again()
    assert.equal(r.host.healthFlagGet(HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL), true)
    status = 200
    immediate = false
    await r.again()
    assert.equal(r.host.flags, 0, 'a pass clears the exclusion')
  })

  it('honours expected_statuses and counts retriable_statuses toward unhealthy_threshold', async () => {
    let status = 204
    const { server } = httpServer((_req, res) => { res.statusCode = status; res.end() })
    const r = run(httpCheck({ expected_statuses: [{ start: 200, end: 300 }], retriable_statuses: [{ start: 503, end: 504 }] }), hostSnapshot(await listen(server)))
    assert.equal((await r.first).state, 'Healthy')
    status = 503
    assert.equal((await r.again()).transition, 'ChangePending')
    assert.equal((await r.again()).transition, 'ChangePending')
    assert.equal((await r.again()).transition, 'Changed')
  })

  it('reuses one connection by default and opens one per check with reuse_connection: false', async () => {
    const a = httpServer((_req, res) => res.end())
    const ra = run(httpCheck({}), hostSnapshot(await listen(a.server)))
    await ra.first
    await ra.again()
    await ra.again()
    assert.equal(a.connections(), 1)
    const b = httpServer((_req, res) => res.end())
    const rb = run({ ...httpCheck({}), reuse_connection: false }, hostSnapshot(await listen(b.server)))
    await rb.first
    await rb.again()
    assert.equal(b.connections(), 2)
  })

  it('counts a refused connection as a network failure', async () => {
    const closed = net.createServer()
    const port = await listen(closed)
    closed.close()
    const r = run(httpCheck({}), hostSnapshot(port))
    assert.deepEqual(await r.first, { transition: 'Unchanged', state: 'Unhealthy' })
    assert.equal(r.scope.counter('health_check.network_failure').value(), 1)
  })

  it('matches receive payloads in the body, degraded responses, and service_name_matcher', async () => {
    const { server } = httpServer((_req, res) => {
      res.setHeader('x-envoy-degraded', '1')
      res.setHeader('x-envoy-upstream-healthchecked-cluster', 'web-prod')
      res.end('status: all good')
    })
    const port = await listen(server)
    const ok = run(httpCheck({ receive: [{ text: Buffer.from('all').toString('hex') }, { binary: Buffer.from('good').toString('base64') }], service_name_matcher: { prefix: 'web', ignore_case: false } }), hostSnapshot(port))
    assert.equal((await ok.first).state, 'Healthy')
    assert.equal(ok.host.healthFlagGet(HealthFlag.DEGRADED_ACTIVE_HC), true)
    assert.equal(ok.scope.counter('health_check.verify_cluster').value(), 1)
    const bad = run(httpCheck({ receive: [{ text: Buffer.from('good').toString('hex') }, { text: Buffer.from('all').toString('hex') }] }), hostSnapshot(port))
    assert.equal((await bad.first).state, 'Unhealthy', 'blocks must appear in order')
  })
})

describe('TcpHealthCheckerImpl', () => {
  const tcpCheck = (t: Record<string, unknown>): Partial<HealthCheck> => ({ tcp_health_check: { receive: [], ...t } as unknown as HealthCheck['tcp_health_check'] })

  it('passes on connect without payloads and closes the connection', async () => {
    let closedByPeer = false
    const server = net.createServer((s) => s.on('close', () => { closedByPeer = true }))
    const r = run(tcpCheck({}), hostSnapshot(await listen(server)))
    assert.equal((await r.first).state, 'Healthy')
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(closedByPeer, true)
  })

  it('sends `send` and passes once the reply holds every receive block in order (split across reads)', async () => {
    const server = net.createServer((s) => s.on('data', (d) => {
      if (d.toString() === 'PING') { s.write('xxPO'); setTimeout(() => s.write('NGyy'), 5) }
    }))
    const r = run(tcpCheck({ send: { text: Buffer.from('PING').toString('hex') }, receive: [{ text: '504f' }, { binary: Buffer.from('NG').toString('base64') }] }), hostSnapshot(await listen(server)))
    assert.equal((await r.first).state, 'Healthy')
    assert.equal((await r.again()).state, 'Healthy', 'the kept connection serves the next check')
  })

  it('fails with NETWORK_TIMEOUT when the reply never matches', async () => {
    const server = net.createServer((s) => s.on('data', () => s.write('NOPE')))
    const r = run({ ...tcpCheck({ send: { text: '50494e47' }, receive: [{ text: '504f4e47' }] }), unhealthy_threshold: 1 }, hostSnapshot(await listen(server)))
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(r.results.length, 0, 'waits for the timeout')
    const p = new Promise<void>((resolve) => { const t = setInterval(() => { if (r.results.length > 0) { clearInterval(t); resolve() } }, 1) })
    r.scheduler.advance(1000)
    await p
    assert.deepEqual(r.results[0], { transition: 'Unchanged', state: 'Unhealthy' })
    assert.equal(r.host.healthFlagGet(HealthFlag.ACTIVE_HC_TIMEOUT), true)
  })
})

describe('checkHealthChecks', () => {
  const base = { name: 'c', health_checks: [] as unknown[] }
  it('rejects bad hex, bad status ranges, HTTP/2 and more than one checker', () => {
    const hc = (h: Partial<HealthCheck>): HealthCheck => ({ timeout: '1s', interval: '1s', ...h }) as HealthCheck
    const errors = checkHealthChecks({
      ...base,
      health_checks: [
        hc(httpCheck({ expected_statuses: [{ start: 300, end: 200 }], codec_client_type: 'HTTP2' })),
        hc({ tcp_health_check: { send: { text: 'zz' }, receive: [{ text: '123' }] } as HealthCheck['tcp_health_check'] }),
      ],
    } as never, 'clusters[0]')
    assert.deepEqual(errors, [
      'clusters[0].health_checks: only one health check per cluster is supported (got 2)',
      'clusters[0].health_checks[0].http_health_check.codec_client_type: HTTP2 health checks are not supported (HTTP1 only)',
      'clusters[0].health_checks[0].http_health_check.expected_statuses[0]: Invalid http expected status range: expecting start < end, but found start=300 and end=200',
      "clusters[0].health_checks[1].tcp_health_check.send[0].text: invalid hex string 'zz'",
      "clusters[0].health_checks[1].tcp_health_check.receive[0].text: invalid hex string '123'",
    ])
  })
})
