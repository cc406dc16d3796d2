import { type Address, addressToString } from '../../envoy/network/address.js'
import type { Scope } from '../../envoy/stats/stats.js'
import type { ClusterInfo } from '../../envoy/upstream/cluster-info.js'
import type { HostSnapshot } from '../../envoy/upstream/cluster-snapshot.js'
import {
  HealthFlag, type Host, type HostHealth, type HostSet, type HostStats, type Locality, type PrioritySet,
} from '../../envoy/upstream/host.js'
import type { DetectorHostMonitor, HealthCheckHostMonitor } from '../../envoy/upstream/outlier-detection.js'
import type { HealthStatus } from '../protobuf/generated/envoy/config/core/v3.js'
import { NULL_HOST_MONITOR } from './host-monitor-memory.js'
import type { LbEndpoint, LocalityLbEndpoints } from '../protobuf/generated/envoy/config/endpoint/v3.js'

/** Flags that take a host out of rotation (Envoy's coarse health: Unhealthy). */
export const FAILURE_FLAGS = HealthFlag.FAILED_ACTIVE_HC | HealthFlag.FAILED_OUTLIER_CHECK
  | HealthFlag.FAILED_EDS_HEALTH | HealthFlag.ACTIVE_HC_TIMEOUT
export const DEGRADED_FLAGS = HealthFlag.DEGRADED_ACTIVE_HC | HealthFlag.DEGRADED_EDS_HEALTH
/** Flags that keep a host out of the healthy and degraded lists without failing it (Envoy's excluded hosts). */
export const EXCLUDED_FLAGS = HealthFlag.PENDING_ACTIVE_HC | HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL

export function healthOf(flags: number): HostHealth {
  if ((flags & FAILURE_FLAGS) !== 0) return 'Unhealthy'
  if ((flags & DEGRADED_FLAGS) !== 0) return 'Degraded'
  return 'Healthy'
}

/** HealthFlag bits for an endpoint's `health_status` (EDS health, honoured for every cluster type). */
export function edsHealthFlags(status: HealthStatus): number {
  switch (status) {
    case 'UNHEALTHY': case 'DRAINING': case 'TIMEOUT': return HealthFlag.FAILED_EDS_HEALTH
    case 'DEGRADED': return HealthFlag.DEGRADED_EDS_HEALTH
    default: return 0
  }
}

/** A HostSnapshot for one address of an endpoint, carrying its locality, weights, priority and EDS health. */
export function endpointHostSnapshot(
  group: LocalityLbEndpoints, lb: LbEndpoint, address: { ip: string; port: number; family: 4 | 6 | 0 }, hostname: string,
): HostSnapshot {
  const hc = lb.endpoint?.health_check_config
  const snapshot: HostSnapshot = {
    ip: address.ip,
    port: address.port,
    family: address.family,
    hostname,
    weight: lb.load_balancing_weight ?? 1,
    priority: group.priority,
    locality: { region: group.locality?.region ?? '', zone: group.locality?.zone ?? '', sub_zone: group.locality?.sub_zone ?? '' },
    localityWeight: group.load_balancing_weight ?? 0,
    healthFlags: edsHealthFlags(lb.health_status),
  }
  if (hc !== undefined && hc.port_value !== 0) snapshot.healthCheckPort = hc.port_value
  if (hc !== undefined && hc.hostname !== '') snapshot.healthCheckHostname = hc.hostname
  const hcAddress = hc?.address
  if (hcAddress?.socket_address !== undefined) {
    const ip = hcAddress.socket_address.address
    snapshot.healthCheckAddress = { ip, port: hcAddress.socket_address.port_value ?? 0, family: ip.includes(':') ? 6 : 4 }
  } else if (hcAddress?.pipe !== undefined) {
    snapshot.healthCheckAddress = { ip: hcAddress.pipe.path, port: 0, family: 0 }
  }
  if (hc?.disable_active_health_check === true) snapshot.disableActiveHealthCheck = true
  return snapshot
}

/** The Address of a snapshot host (family 0 is a pipe path). */
export function snapshotAddress(h: HostSnapshot): Address {
  return h.family === 0 ? { kind: 'pipe', path: h.ip } : { kind: 'ip', ip: h.ip, port: h.port, family: h.family }
}

/** `ip:port`, `[v6]:port` or the pipe path: the host's key in `/clusters` and in host stat names. */
export function snapshotAddressString(h: HostSnapshot): string {
  return addressToString(snapshotAddress(h))
}

/** Host stat names (`<cluster>/<address>/<stat>`) live in their own stat memory, away from `/stats`. */
export function hostStatName(cluster: string, address: string, stat: keyof HostStats): string {
  return `${cluster}/${address}/${stat}`
}

export const HOST_COUNTERS = ['cx_connect_fail', 'cx_total', 'rq_error', 'rq_success', 'rq_timeout', 'rq_total'] as const
export const HOST_GAUGES = ['cx_active', 'rq_active'] as const

function hostStats(store: Scope, cluster: string, address: string): HostStats {
  const s: Record<string, unknown> = {}
  for (const n of HOST_COUNTERS) s[n] = store.counter(hostStatName(cluster, address, n))
  for (const n of HOST_GAUGES) s[n] = store.gauge(hostStatName(cluster, address, n))
  return s as unknown as HostStats
}

