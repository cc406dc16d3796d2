import assert from 'node:assert/strict'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { runEnvoy, startEnvoy, writeTemp } from './helpers/envoy-process.js'
import {
  closed, connect, listenerPort, readBytes, roundTrip, startUpstream, statValue, statsMap, tcpProxyConfig, waitForStat,
} from './helpers/tcp.js'

const THROWING = fileURLToPath(new URL('./fixtures/throwing-filter.js', import.meta.url))

const ECHO_LISTENER = (extra = '', name = 'echo'): string => `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: ${name}
    stat_prefix: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${extra}
    filter_chains:
    - filters:
      - name: envoy.filters.network.echo
        typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.echo.v3.Echo }
`

async function perWorker(envoy: Awaited<ReturnType<typeof startEnvoy>>, listener: string, workers: number): Promise<number[]> {
  const stats = await statsMap(envoy, `^listener\\.${listener}\\.worker_\\d+\\.downstream_cx_total$`)
  return Array.from({ length: workers }, (_, i) => stats.get(`listener.${listener}.worker_${i}.downstream_cx_total`) ?? 0)
}

describe('listeners on N workers', () => {
  for (const [mode, extra] of [
    ['reuse_port (default)', ''],
    ['shared handle', '    enable_reuse_port: false'],
  ] as const) {
    it(`${mode}: with --concurrency 4 every worker accepts connections`, async () => {
      const envoy = await startEnvoy({ config: ECHO_LISTENER(extra), args: ['--concurrency', '4'] })
      const port = await listenerPort(envoy, 'echo')
      let counts = await perWorker(envoy, 'echo', 4)
      // Which worker wins a connection is up to the kernel; keep connecting (bounded) until each has some.
      for (let round = 0; round < 30 && counts.some((c) => c === 0); round++) {
        const results = await Promise.all(Array.from({ length: 64 }, (_, i) => roundTrip(port, `ping${i}`)))
        results.forEach((r, i) => assert.equal(r.data.toString(), `ping${i}`))
        counts = await perWorker(envoy, 'echo', 4)
      }
      assert.ok(counts.every((c) => c > 0), `per-worker accepts: ${counts.join(', ')}`)
      const total = counts.reduce((a, b) => a + b, 0)
      assert.equal(await statValue(envoy, 'listener.echo.downstream_cx_total'), total)
      await envoy.stop()
    })
  }

  it('exact_balance: main hands each connection to the least loaded worker', async () => {
    const envoy = await startEnvoy({ config: ECHO_LISTENER('    connection_balance_config: { exact_balance: {} }'), args: ['--concurrency', '4'] })
    const port = await listenerPort(envoy, 'echo')
    const held: net.Socket[] = []
    for (let i = 0; i < 8; i++) {
      const s = await connect(port)
      s.write(`hi${i}`)
      assert.equal((await readBytes(s, `hi${i}`.length)).toString(), `hi${i}`)
      held.push(s)
    }
    assert.deepEqual(await perWorker(envoy, 'echo', 4), [2, 2, 2, 2])
    for (const s of held) s.destroy()
    await envoy.stop()
  })

  it('counters written on 4 workers add up exactly', async () => {
    const upstream = await startUpstream()
    const envoy = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [upstream.port] }), args: ['--concurrency', '4'] })
    const port = await listenerPort(envoy, 'tcp_in')
    const n = 400
    for (let batch = 0; batch < n / 50; batch++) {
      await Promise.all(Array.from({ length: 50 }, () => roundTrip(port, 'x')))
    }
    await waitForStat(envoy, 'listener.tcp_in.downstream_cx_destroy', (v) => v === n)
    assert.equal(await statValue(envoy, 'tcp.tcp_in.downstream_cx_total'), n)
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_cx_total'), n)
    assert.equal(await statValue(envoy, 'listener.tcp_in.downstream_cx_total'), n)
    assert.equal((await perWorker(envoy, 'tcp_in', 4)).reduce((a, b) => a + b, 0), n)
    assert.equal(await statValue(envoy, 'tcp.tcp_in.downstream_cx_rx_bytes_total'), n)
    assert.equal(upstream.accepted, n)
    await envoy.stop()
    await upstream.close()
  })

  it('port 0 binds a real port that /listeners reports', async () => {
    const envoy = await startEnvoy({ config: ECHO_LISTENER() })
    const port = await listenerPort(envoy, 'echo')
    assert.ok(port > 0)
    assert.equal((await roundTrip(port, 'abc')).data.toString(), 'abc')
    await envoy.stop()
  })

  it('a bind error stops start-up with the listener name and address, exit 1', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as net.AddressInfo).port
    const cfg = ECHO_LISTENER('    enable_reuse_port: false').replace(/port_value: 0 } }\n\s*\n/, '').replace(`stat_prefix: echo\n    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }`, `stat_prefix: echo\n    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }`)
    const r = await runEnvoy(['-c', writeTemp('b.yaml', cfg), '--concurrency', '1'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`cannot bind listener 'echo' to 127\\.0\\.0\\.1:${port}: EADDRINUSE`))
    blocker.close()
  })

  it('a connection matching no filter chain is closed and counted', async () => {
    const envoy = await startEnvoy({
      config: ECHO_LISTENER().replace('    - filters:', '    - filter_chain_match: { source_prefix_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }] }\n      filters:'),
    })
    const port = await listenerPort(envoy, 'echo')
    const r = await roundTrip(port, 'hello')
    assert.equal(r.data.length, 0)
    await waitForStat(envoy, 'listener.echo.no_filter_chain_match', (v) => v === 1)
    await envoy.stop()
  })

  it('a filter that throws closes its connection, is counted, and does not kill the worker', async () => {
    const cfg = ECHO_LISTENER().replace('      - name: envoy.filters.network.echo', '      - name: test.throw\n      - name: envoy.filters.network.echo')
    const envoy = await startEnvoy({ config: cfg, env: { ENVOY_TS_EXTENSION_MODULES: THROWING } })
    const port = await listenerPort(envoy, 'echo')
    const bad = await connect(port)
    bad.write('boom')
    await closed(bad)
    assert.equal(await statValue(envoy, 'listener.echo.downstream_cx_filter_exception'), 1)
    assert.equal(await statValue(envoy, 'server.envoy_bug_failures'), 1)
    // Same single worker, still serving.
    assert.equal((await roundTrip(port, 'fine')).data.toString(), 'fine')
    assert.equal(await statValue(envoy, 'server.worker_restarts'), 0)
    assert.ok(envoy.logs.some((l) => l.msg === 'filter threw; closing connection'))
    await envoy.stop()
  })
})
