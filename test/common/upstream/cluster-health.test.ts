// The cluster manager with active health checks and outlier detection: initial flags, warming,
// publishing health changes to workers, the worker → main doorbell, and /clusters.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, afterEach, describe, it } from 'node:test'
import pino from 'pino'
import { MessageValidator } from '../../../source/common/protobuf/message-validator.js'
import { loadSchema } from '../../../source/common/protobuf/schema.js'
import type { Bootstrap } from '../../../source/common/protobuf/generated/envoy/config/bootstrap/v3.js'
import { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import { ClusterManagerImpl, type DnsLookup, type ResolvedAddress } from '../../../source/common/upstream/cluster-manager-impl.js'
import { HostMonitor, HostMonitorMemory, outlierThresholds } from '../../../source/common/upstream/host-monitor-memory.js'
import type { ClusterSnapshot, HostSnapshot } from '../../../source/envoy/upstream/cluster-snapshot.js'
import { HealthFlag } from '../../../source/envoy/upstream/host.js'
import { FakeScheduler } from '../../mocks/upstream/fake-scheduler.js'

const validator = new MessageValidator(loadSchema())

function bootstrap(clusters: unknown[], extra: Record<string, unknown> = {}): Bootstrap {
  const r = validator.validate<Bootstrap>('envoy.config.bootstrap.v3.Bootstrap', { static_resources: { clusters }, ...extra })
  assert.deepEqual(r.errors, [])
  return r.value
}

const ep = (address: string, port: number): unknown => ({ endpoint: { address: { socket_address: { address, port_value: port } } } })
const tcpHc = { timeout: '1s', interval: '5s', no_traffic_interval: '5s', unhealthy_threshold: 2, healthy_threshold: 2, tcp_health_check: {} }

const servers: net.Server[] = []
after(() => { for (const s of servers) s.close() })
async function listening(): Promise<number> {
  const s = net.createServer((c) => c.on('error', () => {}))
  servers.push(s)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return (s.address() as net.AddressInfo).port
}
async function refusedPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

const managers: ClusterManagerImpl[] = []
afterEach(() => { for (const m of managers.splice(0)) m.shutdown() })

function harness(b: Bootstrap, dnsLookup?: DnsLookup) {
  const store = new ThreadLocalStoreImpl(StatMemory.create(2048, 4), 0)
  const scheduler = new FakeScheduler()
  const published: ClusterSnapshot[][] = []
  const waiters: Array<(s: ClusterSnapshot[]) => void> = []
  const cm = new ClusterManagerImpl(b, {
    scope: store, hostStatMemory: StatMemory.create(256, 4), log: pino({ level: 'silent' }), scheduler, random: () => 0,
    publish: (s) => { published.push(s); for (const w of waiters.splice(0)) w(s) },
    ...(dnsLookup !== undefined ? { dnsLookup } : {}),
  })
  managers.push(cm)
  const nextPublish = (): Promise<ClusterSnapshot[]> => new Promise((resolve) => waiters.push(resolve))
  const stat = (n: string): number => store.counter(n).value()
  const gauge = (n: string): number => store.gauge(n, 'NeverImport').value()
  return { cm, store, scheduler, published, nextPublish, stat, gauge }
}

const flagsOf = (s: ClusterSnapshot): number[] => s.hosts.map((h) => h.healthFlags)

describe('ClusterManagerImpl with health_checks', () => {
  it('starts hosts as failed, waits for every first check, then publishes each host\'s result', async () => {
    const up = await listening()
    const down = await refusedPort()
    const h = harness(bootstrap([{ name: 'c', connect_timeout: '1s', health_checks: [tcpHc], load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [ep('127.0.0.1', up), ep('127.0.0.1', down)] }] } }]))
    await h.cm.initialize()
    assert.equal(h.published.length, 1)
    assert.deepEqual(flagsOf(h.published[0]![0]!), [0, HealthFlag.FAILED_ACTIVE_HC])
    assert.equal(h.stat('cluster.c.health_check.attempt'), 2)
    assert.equal(h.stat('cluster.c.health_check.success'), 1)
    assert.equal(h.stat('cluster.c.health_check.network_failure'), 1)
    assert.equal(h.gauge('cluster.c.health_check.healthy'), 1)
    assert.equal(h.gauge('cluster.c.membership_healthy'), 1)
    assert.equal(h.gauge('cluster.c.membership_total'), 2)
    const text = h.cm.clustersText()
    assert.match(text, new RegExp(`c::127.0.0.1:${down}::health_flags::/failed_active_hc\n`))
    assert.match(text, new RegExp(`c::127.0.0.1:${up}::health_flags::healthy\n`))
    const json = h.cm.clustersJson() as { cluster_statuses: Array<{ host_statuses: Array<{ health_status: Record<string, unknown> }> }> }
    assert.deepEqual(json.cluster_statuses[0]!.host_statuses[1]!.health_status, { eds_health_status: 'HEALTHY', failed_active_health_check: true })
  })

  it('publishes when a host turns unhealthy after unhealthy_threshold failures', async () => {
    const server = net.createServer()
    servers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    const h = harness(bootstrap([{ name: 'c', connect_timeout: '1s', health_checks: [tcpHc], load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [ep('127.0.0.1', port)] }] } }]))
    await h.cm.initialize()
    assert.deepEqual(flagsOf(h.cm.snapshots()[0]!), [0])
    await new Promise((r) => server.close(r))
    const publishedBefore = h.published.length
    // Two failures in a row (unhealthy_threshold: 2); the first only makes the change pending.
    for (let i = 0; i < 2; i++) {
      h.scheduler.runNext()
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.equal(h.published.length, publishedBefore + 1)
    assert.deepEqual(flagsOf(h.published.at(-1)![0]!), [HealthFlag.FAILED_ACTIVE_HC])
    assert.equal(h.gauge('cluster.c.membership_healthy'), 0)
  })

  it('keeps a healthy host that DNS dropped (PENDING_DYNAMIC_REMOVAL) unless ignore_health_on_host_removal', async () => {
    const port = await listening()
    for (const ignore of [false, true]) {
      let answer: ResolvedAddress[] = [{ address: '127.0.0.1', family: 4 }]
      const lookup: DnsLookup = async () => answer
      const h = harness(bootstrap([{
        name: 'd', type: 'STRICT_DNS', connect_timeout: '1s', dns_refresh_rate: '60s', ignore_health_on_host_removal: ignore,
        health_checks: [tcpHc], load_assignment: { cluster_name: 'd', endpoints: [{ lb_endpoints: [ep('svc.test', port)] }] },
      }]), lookup)
      await h.cm.initialize()
      answer = []
      const next = h.nextPublish()
      const d = (h.cm as unknown as { clusters: Array<{ setHosts(x: HostSnapshot[]): void }> }).clusters[0]!
      d.setHosts([])
      const s = (await next)[0]!
      if (ignore) assert.deepEqual(s.hosts, [])
      else assert.deepEqual(flagsOf(s), [HealthFlag.PENDING_DYNAMIC_REMOVAL])
      h.cm.shutdown()
    }
  })
})

