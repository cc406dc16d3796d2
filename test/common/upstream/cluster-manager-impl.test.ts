import assert from 'node:assert/strict'
import dns from 'node:dns'
import { afterEach, describe, it } from 'node:test'
import pino from 'pino'
import { MessageValidator } from '../../../source/common/protobuf/message-validator.js'
import { loadSchema } from '../../../source/common/protobuf/schema.js'
import type { Bootstrap } from '../../../source/common/protobuf/generated/envoy/config/bootstrap/v3.js'
import { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import {
  checkClusters, ClusterManagerImpl, type DnsLookup, type ResolvedAddress,
} from '../../../source/common/upstream/cluster-manager-impl.js'
import { HealthFlag } from '../../../source/envoy/upstream/host.js'
import type { ClusterSnapshot } from '../../../source/envoy/upstream/cluster-snapshot.js'

const validator = new MessageValidator(loadSchema())
const silent = pino({ level: 'silent' })

function bootstrap(clusters: unknown[]): Bootstrap {
  const r = validator.validate<Bootstrap>('envoy.config.bootstrap.v3.Bootstrap', { static_resources: { clusters } })
  assert.deepEqual(r.errors, [])
  return r.value
}

function endpoint(address: string, port: number, extra: Record<string, unknown> = {}): unknown {
  return { endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra }
}

function cluster(name: string, type: string, endpoints: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { name, type, connect_timeout: '1s', load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: endpoints }] }, ...extra }
}

interface Harness {
  cm: ClusterManagerImpl
  store: ThreadLocalStoreImpl
  hostMemory: StatMemory
  published: ClusterSnapshot[][]
  /** Resolves with the next publish after now. */
  nextPublish(): Promise<ClusterSnapshot[]>
}

const managers: ClusterManagerImpl[] = []
afterEach(() => {
  for (const m of managers.splice(0)) m.shutdown()
})

function harness(b: Bootstrap, dnsLookup?: DnsLookup): Harness {
  const store = new ThreadLocalStoreImpl(StatMemory.create(1024, 4), 0)
  const hostMemory = StatMemory.create(256, 4)
  const published: ClusterSnapshot[][] = []
  let waiter: ((s: ClusterSnapshot[]) => void) | undefined
  const cm = new ClusterManagerImpl(b, {
    scope: store, hostStatMemory: hostMemory, log: silent,
    publish: (s) => {
      published.push(s)
      const w = waiter
      waiter = undefined
      w?.(s)
    },
    ...(dnsLookup !== undefined ? { dnsLookup } : {}),
  })
  managers.push(cm)
  return { cm, store, hostMemory, published, nextPublish: () => new Promise((resolve) => { waiter = resolve }) }
}

/** A scripted resolver: answers from `answers` (the last one repeats), counting calls. */
function scripted(answers: Array<ResolvedAddress[] | NodeJS.ErrnoException>): DnsLookup & { calls: Array<[string, number]> } {
  const calls: Array<[string, number]> = []
  const fn = async (name: string, family: 0 | 4 | 6): Promise<ResolvedAddress[]> => {
    calls.push([name, family])
    const a = answers.length > 1 ? answers.shift()! : answers[0]!
    if (a instanceof Error) throw a
    return a
  }
  return Object.assign(fn, { calls })
}

