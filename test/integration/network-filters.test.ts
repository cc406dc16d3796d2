// The small network filters and the proxy_protocol listener filter, end to end through real
// loopback sockets: echo, connection_limit (across workers), local_ratelimit, proxy_protocol
// (v1, v2, errors, optional header, filter-chain matching on the PROXY source) and
// listener_filters_timeout.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import net from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import { type EnvoyProcess, type LogLine, startEnvoy } from './helpers/envoy-process.js'
import {
  closed, connect, listenerPort, readBytes, roundTrip, startUpstream, statValue, statsMap, waitForStat,
} from './helpers/tcp.js'

const ECHO = `
      - name: envoy.filters.network.echo
        typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.echo.v3.Echo }`

const TCP_PROXY_WITH_LOG = (cluster: string): string => `
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${cluster}
          cluster: ${cluster}
          access_log:
          - name: envoy.access_loggers.stderr
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog
              log_format:
                json_format: { remote: "%DOWNSTREAM_REMOTE_ADDRESS%", direct: "%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%", local: "%DOWNSTREAM_LOCAL_ADDRESS%" }`

const PROXY_PROTOCOL = (extra = ''): string => `
    listener_filters:
    - name: envoy.filters.listener.proxy_protocol
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol
        stat_prefix: pp
${extra}`

