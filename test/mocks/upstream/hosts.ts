/**
 * Fake hosts, host sets and priority sets for load-balancer tests. A FakeHost's health and
 * active-request gauge are plain mutable fields; host sets derive their healthy/degraded and
 * per-locality lists from the hosts when built, like a snapshot from main.
 */
import type { Address } from '../../../source/envoy/network/address.js'
import type { Counter, Gauge, GaugeImportMode } from '../../../source/envoy/stats/stats.js'
import type { ClusterInfo } from '../../../source/envoy/upstream/cluster-info.js'
import type { Host, HostHealth, HostSet, HostStats, Locality, PrioritySet } from '../../../source/envoy/upstream/host.js'
import type {
  DetectorHostMonitor, HealthCheckHostMonitor, OutlierResultValue,
} from '../../../source/envoy/upstream/outlier-detection.js'
import type { Cluster } from '../../../source/common/protobuf/generated/envoy/config/cluster/v3.js'
import { HealthFlag } from '../../../source/envoy/upstream/host.js'

export class FakeCounter implements Counter {
  readonly name: string
  count = 0
  constructor(name: string) {
    this.name = name
  }
  inc(): void {
    this.count++
  }
  add(amount: number): void {
    this.count += amount
  }
  value(): number {
    return this.count
  }
  used(): boolean {
    return this.count > 0
  }
}

export class FakeGauge implements Gauge {
  readonly name: string
  readonly importMode: GaugeImportMode = 'Accumulate'
  current = 0
  constructor(name: string) {
    this.name = name
  }
  inc(): void {
    this.current++
  }
  dec(): void {
    this.current--
  }
  add(amount: number): void {
    this.current += amount
  }
  sub(amount: number): void {
    this.current -= amount
  }
  set(value: number): void {
    this.current = value
  }
  value(): number {
    return this.current
  }
  used(): boolean {
    return this.current !== 0
  }
}

function fakeHostStats(): HostStats {
  return {
    cx_total: new FakeCounter('cx_total'),
    cx_active: new FakeGauge('cx_active'),
    cx_connect_fail: new FakeCounter('cx_connect_fail'),
    rq_total: new FakeCounter('rq_total'),
    rq_active: new FakeGauge('rq_active'),
    rq_error: new FakeCounter('rq_error'),
    rq_success: new FakeCounter('rq_success'),
    rq_timeout: new FakeCounter('rq_timeout'),
  }
}

/** Records what the data path reported about a host. */
export class FakeHostMonitor implements DetectorHostMonitor, HealthCheckHostMonitor {
  readonly codes: number[] = []
  readonly results: Array<{ result: OutlierResultValue; code: number | undefined }> = []
  immediateFailures = 0
  putHttpResponseCode(code: number): void {
    this.codes.push(code)
  }
  putResult(result: OutlierResultValue, code?: number): void {
    this.results.push({ result, code })
  }
  setUnhealthy(): void {
    this.immediateFailures++
  }
}

export interface FakeHostOptions {
  /** `ip:port`; defaults to 10.0.0.<n>:80 with a running n. */
  address?: string
  hostname?: string
  weight?: number
  priority?: number
  locality?: Partial<Locality>
  health?: HostHealth
  /** Initial `rq_active` gauge value. */
  rqActive?: number
}

/** Only what load balancers may read; anything else throws if touched. */
const fakeClusterInfo = new Proxy({ name: 'fake_cluster', observabilityName: 'fake_cluster' } as ClusterInfo, {
  get(target, prop) {
    if (prop in target) return (target as unknown as Record<PropertyKey, unknown>)[prop]
    if (prop === 'then') return undefined
    throw new Error(`fake ClusterInfo: ${String(prop)} is not faked`)
  },
})

let nextHost = 1

export class FakeHost implements Host {
  readonly address: Address
  readonly addressString: string
  readonly hostname: string
  readonly cluster: ClusterInfo = fakeClusterInfo
  readonly locality: Locality
  readonly priority: number
  readonly weight: number
  readonly stats: HostStats = fakeHostStats()
  readonly monitor = new FakeHostMonitor()
  readonly outlierDetector: DetectorHostMonitor = this.monitor
  readonly healthChecker: HealthCheckHostMonitor = this.monitor
  /** Mutable: change it, then rebuild the host set (health is read at snapshot time). */
  currentHealth: HostHealth

