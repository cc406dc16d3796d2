import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, type LogLine, startEnvoy } from './helpers/envoy-process.js'
import {
  type Action, type HttpUpstream, type Json, RawHttpConnection, closedPort, cluster, hcmBootstrap, hcmListener, send,
  startHttpUpstream, stderrJsonAccessLog, within,
} from './helpers/http-upstream.js'
import { listenerPort, startBlackHole, statValue, waitForStat } from './helpers/tcp.js'

/**
 * What the router does when the upstream fails: connect failures and timeouts, resets before
 * and after the response started, route and per-try timeouts, retries (policy and
 * x-envoy-* headers), and circuit breakers. Every failure is checked by status, body, response
 * flag and stat.
 */

const T = { timeout: 20_000 }
const RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: '

/** Hooks start and stop processes: bounded, so a failed start cannot hang the run. */
const HOOK = { timeout: 30_000 }
let envoy: EnvoyProcess
let upstream: HttpUpstream
let hole: { port: number; close(): void }
let port: number
let edgePort: number

/** Requests per full URL, for "fail the first N times" behaviours. */
const attempts = new Map<string, number>()

/**
 * The upstream's answer is chosen by the query: `fail=N` answers the first N requests of that
 * URL with 503; `hangfirst=1` never answers the first; `delay=ms` waits; `reset=before|after`
 * resets before the response or after its headers.
 */
function behavior(_n: number, req: http.IncomingMessage): Action {
  const url = req.url ?? '/'
  const n = (attempts.get(url) ?? 0) + 1
  attempts.set(url, n)
  const q = new URL(url, 'http://upstream').searchParams
  const fail = Number(q.get('fail') ?? 0)
  if (n <= fail) return { kind: 'status', status: 503, body: `upstream failure ${n}`, ...(q.has('faildelay') ? { delayMs: Number(q.get('faildelay')) } : {}) }
  if (q.get('hang') === '1' || (q.get('hangfirst') === '1' && n === 1)) return { kind: 'hang' }
  if (q.get('reset') === 'before') return { kind: 'reset-before-headers' }
  if (q.get('reset') === 'after') return { kind: 'reset-after-headers', declaredLength: 1000, partialBody: 'partial' }
  const delay = Number(q.get('delay') ?? 0)
  return { kind: 'echo', ...(delay > 0 ? { delayMs: delay } : {}) }
}

const route = (prefix: string, action: Json): Json => ({ match: { prefix }, route: action })

function config(ports: { up: number; dead: number; hole: number }): string {
  const cb = (name: string, thresholds: Json): Json => cluster(name, { endpoints: [ports.up], extra: { circuit_breakers: { thresholds: [thresholds] } } })
  const retry5xx = { retry_on: '5xx', num_retries: 2 }
  return hcmBootstrap({
    statPrefix: 'fail',
    hcm: {
      access_log: [stderrJsonAccessLog({
        path: '%REQ(:PATH)%',
        code: '%RESPONSE_CODE%',
        flags: '%RESPONSE_FLAGS%',
        details: '%RESPONSE_CODE_DETAILS%',
        attempts: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%',
      })],
    },
    virtualHosts: [{
      name: 'all',
      domains: ['*'],
      routes: [
        route('/refused', { cluster: 'refused' }),
        route('/blackhole', { cluster: 'blackhole' }),
        route('/slow', { cluster: 'main', timeout: '0.3s' }),
        route('/retry', { cluster: 'retry', retry_policy: retry5xx }),
        route('/connect-failure', { cluster: 'two_hosts', retry_policy: { retry_on: 'connect-failure', num_retries: 2 } }),
        route('/per-try', { cluster: 'per_try', timeout: '5s', retry_policy: { retry_on: '5xx', num_retries: 1, per_try_timeout: '0.2s' } }),
        route('/cb-pending', { cluster: 'cb_pending' }),
        route('/cb-requests', { cluster: 'cb_requests' }),
        route('/cb-queue', { cluster: 'cb_queue' }),
        route('/cb-retries', { cluster: 'cb_retries', retry_policy: { retry_on: '5xx', num_retries: 1 } }),
        route('/', { cluster: 'main' }),
      ],
    }],
    extraListeners: [hcmListener({
      name: 'edge',
      statPrefix: 'edge',
      hcm: { use_remote_address: true, internal_address_config: { cidr_ranges: [{ address_prefix: '127.0.0.1', prefix_len: 32 }] } },
      virtualHosts: [{ name: 'edge', domains: ['*'], routes: [route('/', { cluster: 'header_retry' })] }],
    })],
    clusters: [
      cluster('main', { endpoints: [ports.up] }),
      cluster('refused', { endpoints: [ports.dead] }),
      cluster('blackhole', { endpoints: [ports.hole], connectTimeout: '0.25s' }),
      cluster('retry', { endpoints: [ports.up] }),
      cluster('two_hosts', { endpoints: [ports.dead, ports.up] }),
      cluster('per_try', { endpoints: [ports.up] }),
      cluster('header_retry', { endpoints: [ports.up] }),
      // Connects to the black hole stay pending for connect_timeout.
      cluster('cb_pending', { endpoints: [ports.hole], connectTimeout: '0.5s', extra: { circuit_breakers: { thresholds: [{ max_pending_requests: 1 }] } } }),
      cb('cb_queue', { max_connections: 1, max_pending_requests: 1 }),
      cb('cb_requests', { max_requests: 1 }),
      cb('cb_retries', { max_retries: 1 }),
    ],
  })
}