/** One listener `in` (stat prefix `in`) with `chains` (YAML list items) and optional clusters. */
function bootstrap(o: { chains: string; listenerExtra?: string; clusters?: Array<{ name: string; port: number }> }): string {
  const clusters = (o.clusters ?? []).map((c) => `
  - name: ${c.name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: ${c.name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${c.port} } } }`).join('')
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: in
    stat_prefix: in
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${o.listenerExtra ?? ''}
    filter_chains:
${o.chains}
${clusters !== '' ? `  clusters:${clusters}` : ''}
`
}

const chain = (filters: string, match = ''): string => `    - ${match !== '' ? `filter_chain_match: ${match}\n      ` : ''}filters:${filters}`

/**
 * Starts envoy-ts for test `t`; at the end of the test the client sockets in `held` are closed
 * first (SIGTERM drains: envoy-ts waits for open connections), then the process is stopped.
 */
async function envoyFor(t: TestContext, config: string, args: string[] = []): Promise<{ envoy: EnvoyProcess; port: number; held: net.Socket[] }> {
  const envoy = await startEnvoy({ config, args })
  const held: net.Socket[] = []
  t.after(async () => {
    for (const s of held) s.destroy()
    // A failed test may leave a connection we did not track; do not let the drain hang the run.
    const kill = setTimeout(() => envoy.child.kill('SIGKILL'), 5000)
    await envoy.stop()
    clearTimeout(kill)
  })
  return { envoy, port: await listenerPort(envoy, 'in'), held }
}

/** Connects, writes `data`, and resolves once it has come back (the connection stays open). */
async function echoed(port: number, data: string): Promise<net.Socket> {
  const s = await connect(port)
  s.on('error', () => {})
  s.write(data)
  assert.equal((await readBytes(s, data.length)).toString(), data)
  return s
}

/** Resolves with everything read until the peer's FIN (`'end'`). */
function readToEnd(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    s.once('end', () => resolve(Buffer.concat(chunks)))
    s.once('close', () => reject(new Error('closed without a FIN')))
  })
}

/** Resolves when the peer has closed its side: a FIN (`'end'`, our sockets allow half-open) or a reset. */
function peerClosed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.readableEnded || s.destroyed) resolve()
    s.once('end', () => resolve())
    s.once('close', () => resolve())
    s.resume()
  })
}

function v1Header(src: string, dst: string, sport: number, dport: number): string {
  return `PROXY TCP4 ${src} ${dst} ${sport} ${dport}\r\n`
}

/** A PROXY protocol v2 header: PROXY command, TCP over IPv4. */
function v2Header(src: string, dst: string, sport: number, dport: number): Buffer {
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
  const addresses = Buffer.alloc(12)
  src.split('.').forEach((o, i) => { addresses[i] = Number(o) })
  dst.split('.').forEach((o, i) => { addresses[4 + i] = Number(o) })
  addresses.writeUInt16BE(sport, 8)
  addresses.writeUInt16BE(dport, 10)
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, addresses.length]), addresses])
}

/** Sends `header` + `payload` on a new connection, reads the payload back, closes; returns the client's local port. */
async function throughProxyProtocol(port: number, header: string | Buffer, payload: string): Promise<number> {
  const s = await connect(port)
  s.write(Buffer.concat([Buffer.from(header), Buffer.from(payload)]))
  assert.equal((await readBytes(s, payload.length)).toString(), payload, 'the payload comes back without the header')
  const localPort = s.localPort!
  s.end()
  await closed(s)
  return localPort
}

describe('network filters', () => {
  it('echo: returns every byte, and answers a half-close with the rest and a FIN', async (t) => {
    const { envoy, port, held } = await envoyFor(t, bootstrap({ chains: chain(ECHO) }))
    const s = await echoed(port, 'ping')
    held.push(s)
    // 1 MiB both ways at once, byte-exact.
    const big = crypto.randomBytes(1024 * 1024)
    const back = readBytes(s, big.length)
    s.write(big)
    assert.ok((await back).equals(big), '1 MiB echoed byte-exact')
    // Half-close: the echo still writes what came before our FIN, then sends its own.
    const rest = readToEnd(s)
    s.end('last words')
    assert.equal((await rest).toString(), 'last words')
    await closed(s)
    await waitForStat(envoy, 'listener.in.downstream_cx_destroy', (v) => v === 1)
    assert.equal(await statValue(envoy, 'listener.in.downstream_cx_rx_bytes_total'), 4 + big.length + 10)
  })

  it('connection_limit: max_connections 2 holds across 4 workers, counts rejections, and frees a slot on close', async (t) => {
    const limit = `
      - name: envoy.filters.network.connection_limit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit
          stat_prefix: cl
          max_connections: 2`
    // exact_balance hands each connection to the least loaded worker, so the rejected ones land
    // on workers that hold none of the accepted ones: a per-worker count would let them in.
    const { envoy, port, held } = await envoyFor(t, bootstrap({
      chains: chain(limit + ECHO),
      listenerExtra: '    connection_balance_config: { exact_balance: {} }',
    }), ['--concurrency', '4'])
    held.push(await echoed(port, 'one'), await echoed(port, 'two'))
    const rejected = await Promise.all(Array.from({ length: 3 }, () => roundTrip(port, 'over')))
    assert.deepEqual(rejected.map((r) => r.data.length), [0, 0, 0], 'the 3rd to 5th connections are closed unanswered')
    assert.equal(await waitForStat(envoy, 'connection_limit.cl.limited_connections', (v) => v >= 3), 3)
    const perWorker = await statsMap(envoy, '^listener\\.in\\.worker_\\d+\\.downstream_cx_total$')
    const busyWorkers = [...perWorker.values()].filter((v) => v > 0).length
    assert.ok(busyWorkers >= 3, `connections reached ${busyWorkers} workers: ${JSON.stringify([...perWorker])}`)
    // The held ones still work; closing one frees a slot once the rejected ones are gone too.
    held[0]!.write('still')
    assert.equal((await readBytes(held[0]!, 5)).toString(), 'still')
    held.shift()!.destroy()
    await waitForStat(envoy, 'connection_limit.cl.active_connections', (v) => v === 1)
    held.push(await echoed(port, 'three'))
    assert.equal(await statValue(envoy, 'connection_limit.cl.limited_connections'), 3)
    assert.equal(await statValue(envoy, 'connection_limit.cl.active_connections'), 2)
  })

  it('local_ratelimit: max_tokens 2 lets two connections in and closes the third', async (t) => {
    const rl = `
      - name: envoy.filters.network.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
          stat_prefix: rl
          token_bucket: { max_tokens: 2, fill_interval: 3600s }`
    const { envoy, port } = await envoyFor(t, bootstrap({ chains: chain(rl + ECHO) }), ['--concurrency', '2'])
    assert.equal((await roundTrip(port, 'first')).data.toString(), 'first')
    assert.equal((await roundTrip(port, 'second')).data.toString(), 'second')
    assert.equal((await roundTrip(port, 'third')).data.length, 0)
    assert.equal(await waitForStat(envoy, 'local_rate_limit.rl.rate_limited', (v) => v >= 1), 1)
    assert.equal(await statValue(envoy, 'listener.in.downstream_cx_total'), 3)
  })

  describe('proxy_protocol listener filter', () => {
    it('v1 and v2 headers are stripped and become the downstream remote (and local) address', async (t) => {
      const upstream = await startUpstream()
      t.after(() => upstream.close())
      const { envoy, port } = await envoyFor(t, bootstrap({
        listenerExtra: PROXY_PROTOCOL(),
        chains: chain(TCP_PROXY_WITH_LOG('backend')),
        clusters: [{ name: 'backend', port: upstream.port }],
      }), ['--file-flush-interval-msec', '20'])
      const isAccessLog = (remote: string) => (l: LogLine): boolean => l.remote === remote
      const v1Port = await throughProxyProtocol(port, v1Header('10.1.2.3', '10.0.0.1', 5555, 80), 'hello over v1')
      const v1 = await envoy.waitForLog(isAccessLog('10.1.2.3:5555'))
      assert.deepEqual([v1.direct, v1.local], [`127.0.0.1:${v1Port}`, '10.0.0.1:80'])
      const v2Port = await throughProxyProtocol(port, v2Header('10.9.8.7', '10.0.0.2', 4444, 8080), 'hello over v2')
      const v2 = await envoy.waitForLog(isAccessLog('10.9.8.7:4444'))
      assert.deepEqual([v2.direct, v2.local], [`127.0.0.1:${v2Port}`, '10.0.0.2:8080'])
      assert.equal(await statValue(envoy, 'proxy_proto.pp.versions.v1.found'), 1)
      assert.equal(await statValue(envoy, 'proxy_proto.pp.versions.v2.found'), 1)
      assert.equal(await statValue(envoy, 'downstream_cx_proxy_proto_error'), 0)
    })

    it('a malformed header or none at all closes the connection and is counted', async (t) => {
      const { envoy, port } = await envoyFor(t, bootstrap({ listenerExtra: PROXY_PROTOCOL(), chains: chain(ECHO) }))
      const bad = await roundTrip(port, 'PROXY TCP4 not-an-ip 10.0.0.1 5555 80\r\nhello')
      assert.equal(bad.data.length, 0)
      const none = await roundTrip(port, 'GET / HTTP/1.1\r\n\r\n')
      assert.equal(none.data.length, 0)
      await waitForStat(envoy, 'listener.in.downstream_listener_filter_error', (v) => v === 2)
      assert.equal(await statValue(envoy, 'proxy_proto.pp.versions.v1.error'), 1)
      assert.equal(await statValue(envoy, 'proxy_proto.pp.not_found_disallowed'), 1)
      assert.equal(await statValue(envoy, 'downstream_cx_proxy_proto_error'), 2)
      assert.equal(await statValue(envoy, 'listener.in.downstream_cx_total'), 0, 'no connection reached a filter chain')
    })

    it('allow_requests_without_proxy_protocol lets a plain client through, and still strips a header', async (t) => {
      const { envoy, port } = await envoyFor(t, bootstrap({
        listenerExtra: PROXY_PROTOCOL('        allow_requests_without_proxy_protocol: true'),
        chains: chain(ECHO),
      }))
      assert.equal((await roundTrip(port, 'hello plain')).data.toString(), 'hello plain')
      assert.equal((await roundTrip(port, `${v1Header('10.1.2.3', '10.0.0.1', 5555, 80)}hello v1`)).data.toString(), 'hello v1')
      assert.equal(await statValue(envoy, 'proxy_proto.pp.not_found_allowed'), 1)
      assert.equal(await statValue(envoy, 'proxy_proto.pp.versions.v1.found'), 1)
    })

    it('filter chains match source_prefix_ranges against the PROXY source address', async (t) => {
      const upstream = await startUpstream({ greeting: 'upstream|' })
      t.after(() => upstream.close())
      const tcpProxy = `
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: other
          cluster: other`
      const { envoy, port } = await envoyFor(t, bootstrap({
        listenerExtra: PROXY_PROTOCOL(),
        chains: [chain(ECHO, '{ source_prefix_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }] }'), chain(tcpProxy)].join('\n'),
        clusters: [{ name: 'other', port: upstream.port }],
      }))
      // The real source is 127.0.0.1 every time; only the PROXY header differs.
      const ten = await roundTrip(port, `${v1Header('10.1.2.3', '10.0.0.1', 5555, 80)}abc`)
      assert.equal(ten.data.toString(), 'abc', '10.1.2.3 matches 10.0.0.0/8: echo')
      const other = await roundTrip(port, Buffer.concat([v2Header('192.168.1.1', '10.0.0.1', 5555, 80), Buffer.from('abc')]))
      assert.equal(other.data.toString(), 'upstream|abc', '192.168.1.1 takes the default chain: tcp_proxy')
      assert.equal(upstream.accepted, 1)
      assert.equal(await statValue(envoy, 'listener.in.no_filter_chain_match'), 0)
    })

    it('listener_filters_timeout closes a client that never sends and counts downstream_pre_cx_timeout', async (t) => {
      const { envoy, port, held } = await envoyFor(t, bootstrap({
        listenerExtra: `    listener_filters_timeout: 0.2s${PROXY_PROTOCOL()}`,
        chains: chain(ECHO),
      }))
      const started = Date.now()
      const s = await connect(port)
      held.push(s)
      s.on('error', () => {})
      await peerClosed(s)
      const waited = Date.now() - started
      assert.ok(waited >= 150 && waited < 3000, `closed after ${waited} ms`)
      assert.equal(await waitForStat(envoy, 'listener.in.downstream_pre_cx_timeout', (v) => v >= 1), 1)
      assert.equal(await statValue(envoy, 'listener.in.downstream_cx_total'), 0)
    })

    it('continue_on_listener_filters_timeout lets a silent client through after the timeout', async (t) => {
      const { envoy, port, held } = await envoyFor(t, bootstrap({
        listenerExtra: `    listener_filters_timeout: 0.2s\n    continue_on_listener_filters_timeout: true${PROXY_PROTOCOL('        allow_requests_without_proxy_protocol: false')}`,
        chains: chain(ECHO),
      }))
      const started = Date.now()
      const s = await connect(port)
      held.push(s)
      s.on('error', () => {})
      // The connection reaches its filter chain only once the listener filters time out.
      await waitForStat(envoy, 'listener.in.downstream_cx_total', (v) => v === 1)
      const waited = Date.now() - started
      assert.ok(waited >= 150, `handed over after ${waited} ms`)
      // Plain data now goes straight to echo (the proxy_protocol filter is out of the way).
      s.write('late but fine')
      assert.equal((await readBytes(s, 13)).toString(), 'late but fine')
      assert.equal(await statValue(envoy, 'listener.in.downstream_pre_cx_timeout'), 1)
      assert.equal(await statValue(envoy, 'proxy_proto.pp.not_found_disallowed'), 0)
    })
  })
})