function dnsError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ${code} example.test`), { code })
}

const v = (s: Harness, name: string): number => s.store.counter(name).value()
const g = (s: Harness, name: string): number => s.store.gauge(name, 'NeverImport').value()

describe('ClusterManagerImpl: STATIC', () => {
  it('publishes every cluster once initialized, with membership and manager stats', async () => {
    const h = harness(bootstrap([
      cluster('a', 'STATIC', [endpoint('127.0.0.1', 1001), endpoint('::1', 1002, { load_balancing_weight: 5, health_status: 'DEGRADED' })], {
        load_assignment: {
          cluster_name: 'a', policy: { overprovisioning_factor: 200 },
          endpoints: [
            { priority: 0, lb_endpoints: [endpoint('127.0.0.1', 1001), endpoint('::1', 1002, { load_balancing_weight: 5, health_status: 'DEGRADED' })] },
            { priority: 1, lb_endpoints: [endpoint('127.0.0.2', 1003, { health_status: 'UNHEALTHY' })] },
          ],
        },
      }),
      { name: 'b', connect_timeout: '1s', load_assignment: { cluster_name: 'b', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: '/tmp/b.sock' } } } }] }] } },
    ]))
    await h.cm.initialize()
    assert.equal(h.published.length, 1)
    const [a, b] = h.published[0]!
    assert.equal(a!.name, 'a')
    assert.equal(a!.overprovisioningFactor, 2)
    assert.deepEqual(a!.hosts.map((x) => [x.ip, x.port, x.family, x.weight, x.priority]), [
      ['127.0.0.1', 1001, 4, 1, 0], ['::1', 1002, 6, 5, 0], ['127.0.0.2', 1003, 4, 1, 1],
    ])
    assert.equal(a!.hosts[1]!.healthFlags, HealthFlag.DEGRADED_EDS_HEALTH)
    assert.equal(a!.hosts[2]!.healthFlags, HealthFlag.FAILED_EDS_HEALTH)
    assert.ok(a!.resources instanceof SharedArrayBuffer)
    assert.equal(b!.overprovisioningFactor, 1.4, 'default overprovisioning')
    assert.deepEqual(b!.hosts.map((x) => [x.ip, x.family]), [['/tmp/b.sock', 0]])
    assert.deepEqual(h.cm.snapshots(), h.published[0])
    assert.equal(g(h, 'cluster_manager.active_clusters'), 2)
    assert.equal(v(h, 'cluster_manager.cluster_added'), 2)
    assert.equal(v(h, 'cluster_manager.cluster_updated'), 0)
    assert.equal(g(h, 'cluster.a.membership_total'), 3)
    assert.equal(g(h, 'cluster.a.membership_healthy'), 1)
    assert.equal(g(h, 'cluster.a.membership_degraded'), 1)
    assert.equal(g(h, 'cluster.a.membership_excluded'), 0)
    assert.equal(g(h, 'cluster.a.max_host_weight'), 5)
    assert.equal(v(h, 'cluster.a.membership_change'), 1)
    assert.equal(h.store.gauge('cluster.a.circuit_breakers.default.cx_open').value(), 0)
    assert.equal(await h.cm.initialize(), undefined, 'initialize is idempotent')
    assert.equal(h.published.length, 1)
  })

  it('puts stats under alt_stat_name', async () => {
    const h = harness(bootstrap([cluster('a', 'STATIC', [endpoint('127.0.0.1', 1)], { alt_stat_name: 'alt' })]))
    await h.cm.initialize()
    assert.equal(g(h, 'cluster.alt.membership_total'), 1)
    assert.match(h.cm.clustersText(), /^a::observability_name::alt$/m)
  })
})

describe('checkClusters / construction errors', () => {
  it('rejects a hostname in a STATIC cluster with Envoy\'s message', () => {
    const b = bootstrap([cluster('a', 'STATIC', [endpoint('localhost', 80)])])
    const msg = "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: malformed IP address: localhost. Consider setting resolver_name or setting cluster type to 'STRICT_DNS' or 'LOGICAL_DNS'"
    assert.deepEqual(checkClusters(b), [msg])
    assert.throws(() => harness(b), (err: { code: string; errors: string[] }) => err.code === 'ETS_ERR_CONFIG_INVALID' && err.errors[0] === msg)
  })

  it('lists every problem with its path, without DNS', () => {
    const b = bootstrap([
      cluster('eds', 'EDS', []),
      cluster('ld', 'LOGICAL_DNS', [endpoint('a.example', 80), endpoint('b.example', 80)]),
      cluster('ttl', 'STRICT_DNS', [endpoint('a.example', 80)], { respect_dns_ttl: true }),
      cluster('lb', 'STATIC', [endpoint('127.0.0.1', 80)], { lb_policy: 'CLUSTER_PROVIDED' }),
      cluster('dnspipe', 'STRICT_DNS', [{ endpoint: { address: { pipe: { path: '/x' } } } }]),
      cluster('od', 'ORIGINAL_DST', [], { lb_policy: 'CLUSTER_PROVIDED' }),
      cluster('ok', 'STRICT_DNS', [endpoint('never.resolved.invalid', 80)]),
    ])
    const errors = checkClusters(b)
    const has = (prefix: string, text: string): void => {
      assert.ok(errors.some((e) => e.startsWith(prefix) && e.includes(text)), `${prefix} … ${text}\n${errors.join('\n')}`)
    }
    has('static_resources.clusters[0].type: ', 'EDS clusters are not supported')
    has('static_resources.clusters[1].load_assignment: ', 'LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint')
    has('static_resources.clusters[2].respect_dns_ttl: ', 'dns_refresh_rate')
    has('static_resources.clusters[3].lb_policy: ', 'CLUSTER_PROVIDED')
    has('static_resources.clusters[4].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address: ', 'socket_address')
    has('static_resources.clusters[5].type: ', 'ORIGINAL_DST clusters are not supported')
    assert.ok(!errors.some((e) => e.startsWith('static_resources.clusters[6]')), errors.join('\n'))
    assert.equal(ClusterManagerImpl.checkClusters(b).length, errors.length)
  })
})

describe('ClusterManagerImpl: STRICT_DNS', () => {
  it('resolves localhost with the system resolver (V4_ONLY)', async () => {
    const h = harness(bootstrap([cluster('d', 'STRICT_DNS', [endpoint('localhost', 8080)], { dns_lookup_family: 'V4_ONLY' })]))
    await h.cm.initialize()
    const hosts = h.published[0]![0]!.hosts
    assert.ok(hosts.length >= 1)
    assert.ok(hosts.every((x) => x.family === 4 && x.port === 8080 && x.hostname === 'localhost'))
    assert.ok(hosts.some((x) => x.ip === '127.0.0.1'))
    assert.equal(v(h, 'cluster.d.update_attempt'), 1)
    assert.equal(v(h, 'cluster.d.update_success'), 1)
  })

  it('AUTO (the default) takes the IPv6 answers for localhost when there are any, else the IPv4 ones', async () => {
    const all = await dns.promises.lookup('localhost', { all: true })
    const v6 = all.filter((a) => a.family === 6).map((a) => a.address)
    const expected = v6.length > 0 ? v6 : all.filter((a) => a.family === 4).map((a) => a.address)
    const h = harness(bootstrap([cluster('d', 'STRICT_DNS', [endpoint('localhost', 8080)])]))
    await h.cm.initialize()
    assert.deepEqual(h.published[0]![0]!.hosts.map((x) => x.ip).sort(), [...expected].sort())
  })

  it('applies dns_lookup_family to a dual-stack answer', async () => {
    const both: ResolvedAddress[] = [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }]
    const cases: Array<[string, string[], number]> = [
      ['AUTO', ['::1'], 0], ['V4_PREFERRED', ['127.0.0.1', '127.0.0.2'], 0], ['ALL', ['::1', '127.0.0.1', '127.0.0.2'], 0],
      ['V4_ONLY', ['127.0.0.1', '127.0.0.2'], 4], ['V6_ONLY', ['::1'], 6],
    ]
    for (const [family, ips, asked] of cases) {
      const lookup = scripted([both])
      const h = harness(bootstrap([cluster('d', 'STRICT_DNS', [endpoint('svc.test', 80, { load_balancing_weight: 3 })], { dns_lookup_family: family })]), lookup)
      await h.cm.initialize()
      assert.deepEqual(h.published[0]![0]!.hosts.map((x) => x.ip), ips, family)
      assert.ok(h.published[0]![0]!.hosts.every((x) => x.weight === 3 && x.hostname === 'svc.test'))
      assert.deepEqual(lookup.calls[0], ['svc.test', asked], family)
    }
  })

  it('re-resolves every dns_refresh_rate and publishes membership changes', async () => {
    const lookup = scripted([[{ address: '10.0.0.1', family: 4 }], [{ address: '10.0.0.1', family: 4 }], [{ address: '10.0.0.2', family: 4 }, { address: '10.0.0.3', family: 4 }]])
    const h = harness(bootstrap([cluster('d', 'STRICT_DNS', [endpoint('svc.test', 80)], { dns_refresh_rate: '0.010s' })]), lookup)
    await h.cm.initialize()
    const first = h.published[0]![0]!
    const update = await h.nextPublish()
    assert.equal(update.length, 1)
    assert.deepEqual(update[0]!.hosts.map((x) => x.ip), ['10.0.0.2', '10.0.0.3'])
    assert.ok(update[0]!.version > first.version)
    assert.equal(update[0]!.resources, first.resources, 'the circuit-breaker buffer is created once per cluster')
    assert.equal(v(h, 'cluster_manager.cluster_updated'), 1)
    assert.equal(v(h, 'cluster.d.update_attempt'), 3)
    assert.equal(v(h, 'cluster.d.update_success'), 3)
    assert.equal(v(h, 'cluster.d.update_no_rebuild'), 1, 'the unchanged second answer')
    assert.equal(v(h, 'cluster.d.membership_change'), 2)
    assert.equal(g(h, 'cluster.d.membership_total'), 2)
    assert.deepEqual(h.cm.snapshots()[0], update[0])
  })

  it('starts empty when the first resolution fails, then retries on dns_failure_refresh_rate', async () => {
    const lookup = scripted([dnsError('EAI_AGAIN'), [{ address: '10.0.0.9', family: 4 }]])
    const h = harness(bootstrap([cluster('d', 'STRICT_DNS', [endpoint('svc.test', 80)], {
      dns_refresh_rate: '60s', dns_failure_refresh_rate: { base_interval: '0.010s', max_interval: '0.050s' },
    })]), lookup)
    await h.cm.initialize()
    assert.deepEqual(h.published[0]![0]!.hosts, [])
    assert.equal(v(h, 'cluster.d.update_failure'), 1)
    const update = await h.nextPublish()
    assert.deepEqual(update[0]!.hosts.map((x) => x.ip), ['10.0.0.9'])
    assert.equal(v(h, 'cluster.d.update_success'), 1)
  })

  it('treats "no such name" as an empty answer, as Envoy does', async () => {
    const h = harness(bootstrap([cluster('d', 'STRICT_DNS', [endpoint('svc.test', 80)])]), scripted([dnsError('ENOTFOUND')]))
    await h.cm.initialize()
    assert.deepEqual(h.published[0]![0]!.hosts, [])
    assert.equal(v(h, 'cluster.d.update_success'), 1)
    assert.equal(v(h, 'cluster.d.update_failure'), 0)
  })
})

describe('ClusterManagerImpl: LOGICAL_DNS', () => {
  it('keeps one host at the first address and follows it on refresh', async () => {
    const lookup = scripted([
      [{ address: '10.0.0.1', family: 4 }, { address: '10.0.0.2', family: 4 }],
      [],
      [{ address: '10.0.0.7', family: 4 }, { address: '10.0.0.1', family: 4 }],
    ])
    const h = harness(bootstrap([cluster('l', 'LOGICAL_DNS', [endpoint('svc.test', 443)], { dns_refresh_rate: '0.010s', dns_lookup_family: 'V4_ONLY' })]), lookup)
    await h.cm.initialize()
    assert.deepEqual(h.published[0]![0]!.hosts.map((x) => [x.ip, x.port, x.hostname]), [['10.0.0.1', 443, 'svc.test']])
    const update = await h.nextPublish()
    assert.deepEqual(update[0]!.hosts.map((x) => x.ip), ['10.0.0.7'])
    assert.equal(v(h, 'cluster.l.update_failure'), 1, 'the empty answer kept the old address')
    assert.equal(v(h, 'cluster.l.update_success'), 2)
  })
})

describe('ClusterManagerImpl: /clusters', () => {
  it('prints Envoy\'s text and JSON forms with host stats summed over shards', async () => {
    const h = harness(bootstrap([cluster('a', 'STATIC', [
      endpoint('127.0.0.1', 1001, { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1001 } }, hostname: 'web-1' } }),
      endpoint('::1', 1002, { load_balancing_weight: 3, health_status: 'UNHEALTHY' }),
    ], { circuit_breakers: { thresholds: [{ priority: 'HIGH', max_connections: 7 }] } })]))
    await h.cm.initialize()
    const w1 = new ThreadLocalStoreImpl(h.hostMemory, 2)
    const w2 = new ThreadLocalStoreImpl(h.hostMemory, 3)
    w1.counter('a/127.0.0.1:1001/cx_total').add(2)
    w2.counter('a/127.0.0.1:1001/cx_total').inc()
    w2.gauge('a/127.0.0.1:1001/cx_active').inc()
    const text = h.cm.clustersText().split('\n')
    for (const line of [
      'a::observability_name::a', 'a::default_priority::max_connections::1024', 'a::default_priority::max_pending_requests::1024',
      'a::default_priority::max_requests::1024', 'a::default_priority::max_retries::3', 'a::high_priority::max_connections::7',
      'a::added_via_api::false', 'a::127.0.0.1:1001::cx_total::3', 'a::127.0.0.1:1001::cx_active::1',
      'a::127.0.0.1:1001::cx_connect_fail::0', 'a::127.0.0.1:1001::rq_total::0', 'a::127.0.0.1:1001::hostname::web-1',
      'a::127.0.0.1:1001::health_flags::healthy', 'a::127.0.0.1:1001::weight::1', 'a::127.0.0.1:1001::region::',
      'a::127.0.0.1:1001::canary::false', 'a::127.0.0.1:1001::priority::0', 'a::127.0.0.1:1001::success_rate::-1',
      'a::127.0.0.1:1001::local_origin_success_rate::-1', 'a::[::1]:1002::health_flags::/failed_eds_health', 'a::[::1]:1002::weight::3',
    ]) assert.ok(text.includes(line), `${line}\n${text.join('\n')}`)
    const hostLines = text.filter((l) => l.startsWith('a::127.0.0.1:1001::')).map((l) => l.split('::')[2])
    assert.deepEqual(hostLines.slice(0, 8), ['cx_active', 'cx_connect_fail', 'cx_total', 'rq_active', 'rq_error', 'rq_success', 'rq_timeout', 'rq_total'])

    const json = h.cm.clustersJson() as { cluster_statuses: Array<Record<string, any>> }
    const a = json.cluster_statuses[0]!
    assert.equal(a.name, 'a')
    assert.equal(a.observability_name, 'a')
    assert.equal(a.added_via_api, false)
    assert.deepEqual(a.circuit_breakers.thresholds[1], { priority: 'HIGH', max_connections: 7, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 })
    const [h1, h2] = a.host_statuses
    assert.deepEqual(h1.address, { socket_address: { address: '127.0.0.1', port_value: 1001 } })
    assert.deepEqual(h1.stats.find((s: { name: string }) => s.name === 'cx_total'), { name: 'cx_total', value: '3', type: 'COUNTER' })
    assert.deepEqual(h1.stats.find((s: { name: string }) => s.name === 'cx_active'), { name: 'cx_active', value: '1', type: 'GAUGE' })
    assert.deepEqual(h1.health_status, { eds_health_status: 'HEALTHY' })
    assert.equal(h1.hostname, 'web-1')
    assert.deepEqual(h1.locality, { region: '', zone: '', sub_zone: '' })
    assert.equal(h1.success_rate, undefined)
    assert.deepEqual(h2.health_status, { eds_health_status: 'UNHEALTHY' })
    assert.equal(h2.weight, 3)
    const names = Array.from({ length: h.store.memory.count() }, (_, i) => h.store.memory.nameOf(i))
    assert.ok(!names.some((n) => n.includes('127.0.0.1:1001')), 'host stats stay out of the main stat memory')
  })
})