  constructor(opts: FakeHostOptions = {}) {
    this.addressString = opts.address ?? `10.0.${Math.floor(nextHost / 250)}.${(nextHost % 250) + 1}:80`
    nextHost++
    const colon = this.addressString.lastIndexOf(':')
    this.address = { kind: 'ip', ip: this.addressString.slice(0, colon), port: Number(this.addressString.slice(colon + 1)), family: 4 }
    this.hostname = opts.hostname ?? ''
    this.weight = opts.weight ?? 1
    this.priority = opts.priority ?? 0
    this.locality = { region: opts.locality?.region ?? '', zone: opts.locality?.zone ?? '', sub_zone: opts.locality?.sub_zone ?? '' }
    this.currentHealth = opts.health ?? 'Healthy'
    this.stats.rq_active.set(opts.rqActive ?? 0)
  }

  /** Sets the `rq_active` gauge. */
  setActive(n: number): void {
    this.stats.rq_active.set(n)
  }

  healthFlags(): number {
    if (this.currentHealth === 'Unhealthy') return HealthFlag.FAILED_ACTIVE_HC
    if (this.currentHealth === 'Degraded') return HealthFlag.DEGRADED_ACTIVE_HC
    return 0
  }

  health(): HostHealth {
    return this.currentHealth
  }
}

export function makeHost(opts: FakeHostOptions = {}): FakeHost {
  return new FakeHost(opts)
}

/** `count` hosts sharing `opts` (address excepted). */
export function makeHosts(count: number, opts: Omit<FakeHostOptions, 'address'> = {}): FakeHost[] {
  return Array.from({ length: count }, () => new FakeHost(opts))
}

function localityKey(l: Locality): string {
  return `${l.region}/${l.zone}/${l.sub_zone}`
}

export interface HostSetOptions {
  /** Locality weights by `region/zone/sub_zone` key; groups hosts by locality in this order. */
  localityWeights?: ReadonlyArray<readonly [string, number]>
  overprovisioningFactor?: number
}

/** A host set snapshot of `hosts` at `priority`, health read now. */
export function makeHostSet(priority: number, hosts: readonly Host[], opts: HostSetOptions = {}): HostSet {
  const hostsPerLocality: Host[][] = []
  const localityWeights: number[] = []
  if (opts.localityWeights !== undefined) {
    for (const [key, weight] of opts.localityWeights) {
      hostsPerLocality.push(hosts.filter((h) => localityKey(h.locality) === key))
      localityWeights.push(weight)
    }
  }
  return {
    priority,
    hosts,
    healthyHosts: hosts.filter((h) => h.health() === 'Healthy'),
    degradedHosts: hosts.filter((h) => h.health() === 'Degraded'),
    hostsPerLocality,
    healthyHostsPerLocality: hostsPerLocality.map((l) => l.filter((h) => h.health() === 'Healthy')),
    localityWeights,
    overprovisioningFactor: opts.overprovisioningFactor ?? 1.4,
  }
}

/** Groups hosts by `host.priority` into host sets 0..max (empty levels in between). */
export function makePrioritySet(hosts: readonly Host[], opts: HostSetOptions = {}): PrioritySet {
  let max = 0
  for (const h of hosts) max = Math.max(max, h.priority)
  const hostSetsPerPriority: HostSet[] = []
  for (let p = 0; p <= max; p++) {
    hostSetsPerPriority.push(makeHostSet(p, hosts.filter((h) => h.priority === p), opts))
  }
  return { hostSetsPerPriority }
}

/** A validated-form Cluster with just what load balancers read; `overrides` on top. */
export function makeClusterConfig(overrides: Partial<Cluster> = {}): Cluster {
  return { name: 'fake_cluster', lb_policy: 'ROUND_ROBIN', ...overrides } as Cluster
}

/** A deterministic random source in [0, 1) (mulberry32), for reproducible distribution tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
