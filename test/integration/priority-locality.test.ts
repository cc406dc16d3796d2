// Priorities, the overprovisioning factor, panic mode and locality-weighted balancing end to end,
// with health checks deciding which hosts are healthy, and Envoy's locality-load-balancing
// example. Hosts that fail their health check keep serving traffic unless stopped, so a
// request reaching one shows the balancer chose it (panic) rather than a stale view.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it, type TestContext } from 'node:test'
import { type EnvoyProcess, runEnvoy, startEnvoy } from './helpers/envoy-process.js'
import {
  distribution, endpointsYaml, flagged, healthy, type HttpBackend, httpBackends, proxyBootstrap, sleep, waitForHost,
} from './helpers/backends.js'
import { listenerPort, statValue } from './helpers/tcp.js'

const EXAMPLE = '/work/shared/reference/envoy-configs/envoyproxy-examples/locality-load-balancing/envoy.yaml'

async function envoyFor(t: TestContext, config: string, args: string[] = []): Promise<{ envoy: EnvoyProcess; port: number }> {
  const envoy = await startEnvoy({ config, args: ['--concurrency', '2', ...args] })
  t.after(async () => {
    const kill = setTimeout(() => envoy.child.kill('SIGKILL'), 5000)
    await envoy.stop()
    clearTimeout(kill)
  })
  const names = ['http_in', 'backend']
  for (const n of names) {
    try {
      return { envoy, port: await listenerPort(envoy, n) }
    } catch { /* the example names its listener "backend" */ }
  }
  throw new Error('no listener')
}

function stopAll(t: TestContext, backends: HttpBackend[]): void {
  t.after(() => Promise.all(backends.map((b) => b.stop())))
}

/** A fast HTTP health check on /healthz. */
const HC = `
    health_checks:
    - { timeout: 0.2s, interval: 0.25s, no_traffic_interval: 0.25s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /healthz } }`

const share = (d: Map<string, number>, name: string, total: number): number => (100 * (d.get(name) ?? 0)) / total

describe('priorities', () => {
  it('shifts load to priority 1 as priority 0 loses health (overprovisioning 1.4), and back', async (t) => {
    const [a1, a2, b] = await httpBackends('a1', 'a2', 'b') as [HttpBackend, HttpBackend, HttpBackend]
    stopAll(t, [a1, a2, b])
    const { envoy, port } = await envoyFor(t, proxyBootstrap(`
  - name: backend
${HC}
    load_assignment:
      cluster_name: backend
      endpoints:
${endpointsYaml([{ ports: [a1.port, a2.port], priority: 0 }, { ports: [b.port], priority: 1 }])}`))
    const all = await distribution(port, 100)
    assert.equal(all.get('b') ?? 0, 0, 'a healthy priority 0 takes everything')

    // Half of P0 healthy: 1.4 × 50% = 70% stays on P0 (a1), 30% spills to P1.
    a2.healthStatus = 503
    await waitForHost(envoy, 'backend', a2.port, flagged('failed_active_hc'))
    await sleep(50)
    const half = await distribution(port, 1000, 50)
    assert.equal(half.get('a2') ?? 0, 0)
    assert.ok(Math.abs(share(half, 'b', 1000) - 30) <= 5, JSON.stringify([...half]))

    // Priority 0 down: everything on priority 1.
    await a1.stop()
    await a2.stop()
    await waitForHost(envoy, 'backend', a1.port, flagged('failed_active_hc'))
    await sleep(50)
    assert.deepEqual([...(await distribution(port, 50))], [['b', 50]])
    assert.equal(await statValue(envoy, 'cluster.backend.lb_healthy_panic'), 0, 'priority 1 is healthy: no panic')

    a2.healthStatus = 200
    await a1.start()
    await a2.start()
    await waitForHost(envoy, 'backend', a1.port, healthy)
    await waitForHost(envoy, 'backend', a2.port, healthy)
    await sleep(50)
    const back = await distribution(port, 100)
    assert.equal(back.get('b') ?? 0, 0, 'back on priority 0')
  })
})

describe('panic threshold', () => {
  it('below healthy_panic_threshold (50% by default) balances over every host, counting lb_healthy_panic', async (t) => {
    const backends = await httpBackends('h0', 'h1', 'h2', 'h3')
    stopAll(t, backends)
    for (const b of backends.slice(1)) b.healthStatus = 503
    const cluster = (extra: string): string => `
  - name: backend
${extra}${HC}
    load_assignment:
      cluster_name: backend
      endpoints:
${endpointsYaml([{ ports: backends.map((b) => b.port) }])}`
    const panic = await envoyFor(t, proxyBootstrap(cluster('')))
    for (const b of backends.slice(1)) await waitForHost(panic.envoy, 'backend', b.port, flagged('failed_active_hc'))
    const d = await distribution(panic.port, 200)
    assert.deepEqual([...d.keys()].sort(), ['h0', 'h1', 'h2', 'h3'], '25% healthy < 50%: all hosts take traffic')
    assert.ok(await statValue(panic.envoy, 'cluster.backend.lb_healthy_panic') >= 200)

    const calm = await envoyFor(t, proxyBootstrap(cluster('    common_lb_config: { healthy_panic_threshold: { value: 20 } }')))
    for (const b of backends.slice(1)) await waitForHost(calm.envoy, 'backend', b.port, flagged('failed_active_hc'))
    assert.deepEqual([...(await distribution(calm.port, 100))], [['h0', 100]], '25% ≥ 20%: only the healthy host')
    assert.equal(await statValue(calm.envoy, 'cluster.backend.lb_healthy_panic'), 0)
  })
})