/** Everything about a snapshot host except its health: equal attributes keep the same Host object. */
export function hostAttributesKey(h: HostSnapshot): string {
  const l = h.locality
  return JSON.stringify([h.hostname, h.weight, h.priority, l.region, l.zone, l.sub_zone, h.localityWeight])
}

/**
 * One upstream host on a worker (Envoy's HostImpl). Its stats come from the host stat store, so
 * a host rebuilt for the same address keeps counting into the same totals.
 */
export class HostImpl implements Host {
  readonly address: Address
  readonly addressString: string
  readonly hostname: string
  readonly cluster: ClusterInfo
  readonly locality: Locality
  readonly priority: number
  readonly weight: number
  readonly stats: HostStats
  /** Weight of this host's locality group (0 when unset). */
  readonly localityWeight: number
  readonly attributesKey: string
  outlierDetector: DetectorHostMonitor = NULL_HOST_MONITOR
  healthChecker: HealthCheckHostMonitor = NULL_HOST_MONITOR
  private flags: number

  /** `hostStore` is the thread's store over the host stat memory. */
  constructor(snapshot: HostSnapshot, cluster: ClusterInfo, hostStore: Scope) {
    this.address = snapshotAddress(snapshot)
    this.addressString = addressToString(this.address)
    this.hostname = snapshot.hostname
    this.cluster = cluster
    this.locality = { ...snapshot.locality }
    this.priority = snapshot.priority
    this.weight = snapshot.weight
    this.localityWeight = snapshot.localityWeight
    this.attributesKey = hostAttributesKey(snapshot)
    this.flags = snapshot.healthFlags
    this.stats = hostStats(hostStore, cluster.name, this.addressString)
  }

  healthFlags(): number {
    return this.flags
  }

  /** Main's latest view of this host's health. */
  setHealthFlags(flags: number): void {
    this.flags = flags
  }

  /** Points the data path's reports at this host's slot of the cluster's monitor memory. */
  setMonitor(monitor: DetectorHostMonitor & HealthCheckHostMonitor): void {
    this.outlierDetector = monitor
    this.healthChecker = monitor
  }

  health(): HostHealth {
    return healthOf(this.flags)
  }

  excluded(): boolean {
    return (this.flags & EXCLUDED_FLAGS) !== 0
  }
}

function localityKey(l: Locality): string {
  return `${l.region}\u0000${l.zone}\u0000${l.sub_zone}`
}

const NO_LOCALITY = localityKey({ region: '', zone: '', sub_zone: '' })

/** The hosts of one priority (Envoy's HostSetImpl), with the health lists computed once. */
export class HostSetImpl implements HostSet {
  readonly priority: number
  readonly hosts: readonly HostImpl[]
  readonly healthyHosts: readonly HostImpl[]
  readonly degradedHosts: readonly HostImpl[]
  readonly excludedHosts: readonly HostImpl[]
  readonly hostsPerLocality: ReadonlyArray<readonly HostImpl[]>
  readonly healthyHostsPerLocality: ReadonlyArray<readonly HostImpl[]>
  readonly localityWeights: readonly number[]
  readonly overprovisioningFactor: number

  constructor(priority: number, hosts: readonly HostImpl[], overprovisioningFactor: number) {
    this.priority = priority
    this.hosts = hosts
    this.overprovisioningFactor = overprovisioningFactor
    const usable = (h: HostImpl): boolean => !h.excluded()
    this.healthyHosts = hosts.filter((h) => usable(h) && h.health() === 'Healthy')
    this.degradedHosts = hosts.filter((h) => usable(h) && h.health() === 'Degraded')
    this.excludedHosts = hosts.filter((h) => !usable(h))
    // Group by locality (first-seen order) only when localities are in use.
    const usesLocality = hosts.some((h) => h.localityWeight > 0 || localityKey(h.locality) !== NO_LOCALITY)
    const groups = new Map<string, HostImpl[]>()
    const weights = new Map<string, number>()
    if (usesLocality) {
      for (const h of hosts) {
        const k = localityKey(h.locality)
        let g = groups.get(k)
        if (g === undefined) groups.set(k, (g = []))
        g.push(h)
        if (!weights.has(k) || h.localityWeight > 0) weights.set(k, h.localityWeight)
      }
    }
    this.hostsPerLocality = [...groups.values()]
    this.healthyHostsPerLocality = this.hostsPerLocality.map((g) => g.filter((h) => usable(h) && h.health() === 'Healthy'))
    const anyWeight = [...weights.values()].some((w) => w > 0)
    this.localityWeights = anyWeight ? [...groups.keys()].map((k) => weights.get(k) ?? 0) : []
  }
}

/** All priority levels (Envoy's PrioritySetImpl): levels 0..max, empty ones in between. */
export class PrioritySetImpl implements PrioritySet {
  readonly hostSetsPerPriority: readonly HostSetImpl[]

  constructor(hosts: readonly HostImpl[], overprovisioningFactor: number) {
    let max = 0
    for (const h of hosts) max = Math.max(max, h.priority)
    const sets: HostSetImpl[] = []
    for (let p = 0; p <= max; p++) sets.push(new HostSetImpl(p, hosts.filter((h) => h.priority === p), overprovisioningFactor))
    this.hostSetsPerPriority = sets
  }

  allHosts(): HostImpl[] {
    return this.hostSetsPerPriority.flatMap((s) => [...s.hosts])
  }
}