describe('ClusterManagerImpl: ignore_new_hosts_until_first_hc', () => {
  it('excludes a host added after start-up (PENDING_ACTIVE_HC) until its first check', async () => {
    const port = await listening()
    // Nothing at start-up; the second resolution adds the host.
    const answers: ResolvedAddress[][] = [[], [{ address: '127.0.0.1', family: 4 }]]
    const h = harness(bootstrap([{
      name: 'd', type: 'STRICT_DNS', connect_timeout: '1s', dns_refresh_rate: '0.02s', common_lb_config: { ignore_new_hosts_until_first_hc: true },
      health_checks: [{ ...tcpHc, initial_jitter: '1s' }], load_assignment: { cluster_name: 'd', endpoints: [{ lb_endpoints: [ep('svc.test', port)] }] },
    }]), async () => answers.length > 1 ? answers.shift()! : answers[0]!)
    await h.cm.initialize()
    const added = h.nextPublish()
    assert.deepEqual(flagsOf((await added)[0]!), [HealthFlag.FAILED_ACTIVE_HC | HealthFlag.PENDING_ACTIVE_HC])
    assert.equal(h.gauge('cluster.d.membership_excluded'), 1)
    const checked = h.nextPublish()
    h.scheduler.advance(1000)
    assert.deepEqual(flagsOf((await checked)[0]!), [0])
  })
})

