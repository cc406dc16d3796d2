import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import {
  type HttpUpstream, type Json, RawHttpConnection, cluster, hcmBootstrap, hcmListener, send, startHttpUpstream, within,
} from './helpers/http-upstream.js'
import { listenerPort, startUpstream, statValue, type Upstream } from './helpers/tcp.js'

/**
 * Timeouts longer than one Node timer (2^31-1 ms, 24.8 days) wait as long as they say (issue 18,
 * defect 6): before, a route `timeout: 2592000s` failed after 8 ms, `stream_idle_timeout:
 * 2592000s` gave 408 after 8 ms, and Node printed TimeoutOverflowWarning. Every timeout here is
 * 30 days; the upstream answers after 200 ms, so any of them firing early shows as an error.
 */

const T = { timeout: 20_000 }
const HOOK = { timeout: 30_000 }
const MONTH = '2592000s'
const UPSTREAM_DELAY_MS = 200

let envoy: EnvoyProcess
let upstream: HttpUpstream
let tcpUpstream: Upstream
const ports: Record<string, number> = {}

function config(httpPort: number, tcpPort: number): string {
  const longHcm: Json = {
    stream_idle_timeout: MONTH,
    request_timeout: MONTH,
    request_headers_timeout: MONTH,
    drain_timeout: MONTH,
    delayed_close_timeout: MONTH,
    common_http_protocol_options: { idle_timeout: MONTH, max_connection_duration: MONTH, max_stream_duration: MONTH },
  }
  const routes = [{
    match: { prefix: '/' },
    route: {
      cluster: 'backend',
      timeout: MONTH,
      retry_policy: { retry_on: 'reset', num_retries: 1, per_try_timeout: MONTH },
    },
  }]
  return hcmBootstrap({
    name: 'long',
    statPrefix: 'long',
    hcm: longHcm,
    virtualHosts: [{ name: 'all', domains: ['*'], routes }],
    extraListeners: [
      hcmListener({ name: 'idle_only', statPrefix: 'idle_only', hcm: { stream_idle_timeout: MONTH } }),
      tcpListener(),
    ],
    clusters: [
      cluster('backend', {
        endpoints: [httpPort],
        connectTimeout: MONTH,
        extra: {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              common_http_protocol_options: { idle_timeout: MONTH },
              explicit_http_config: { http_protocol_options: {} },
            },
          },
          health_checks: [{
            timeout: MONTH,
            interval: MONTH,
            unhealthy_threshold: 1,
            healthy_threshold: 1,
            http_health_check: { path: '/healthz' },
          }],
          outlier_detection: { interval: MONTH, base_ejection_time: MONTH },
        },
      }),
      cluster('tcp_backend', { endpoints: [tcpPort], connectTimeout: MONTH }),
    ],
  })
}

/** A TCP proxy listener with 30-day idle and duration limits. */
function tcpListener(): Json {
  return {
    name: 'tcp_long',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
          stat_prefix: 'tcp_long',
          cluster: 'tcp_backend',
          idle_timeout: MONTH,
          max_downstream_connection_duration: MONTH,
          access_log_options: { access_log_flush_interval: MONTH },
        },
      }],
    }],
  }
}

describe('timeouts longer than 24.8 days', () => {
  before(async () => {
    upstream = await startHttpUpstream({ behavior: () => ({ kind: 'echo', delayMs: UPSTREAM_DELAY_MS }) })
    tcpUpstream = await startUpstream({ echo: true })
    envoy = await startEnvoy({ config: config(upstream.port, tcpUpstream.port) })
    for (const l of ['long', 'idle_only', 'tcp_long']) ports[l] = await listenerPort(envoy, l)
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    await upstream?.close()
    tcpUpstream?.close()
  }, HOOK)

  it('a 30-day route timeout, per-try timeout and HCM timeouts do not fire: 200 after the upstream\'s delay', T, async () => {
    const r = await within(send(ports.long!, '/month'), 5000, 'the answer')
    assert.equal(r.status, 200, r.body)
    assert.equal(r.echo().path, '/month')
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_rq_timeout'), 0)
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_rq_per_try_timeout'), 0)
  })

  it('stream_idle_timeout: 2592000s alone does not answer 408', T, async () => {
    const r = await within(send(ports.idle_only!, '/idle'), 5000, 'the answer')
    assert.equal(r.status, 200, r.body)
    assert.equal(await statValue(envoy, 'http.idle_only.downstream_rq_idle_timeout'), 0)
  })

  it('a kept-alive connection with 30-day idle and max-duration timers serves a second request', T, async () => {
    const conn = await RawHttpConnection.open(ports.long!)
    const get = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: long.test\r\n\r\n`
    assert.equal((await within(conn.roundTrip(get('/ka/1')), 5000, 'first')).status, 200)
    assert.equal((await within(conn.roundTrip(get('/ka/2')), 5000, 'second')).status, 200)
    assert.equal(conn.peerClosed, false, 'neither idle_timeout nor max_connection_duration closed it')
    conn.destroy()
    assert.equal(await statValue(envoy, 'http.long.downstream_cx_idle_timeout'), 0)
    assert.equal(await statValue(envoy, 'http.long.downstream_cx_max_duration_reached'), 0)
  })

  it('a TCP proxy connection with a 30-day idle timeout and max duration stays open and echoes', T, async () => {
    const s = net.connect({ port: ports.tcp_long!, host: '127.0.0.1' })
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
    let got = ''
    s.setEncoding('utf8').on('data', (d: string) => { got += d })
    s.write('ping')
    await within(new Promise<void>((resolve) => {
      const check = (): void => { if (got === 'ping') resolve(); else s.once('data', check) }
      check()
    }), 5000, 'the echo')
    assert.equal(s.destroyed, false)
    assert.equal(s.readyState, 'open')
    s.destroy()
    assert.equal(await statValue(envoy, 'tcp.tcp_long.idle_timeout'), 0)
  })

  it('health checks with a 30-day interval and timeout run once, not in a loop', T, async () => {
    // The first check runs at start-up; the next one is due in 30 days.
    const checks = (): number => upstream.seen.filter((s) => s.path === '/healthz').length
    assert.ok(checks() <= 1, `health checks seen: ${checks()}`)
    // Some traffic and a turn of every timer wheel later, still at most one.
    await within(send(ports.long!, '/after'), 5000, 'the answer')
    assert.ok(checks() <= 1, `health checks seen: ${checks()}`)
  })

  it('no TimeoutOverflowWarning on stderr', T, () => {
    assert.doesNotMatch(envoy.stderr, /TimeoutOverflowWarning/)
  })
})