/** The access log line of the request to `path` (paths are unique per test). */
function logOf(path: string): Promise<LogLine> {
  return within(envoy.waitForLog((l) => l.path === path), 5000, `access log line for ${path}`)
}

const stat = (name: string): Promise<number> => statValue(envoy, name)

describe('HTTP upstream failures', () => {
  before(async () => {
    hole = await startBlackHole()
    upstream = await startHttpUpstream({ behavior })
    const dead = await closedPort()
    envoy = await startEnvoy({ config: config({ up: upstream.port, dead, hole: hole.port }), args: ['--file-flush-interval-msec', '10', '--drain-time-s', '2'] })
    port = await listenerPort(envoy, 'http_in')
    edgePort = await listenerPort(envoy, 'edge')
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    await upstream?.close()
    hole?.close()
  }, HOOK)

  it('a refused connection is 503 "connection failure", flag UF', T, async () => {
    const r = await send(port, '/refused/1')
    assert.equal(r.status, 503)
    assert.equal(r.body, `${RESET_PREFIX}connection failure`)
    assert.equal(r.headers['content-type'], 'text/plain')
    const line = await logOf('/refused/1')
    assert.equal(line.flags, 'UF')
    assert.equal(line.code, 503)
    assert.match(String(line.details), /^upstream_reset_before_response_started\{connection_failure/)
    await waitForStat(envoy, 'cluster.refused.upstream_cx_connect_fail', (v) => v === 1)
    assert.equal(await stat('http.fail.downstream_rq_5xx') >= 1, true)
  })

  it('a black-holed upstream hits connect_timeout: 503 "connection timeout", flag UF', T, async () => {
    const started = Date.now()
    const r = await send(port, '/blackhole/1')
    const waited = Date.now() - started
    assert.equal(r.status, 503)
    assert.equal(r.body, `${RESET_PREFIX}connection timeout`)
    assert.ok(waited >= 200 && waited < 3000, `answered after ${waited} ms`)
    assert.equal((await logOf('/blackhole/1')).flags, 'UF')
    await waitForStat(envoy, 'cluster.blackhole.upstream_cx_connect_timeout', (v) => v === 1)
  })

  it('an upstream that closes before the response headers: 503 "connection termination", flag UC', T, async () => {
    const r = await send(port, '/reset-before?reset=before')
    assert.equal(r.status, 503)
    assert.equal(r.body, `${RESET_PREFIX}connection termination`)
    const line = await logOf('/reset-before?reset=before')
    assert.equal(line.flags, 'UC')
    assert.match(String(line.details), /^upstream_reset_before_response_started\{connection_termination/)
    assert.ok(await stat('cluster.main.upstream_rq_rx_reset') >= 1)
  })

  it('route timeout: 504 "upstream request timeout", flag UT, upstream_rq_timeout', T, async () => {
    const started = Date.now()
    const r = await send(port, '/slow/1?delay=3000')
    const waited = Date.now() - started
    assert.equal(r.status, 504)
    assert.equal(r.body, 'upstream request timeout')
    assert.ok(waited >= 280 && waited < 2500, `timed out after ${waited} ms`)
    const line = await logOf('/slow/1?delay=3000')
    assert.equal(line.flags, 'UT')
    assert.equal(line.details, 'upstream_response_timeout')
    await waitForStat(envoy, 'cluster.main.upstream_rq_timeout', (v) => v === 1)
  })

  it('retry_policy 5xx: two failures then success → 200, 2 retries, 1 retry success', T, async () => {
    const r = await send(port, '/retry/ok?fail=2')
    assert.equal(r.status, 200)
    assert.equal(r.echo().n > 0, true)
    assert.equal(attempts.get('/retry/ok?fail=2'), 3)
    await waitForStat(envoy, 'cluster.retry.upstream_rq_retry', (v) => v === 2)
    assert.equal(await stat('cluster.retry.upstream_rq_retry_success'), 1)
    assert.equal(await stat('cluster.retry.upstream_rq_200'), 1, 'the response that went downstream')
    assert.equal(await stat('cluster.retry.retry.upstream_rq_503'), 2, 'the two answers that were retried')
    assert.equal(await stat('cluster.retry.retry.upstream_rq_5xx'), 2)
    assert.equal(await stat('cluster.retry.retry.upstream_rq_completed'), 2)
    const line = await logOf('/retry/ok?fail=2')
    assert.equal(line.flags, '-')
    assert.equal(line.attempts, 3)
  })

  it('retries exhausted: the last 503 goes to the client, flag URX', T, async () => {
    const retriesBefore = await stat('cluster.retry.upstream_rq_retry')
    const r = await send(port, '/retry/exhausted?fail=10')
    assert.equal(r.status, 503)
    assert.equal(r.body, 'upstream failure 3', "the upstream's own last answer")
    assert.equal(attempts.get('/retry/exhausted?fail=10'), 3, '1 try + num_retries 2')
    const line = await logOf('/retry/exhausted?fail=10')
    assert.equal(line.flags, 'URX')
    await waitForStat(envoy, 'cluster.retry.upstream_rq_retry', (v) => v === retriesBefore + 2)
    assert.equal(await stat('cluster.retry.upstream_rq_retry_limit_exceeded'), 1)
  })

  it('connect-failure retries land on the other host', T, async () => {
    for (let i = 0; i < 4; i++) {
      const r = await send(port, `/connect-failure/${i}`)
      assert.equal(r.status, 200, `request ${i}: ${r.body}`)
    }
    // Round robin over [dead, live]: at least every other first try hits the dead host.
    assert.ok(await stat('cluster.two_hosts.upstream_rq_retry') >= 2)
    assert.ok(await stat('cluster.two_hosts.upstream_cx_connect_fail') >= 2)
    assert.equal(await stat('cluster.two_hosts.upstream_rq_retry_success'), await stat('cluster.two_hosts.upstream_rq_retry'))
  })

  it('per_try_timeout: a hung first try is abandoned and retried', T, async () => {
    const started = Date.now()
    const r = await send(port, '/per-try/1?hangfirst=1')
    const waited = Date.now() - started
    assert.equal(r.status, 200)
    assert.ok(waited >= 180 && waited < 3000, `answered after ${waited} ms`)
    assert.equal(attempts.get('/per-try/1?hangfirst=1'), 2)
    assert.equal(r.echo().headers['x-envoy-expected-rq-timeout-ms'], '200', 'the per-try timeout is what the upstream may expect')
    await waitForStat(envoy, 'cluster.per_try.upstream_rq_per_try_timeout', (v) => v === 1)
    assert.equal(await stat('cluster.per_try.upstream_rq_retry'), 1)
    assert.equal(await stat('cluster.per_try.upstream_rq_timeout'), 0)
    // When every try hangs, the last per-try timeout ends the request: 504, UT.
    const all = await send(port, '/per-try/2?hang=1')
    assert.equal(all.status, 504)
    assert.equal(all.body, 'upstream request timeout')
    assert.equal(attempts.get('/per-try/2?hang=1'), 2)
    assert.match(String((await logOf('/per-try/2?hang=1')).flags), /\bUT\b/)
    await waitForStat(envoy, 'cluster.per_try.upstream_rq_per_try_timeout', (v) => v === 3)
  })

  it('x-envoy-retry-on / x-envoy-max-retries are honoured from an internal client', T, async () => {
    // A peer listed in internal_address_config that sent no XFF is internal under use_remote_address.
    const r = await send(edgePort, '/hdr/internal?fail=2', { headers: { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '2' } })
    assert.equal(r.status, 200)
    assert.equal(r.echo().headers['x-envoy-internal'], 'true')
    assert.equal(attempts.get('/hdr/internal?fail=2'), 3)
    await waitForStat(envoy, 'cluster.header_retry.upstream_rq_retry', (v) => v === 2)
  })

  it('... and stripped from an external one (a client-supplied XFF makes it external)', T, async () => {
    const r = await send(edgePort, '/hdr/external?fail=2', {
      headers: { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '2', 'x-forwarded-for': '203.0.113.9' },
    })
    assert.equal(r.status, 503, 'no retry: the first failure is the answer')
    assert.equal(r.body, 'upstream failure 1')
    assert.equal(attempts.get('/hdr/external?fail=2'), 1)
    const seen = upstream.seen.find((s) => s.path === '/hdr/external?fail=2')!
    assert.equal(seen.headers['x-envoy-retry-on'], undefined)
    assert.equal(seen.headers['x-envoy-max-retries'], undefined)
    assert.equal(seen.headers['x-envoy-external-address'], '127.0.0.1')
    assert.equal(await stat('cluster.header_retry.upstream_rq_retry'), 2, 'unchanged')
  })

  it('circuit breaker max_pending_requests: the request over the limit is 503 UO', T, async () => {
    // The first request waits for a connection that cannot be made; the second overflows.
    const first = send(port, '/cb-pending/1')
    await waitForStat(envoy, 'cluster.cb_pending.upstream_rq_pending_active', (v) => v === 1)
    const second = await send(port, '/cb-pending/2')
    assert.equal(second.status, 503)
    assert.equal(second.body, `${RESET_PREFIX}overflow`)
    assert.equal((await logOf('/cb-pending/2')).flags, 'UO')
    assert.equal(await stat('cluster.cb_pending.upstream_rq_pending_overflow'), 1)
    const r1 = await first
    assert.equal(r1.status, 503)
    assert.equal(r1.body, `${RESET_PREFIX}connection timeout`)
  })

  it('circuit breaker max_requests: 503 UO while one request is active', T, async () => {
    const first = send(port, '/cb-requests/1?delay=1000')
    await upstream.waitForRequests(upstream.requestCount + 1)
    const second = await send(port, '/cb-requests/2')
    assert.equal(second.status, 503)
    assert.equal(second.body, `${RESET_PREFIX}overflow`)
    assert.equal((await logOf('/cb-requests/2')).flags, 'UO')
    assert.equal(await stat('cluster.cb_requests.upstream_rq_pending_overflow'), 1)
    assert.equal(await stat('cluster.cb_requests.circuit_breakers.default.rq_open'), 1)
    assert.equal((await first).status, 200)
  })

  it('circuit breaker max_connections: over it, requests queue for a connection; over max_pending_requests, 503 UO', T, async () => {
    // Envoy's HTTP/1 pool does not fail a request it cannot open a connection for: it queues it
    // (upstream_cx_overflow) until a connection is free; only the pending limit fails requests.
    const first = send(port, '/cb-queue/1?delay=1500')
    await upstream.waitForRequests(upstream.requestCount + 1)
    const second = send(port, '/cb-queue/2')
    await waitForStat(envoy, 'cluster.cb_queue.upstream_cx_overflow', (v) => v >= 1)
    await waitForStat(envoy, 'cluster.cb_queue.upstream_rq_pending_active', (v) => v === 1)
    const third = await send(port, '/cb-queue/3')
    assert.equal(third.status, 503)
    assert.equal(third.body, `${RESET_PREFIX}overflow`)
    assert.equal((await logOf('/cb-queue/3')).flags, 'UO')
    assert.equal(await stat('cluster.cb_queue.upstream_rq_pending_overflow'), 1)
    const [r1, r2] = await Promise.all([first, second])
    assert.equal(r1.status, 200)
    assert.equal(r2.status, 200, `the queued request is served once the connection is free: ${r2.body}`)
    assert.equal(r1.echo().remotePort, r2.echo().remotePort, 'on the one connection allowed')
    assert.equal(await stat('cluster.cb_queue.upstream_cx_total'), 1)
  })

  it('circuit breaker max_retries: a retry over the limit is not made (upstream_rq_retry_overflow, UO)', T, async () => {
    // A: its first try fails, its retry hangs for a while, holding the only retry slot.
    const a = send(port, '/cb-retries/a?fail=1&delay=1500')
    await waitForStat(envoy, 'cluster.cb_retries.upstream_rq_retry', (v) => v === 1)
    // B: fails once too; its retry would be a second parallel one.
    const b = await send(port, '/cb-retries/b?fail=1')
    assert.equal(b.status, 503)
    assert.equal(b.body, 'upstream failure 1')
    assert.equal(attempts.get('/cb-retries/b?fail=1'), 1)
    assert.equal(await stat('cluster.cb_retries.upstream_rq_retry_overflow'), 1)
    assert.equal((await logOf('/cb-retries/b?fail=1')).flags, 'UO')
    assert.equal((await a).status, 200)
  })

  it('an upstream reset after the response headers resets the downstream connection', T, async () => {
    const conn = await RawHttpConnection.open(port)
    conn.write('GET /reset-after?reset=after HTTP/1.1\r\nHost: x\r\n\r\n')
    await assert.rejects(within(conn.readResponse(), 5000, 'response'), /closed after \d+ of 1000 body bytes/)
    await within(conn.closed, 3000, 'downstream close')
    const line = await logOf('/reset-after?reset=after')
    assert.equal(line.code, 200, 'the status line had gone out')
    assert.equal(line.flags, 'UC')
    await waitForStat(envoy, 'http.fail.downstream_rq_tx_reset', (v) => v >= 1)
  })
})