describe('ClusterManagerImpl with outlier_detection: the worker → main path', () => {
  it('ejects a host as soon as a worker reports the 5th consecutive 5xx, and /clusters shows it', async () => {
    const h = harness(bootstrap([{
      name: 'o', connect_timeout: '1s', outlier_detection: { max_ejection_percent: 50, interval: '1s', base_ejection_time: '5s' },
      load_assignment: { cluster_name: 'o', endpoints: [{ lb_endpoints: [ep('127.0.0.1', 1), ep('127.0.0.1', 2)] }] },
    }]))
    await h.cm.initialize()
    const snap = h.published[0]![0]!
    assert.ok(snap.hostMonitors instanceof SharedArrayBuffer)
    assert.deepEqual(snap.hosts.map((x) => x.monitorSlot), [0, 1])
    // What a worker does: its own view of the shared memory and a monitor per host.
    const memory = new HostMonitorMemory(snap.hostMonitors!)
    const monitor = new HostMonitor(memory, snap.hosts[1]!.monitorSlot!, outlierThresholds(snap.config), false)
    const next = h.nextPublish()
    for (let i = 0; i < 5; i++) monitor.putHttpResponseCode(503)
    const update = (await next)[0]!
    assert.deepEqual(flagsOf(update), [0, HealthFlag.FAILED_OUTLIER_CHECK])
    assert.equal(h.store.gauge('cluster.o.outlier_detection.ejections_active', 'Accumulate').value(), 1)
    assert.equal(h.stat('cluster.o.outlier_detection.ejections_enforced_consecutive_5xx'), 1)
    assert.match(h.cm.clustersText(), /o::127\.0\.0\.1:2::health_flags::\/failed_outlier_check\n/)
    assert.match(h.cm.clustersText(), /o::outlier::success_rate_average::-1\n/)
    const json = h.cm.clustersJson() as { cluster_statuses: Array<{ host_statuses: Array<{ health_status: Record<string, unknown> }> }> }
    assert.deepEqual(json.cluster_statuses[0]!.host_statuses[1]!.health_status, { eds_health_status: 'HEALTHY', failed_outlier_check: true })
    const back = h.nextPublish()
    h.scheduler.advance(5000)
    assert.deepEqual(flagsOf((await back)[0]!), [0, 0])
  })

  it('replaces a full monitor memory, renumbering slots, and keeps listening on the new one', async () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ address: `10.0.1.${i + 1}`, family: 4 as const }))
    const answers: ResolvedAddress[][] = [[{ address: '10.0.1.1', family: 4 }], many]
    const h = harness(bootstrap([{
      name: 'g', type: 'STRICT_DNS', connect_timeout: '1s', dns_refresh_rate: '0.02s', outlier_detection: { max_ejection_percent: 100 },
      load_assignment: { cluster_name: 'g', endpoints: [{ lb_endpoints: [ep('svc.test', 80)] }] },
    }]), async () => answers.length > 1 ? answers.shift()! : answers[0]!)
    await h.cm.initialize()
    const first = h.published[0]![0]!
    const grown = (await h.nextPublish())[0]!
    assert.notEqual(grown.hostMonitors, first.hostMonitors)
    assert.deepEqual(grown.hosts.map((x) => x.monitorSlot), Array.from({ length: 20 }, (_, i) => i))
    const monitor = new HostMonitor(new HostMonitorMemory(grown.hostMonitors!), 19, outlierThresholds(grown.config), false)
    const next = h.nextPublish()
    for (let i = 0; i < 5; i++) monitor.putHttpResponseCode(500)
    assert.equal((await next)[0]!.hosts[19]!.healthFlags, HealthFlag.FAILED_OUTLIER_CHECK)
  })

  it('excludes a host a worker saw answer x-envoy-immediate-health-check-fail', async () => {
    const port = await listening()
    const h = harness(bootstrap([{ name: 'c', connect_timeout: '1s', health_checks: [tcpHc], load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [ep('127.0.0.1', port)] }] } }]))
    await h.cm.initialize()
    const snap = h.published[0]![0]!
    const monitor = new HostMonitor(new HostMonitorMemory(snap.hostMonitors!), 0, undefined, true)
    const next = h.nextPublish()
    monitor.setUnhealthy()
    assert.deepEqual(flagsOf((await next)[0]!), [HealthFlag.FAILED_ACTIVE_HC | HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL])
    assert.equal(h.gauge('cluster.c.membership_excluded'), 1)
    assert.equal(h.stat('cluster.c.health_check.passive_failure'), 1)
  })
})