describe('locality-weighted load balancing', () => {
  it('splits traffic by locality load_balancing_weight within 5% over 2,000 requests', async (t) => {
    const [x, y, z] = await httpBackends('x', 'y', 'z') as [HttpBackend, HttpBackend, HttpBackend]
    stopAll(t, [x, y, z])
    const { envoy, port } = await envoyFor(t, proxyBootstrap(`
  - name: backend
    common_lb_config: { locality_weighted_lb_config: {} }
    load_assignment:
      cluster_name: backend
      endpoints:
${endpointsYaml([{ ports: [x.port], zone: 'z1', weight: 1 }, { ports: [y.port, z.port], zone: 'z2', weight: 3 }])}`))
    const d = await distribution(port, 2000, 50)
    assert.ok(Math.abs(share(d, 'x', 2000) - 25) <= 5, JSON.stringify([...d]))
    assert.ok(Math.abs(share(d, 'y', 2000) + share(d, 'z', 2000) - 75) <= 5, JSON.stringify([...d]))
    const clusters = (await fetch(`${envoy.adminUrl}/clusters`).then((r) => r.text())).split('\n')
    assert.ok(clusters.includes(`backend::127.0.0.1:${x.port}::zone::z1`))
    assert.ok(clusters.includes(`backend::127.0.0.1:${y.port}::region::r`))
  })
})

describe("Envoy's locality-load-balancing example", () => {
  it('validates unmodified', async () => {
    const r = await runEnvoy(['-c', EXAMPLE, '--mode', 'validate'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /OK/)
  })

  it('serves, failing over across priorities, when its hostnames resolve locally', async (t) => {
    const names = ['backend-local-1', 'backend-local-2', 'backend-remote-1', 'backend-remote-2']
    const backends = await httpBackends(...names)
    stopAll(t, backends)
    // The example's backends are compose service names on port 8080, which do not resolve here.
    // Only these are rewritten, by text replacement: each `address: <name>` with its
    // `port_value: 8080` and its `health_check_config.port_value: 8080` becomes 127.0.0.1 and a
    // loopback port of ours; the admin (0.0.0.0:8001) and listener (0.0.0.0:3000) addresses move
    // to 127.0.0.1 port 0. Everything else, including `hostname:` and the health check, is as shipped.
    let text = fs.readFileSync(EXAMPLE, 'utf8')
    backends.forEach((b, i) => {
      const before = text
      text = text.replace(new RegExp(`address: ${names[i]}\\n(\\s+)port_value: 8080\\n(\\s+)health_check_config:\\n(\\s+)port_value: 8080`),
        `address: 127.0.0.1\n$1port_value: ${b.port}\n$2health_check_config:\n$3port_value: ${b.port}`)
      assert.notEqual(text, before, `rewrote ${names[i]}`)
    })
    text = text.replace(/address: 0\.0\.0\.0\n(\s+)port_value: (8001|3000)/g, 'address: 127.0.0.1\n$1port_value: 0')
    const { envoy, port } = await envoyFor(t, text)
    assert.deepEqual([...(await distribution(port, 40))], [['backend-local-1', 40]], 'priority 0 takes everything')

    const [local1, local2, remote1] = backends as [HttpBackend, HttpBackend, HttpBackend]
    await local1.stop()
    // interval 2s (4s before any traffic), unhealthy_threshold 1.
    await waitForHost(envoy, 'backend', local1.port, flagged('failed_active_hc'), 15_000)
    await sleep(50)
    const p1 = await distribution(port, 400, 50)
    assert.equal(p1.get('backend-local-1') ?? 0, 0)
    // Priority 1 holds two localities of weight 1.
    assert.ok(Math.abs(share(p1, 'backend-local-2', 400) - 50) <= 10, JSON.stringify([...p1]))
    assert.ok((p1.get('backend-remote-1') ?? 0) > 0)

    await local2.stop()
    await remote1.stop()
    await waitForHost(envoy, 'backend', local2.port, flagged('failed_active_hc'), 15_000)
    await waitForHost(envoy, 'backend', remote1.port, flagged('failed_active_hc'), 15_000)
    await sleep(50)
    assert.deepEqual([...(await distribution(port, 40))], [['backend-remote-2', 40]], 'down to priority 2')

    await local1.start()
    await waitForHost(envoy, 'backend', local1.port, healthy, 15_000)
    await sleep(50)
    assert.deepEqual([...(await distribution(port, 40))], [['backend-local-1', 40]], 'back on priority 0')
  })
})
