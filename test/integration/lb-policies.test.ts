// Load-balancing policies end to end: a tcp_proxy listener in front of loopback upstreams that
// each greet with their own id (`h<i>|`), so every client connection learns which host it
// reached. One worker (--concurrency 1) unless stated, so one load balancer makes every pick.
import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import { type Upstream, listenerPort, readBytes, startUpstream, statValue, waitForStat } from './helpers/tcp.js'

const GREETING_LEN = 3 // "h<i>|"

interface Endpoint { port: number; weight?: number }
interface PriorityGroup { priority?: number; endpoints: Endpoint[] }

function clusterYaml(name: string, policy: string, groups: PriorityGroup[], extra = ''): string {
  const localities = groups.map((g) => {
    const eps = g.endpoints.map((e) => [
      `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${e.port} } } }`,
      ...(e.weight !== undefined ? [`          load_balancing_weight: ${e.weight}`] : []),
    ].join('\n')).join('\n')
    return `      - ${g.priority !== undefined ? `priority: ${g.priority}\n        ` : ''}lb_endpoints:\n${eps}`
  }).join('\n')
  return `
  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    lb_policy: ${policy}
${extra}
    load_assignment:
      cluster_name: ${name}
      endpoints:
${localities}`
}

/** One tcp_proxy listener (`tcp_in`); `route` is its `cluster:` or `weighted_clusters:` line(s). */
function bootstrap(o: { clusters: string[]; route?: string; tcpProxyExtra?: string }): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: tcp_in
    stat_prefix: tcp_in
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp_in
          ${o.route ?? 'cluster: backend'}
${o.tcpProxyExtra ?? ''}
  clusters:${o.clusters.join('')}
`
}

/** `n` greeting upstreams, closed when the test ends. */
async function upstreams(t: TestContext, n: number): Promise<Upstream[]> {
  const ups = await Promise.all(Array.from({ length: n }, (_, i) => startUpstream({ greeting: `h${i}|` })))
  t.after(() => Promise.all(ups.map((u) => u.close())))
  return ups
}

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
  return { envoy, port: await listenerPort(envoy, 'tcp_in'), held }
}

/** Connects (from `localAddress` if given) and reads the greeting: which host the proxy picked. */
async function open(port: number, localAddress?: string): Promise<{ host: number; socket: net.Socket }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', ...(localAddress !== undefined ? { localAddress } : {}) })
    s.once('connect', () => {
      s.off('error', reject)
      s.on('error', () => {})
      resolve(s)
    })
    s.once('error', reject)
  })
  const greeting = (await readBytes(socket, GREETING_LEN)).toString()
  const m = /^h(\d)\|$/.exec(greeting)
  assert.ok(m !== null, `unexpected greeting ${JSON.stringify(greeting)}`)
  return { host: Number(m[1]), socket }
}

async function pick(port: number, localAddress?: string): Promise<number> {
  const { host, socket } = await open(port, localAddress)
  socket.destroy()
  return host
}

/** Makes `n` connections (in parallel batches), returns how many reached each of `hosts` hosts. */
async function distribution(port: number, n: number, hosts: number, localAddress?: (i: number) => string): Promise<number[]> {
  const counts = new Array<number>(hosts).fill(0)
  const batch = 50
  for (let start = 0; start < n; start += batch) {
    const picks = await Promise.all(Array.from({ length: Math.min(batch, n - start) }, (_, k) => pick(port, localAddress?.(start + k))))
    for (const h of picks) counts[h]!++
  }
  return counts
}

/**
 * Opens `n` connections one after another and keeps them open (the proxy sees each one active
 * before the next); adds them to `held` and, by host, to `byHost`. Returns the count per host.
 */
async function hold(port: number, n: number, held: net.Socket[], byHost: net.Socket[][] = [[], [], []]): Promise<number[]> {
  const counts = new Array<number>(3).fill(0)
  for (let i = 0; i < n; i++) {
    const c = await open(port)
    held.push(c.socket)
    byHost[c.host]!.push(c.socket)
    counts[c.host]!++
  }
  return counts
}

const sourceIp = (i: number): string => `127.0.0.${(i % 60) + 1}`

describe('load-balancing policies through tcp_proxy', () => {
  it('ROUND_ROBIN with equal weights gives every host exactly its share', async (t) => {
    const ups = await upstreams(t, 3)
    const { envoy, port } = await envoyFor(t, bootstrap({ clusters: [clusterYaml('backend', 'ROUND_ROBIN', [{ endpoints: ups }])] }))
    assert.deepEqual(await distribution(port, 300, 3), [100, 100, 100])
    assert.deepEqual(ups.map((u) => u.accepted), [100, 100, 100])
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_cx_total'), 300)
  })

  it('ROUND_ROBIN with load_balancing_weight 1:2:3 follows the weights (EDF)', async (t) => {
    const ups = await upstreams(t, 3)
    const eps = ups.map((u, i) => ({ port: u.port, weight: i + 1 }))
    const { port } = await envoyFor(t, bootstrap({ clusters: [clusterYaml('backend', 'ROUND_ROBIN', [{ endpoints: eps }])] }))
    const counts = await distribution(port, 600, 3)
    ;[100, 200, 300].forEach((want, i) => assert.ok(Math.abs(counts[i]! - want) <= 2, `host ${i}: ${counts[i]} of 600, want ${want} ± 2 (${counts.join(', ')})`))
  })

  it('LEAST_REQUEST (choice_count 2) keeps held connections close to balanced', async (t) => {
    const ups = await upstreams(t, 3)
    const { port, held } = await envoyFor(t, bootstrap({ clusters: [clusterYaml('backend', 'LEAST_REQUEST', [{ endpoints: ups }])] }))
    const counts = await hold(port, 60, held)
    // Two random choices (with replacement) over three hosts: a spread above 12 happens about
    // once in a million runs; RANDOM would exceed it in about one run out of six.
    const spread = Math.max(...counts) - Math.min(...counts)
    assert.ok(spread <= 12, `held connections per host: ${counts.join(', ')}`)
    assert.equal(counts.reduce((a, b) => a + b, 0), 60)
  })

  it('LEAST_REQUEST with choice_count 3 scans every host: exact balance, and a busy host gets nothing while others are idle', async (t) => {
    const ups = await upstreams(t, 3)
    const { envoy, port, held } = await envoyFor(t, bootstrap({
      clusters: [clusterYaml('backend', 'LEAST_REQUEST', [{ endpoints: ups }], '    least_request_lb_config: { choice_count: 3 }')],
    }))
    const byHost: net.Socket[][] = [[], [], []]
    assert.deepEqual(await hold(port, 60, held, byHost), [20, 20, 20])
    // Hosts 1 and 2 go idle; host 0 keeps its 20.
    for (const s of [...byHost[1]!, ...byHost[2]!]) s.destroy()
    await waitForStat(envoy, 'cluster.backend.upstream_rq_active', (v) => v === 20)
    assert.deepEqual(await hold(port, 40, held), [0, 20, 20])
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_rq_active'), 60)
  })

  it('RANDOM spreads 600 connections with every host between 20% and 47%', async (t) => {
    const ups = await upstreams(t, 3)
    const { port } = await envoyFor(t, bootstrap({ clusters: [clusterYaml('backend', 'RANDOM', [{ endpoints: ups }])] }))
    const counts = await distribution(port, 600, 3)
    // Binomial(600, 1/3): 120 and 282 are each about 7 standard deviations from the mean of 200.
    assert.ok(counts.every((c) => c >= 120 && c <= 282), `per host: ${counts.join(', ')}`)
  })

  for (const policy of ['RING_HASH', 'MAGLEV']) {
    it(`${policy} with hash_policy source_ip: one source IP sticks to one host, many IPs use all hosts`, async (t) => {
      const ups = await upstreams(t, 3)
      const { port } = await envoyFor(t, bootstrap({
        clusters: [clusterYaml('backend', policy, [{ endpoints: ups }])],
        tcpProxyExtra: '          hash_policy: [{ source_ip: {} }]',
      }))
      // 60 source IPs (127.0.0.1 … 127.0.0.60), three connections each.
      const byIp = new Map<string, Set<number>>()
      for (let round = 0; round < 3; round++) {
        const picks = await Promise.all(Array.from({ length: 60 }, (_, i) => pick(port, sourceIp(i)).then((h) => [sourceIp(i), h] as const)))
        for (const [ip, h] of picks) byIp.set(ip, (byIp.get(ip) ?? new Set()).add(h))
      }
      const unstable = [...byIp].filter(([, hosts]) => hosts.size !== 1).map(([ip, hosts]) => `${ip} → ${[...hosts].join('/')}`)
      assert.deepEqual(unstable, [], 'every source IP always reaches the same host')
      const perHost = [0, 1, 2].map((h) => [...byIp.values()].filter((s) => s.has(h)).length)
      // Each host owns about a third of the hash space; all 60 IPs missing one host is ~(2/3)^60.
      assert.ok(perHost.every((n) => n > 0), `source IPs per host: ${perHost.join(', ')}`)
    })

    it(`${policy} without a hash key picks at random`, async (t) => {
      const ups = await upstreams(t, 3)
      const { port } = await envoyFor(t, bootstrap({ clusters: [clusterYaml('backend', policy, [{ endpoints: ups }])] }))
      // Every connection comes from 127.0.0.1: with a key they would all land on one host.
      const counts = await distribution(port, 90, 3)
      assert.ok(counts.every((c) => c > 0), `per host: ${counts.join(', ')}`)
    })
  }

  it('priorities: all traffic goes to priority 0 while it has healthy hosts', async (t) => {
    const ups = await upstreams(t, 3)
    const { port } = await envoyFor(t, bootstrap({
      clusters: [clusterYaml('backend', 'ROUND_ROBIN', [
        { endpoints: [ups[0]!, ups[1]!] },
        { priority: 1, endpoints: [ups[2]!] },
      ])],
    }))
    assert.deepEqual(await distribution(port, 100, 3), [50, 50, 0])
    assert.equal(ups[2]!.accepted, 0)
  })

  it('weighted_clusters 1:3 split connections between two clusters', async (t) => {
    const ups = await upstreams(t, 2)
    const { envoy, port } = await envoyFor(t, bootstrap({
      clusters: [
        clusterYaml('light', 'ROUND_ROBIN', [{ endpoints: [ups[0]!] }]),
        clusterYaml('heavy', 'ROUND_ROBIN', [{ endpoints: [ups[1]!] }]),
      ],
      route: 'weighted_clusters: { clusters: [{ name: light, weight: 1 }, { name: heavy, weight: 3 }] }',
    }))
    const counts = await distribution(port, 400, 2)
    // Binomial(400, 1/4): mean 100, standard deviation 8.7; ±45 is more than 5 of them.
    assert.ok(Math.abs(counts[0]! - 100) <= 45, `light ${counts[0]}, heavy ${counts[1]}`)
    assert.equal(counts[0]! + counts[1]!, 400)
    assert.equal(await statValue(envoy, 'cluster.light.upstream_cx_total'), counts[0])
    assert.equal(await statValue(envoy, 'cluster.heavy.upstream_cx_total'), counts[1])
  })
})
