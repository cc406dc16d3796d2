/**
 * The admin `/clusters` output (Envoy's ClustersHandler), text and JSON, from main's cluster
 * snapshots and the host stat memory (host stats summed over every worker's shard).
 */
import type { Scope } from '../../envoy/stats/stats.js'
import type { ResourcePriority } from '../../envoy/upstream/cluster-info.js'
import type { ClusterSnapshot, HostSnapshot } from '../../envoy/upstream/cluster-snapshot.js'
import { HealthFlag } from '../../envoy/upstream/host.js'
import type { ClusterInfoImpl } from './cluster-info-impl.js'
import { HOST_COUNTERS, HOST_GAUGES, hostStatName, snapshotAddressString } from './host-impl.js'

export type SuccessRateType = 'ExternalOrigin' | 'LocalOrigin'

/** What `/clusters` reads from a cluster's outlier detector. */
export interface OutlierStatus {
  successRateAverage(type: SuccessRateType): number
  successRateEjectionThreshold(type: SuccessRateType): number
  /** Last interval's success rate of the host at `address`, -1 when unknown. */
  hostSuccessRate(address: string, type: SuccessRateType): number
}

export interface ClusterStatusSource {
  info: ClusterInfoImpl
  snapshot: ClusterSnapshot
  /** Present when the cluster has `outlier_detection`. */
  outlier?: OutlierStatus
}

/** fmt's `{:g}` for the doubles `/clusters` prints (up to 6 significant digits). */
function g(n: number): string {
  return String(Number(n.toPrecision(6)))
}

/** Envoy's HostUtility::healthFlagsToString order and spelling. */
const FLAG_TEXT: ReadonlyArray<readonly [number, string]> = [
  [HealthFlag.FAILED_ACTIVE_HC, 'failed_active_hc'],
  [HealthFlag.FAILED_OUTLIER_CHECK, 'failed_outlier_check'],
  [HealthFlag.FAILED_EDS_HEALTH, 'failed_eds_health'],
  [HealthFlag.DEGRADED_ACTIVE_HC, 'degraded_active_hc'],
  [HealthFlag.DEGRADED_EDS_HEALTH, 'degraded_eds_health'],
  [HealthFlag.PENDING_DYNAMIC_REMOVAL, 'pending_dynamic_removal'],
  [HealthFlag.PENDING_ACTIVE_HC, 'pending_active_hc'],
  [HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL, 'excluded_via_immediate_hc_fail'],
  [HealthFlag.ACTIVE_HC_TIMEOUT, 'active_hc_timeout'],
]

/** admin.v3.HostHealthStatus booleans (EDS health goes to `eds_health_status`). */
const FLAG_JSON: ReadonlyArray<readonly [number, string]> = [
  [HealthFlag.FAILED_ACTIVE_HC, 'failed_active_health_check'],
  [HealthFlag.FAILED_OUTLIER_CHECK, 'failed_outlier_check'],
  [HealthFlag.DEGRADED_ACTIVE_HC, 'failed_active_degraded_check'],
  [HealthFlag.PENDING_DYNAMIC_REMOVAL, 'pending_dynamic_removal'],
  [HealthFlag.PENDING_ACTIVE_HC, 'pending_active_hc'],
  [HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL, 'excluded_via_immediate_hc_fail'],
  [HealthFlag.ACTIVE_HC_TIMEOUT, 'active_hc_timeout'],
]

export function healthFlagsText(flags: number): string {
  if (flags === 0) return 'healthy'
  return FLAG_TEXT.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => `/${name}`).join('')
}

/** Hosts by priority, in discovery order within a priority (Envoy walks host sets in order). */
function hostsInOrder(snapshot: ClusterSnapshot): HostSnapshot[] {
  return snapshot.hosts.map((h, i) => ({ h, i })).sort((a, b) => a.h.priority - b.h.priority || a.i - b.i).map((x) => x.h)
}

interface HostStatValue {
  name: string
  value: number
  type: 'COUNTER' | 'GAUGE'
}

function hostStats(store: Scope, cluster: string, address: string): HostStatValue[] {
  return [
    ...HOST_COUNTERS.map((n) => ({ name: n, value: store.counter(hostStatName(cluster, address, n)).value(), type: 'COUNTER' as const })),
    ...HOST_GAUGES.map((n) => ({ name: n, value: store.gauge(hostStatName(cluster, address, n)).value(), type: 'GAUGE' as const })),
  ]
}

const PRIORITIES: ReadonlyArray<readonly [ResourcePriority, string, string]> = [['default', 'default_priority', 'DEFAULT'], ['high', 'high_priority', 'HIGH']]

/** `/clusters` text: `<cluster>::<key>::<value>` lines, hosts as `<cluster>::<address>::<key>::<value>`. */
export function clustersText(clusters: readonly ClusterStatusSource[], hostStore: Scope): string {
  const out: string[] = []
  for (const source of clusters) {
    const { info, snapshot } = source
    const c = info.name
    out.push(`${c}::observability_name::${info.observabilityName}`)
    const od = source.outlier
    if (od !== undefined) {
      out.push(
        `${c}::outlier::success_rate_average::${g(od.successRateAverage('ExternalOrigin'))}`,
        `${c}::outlier::success_rate_ejection_threshold::${g(od.successRateEjectionThreshold('ExternalOrigin'))}`,
        `${c}::outlier::local_origin_success_rate_average::${g(od.successRateAverage('LocalOrigin'))}`,
        `${c}::outlier::local_origin_success_rate_ejection_threshold::${g(od.successRateEjectionThreshold('LocalOrigin'))}`,
      )
    }
    for (const [priority, label] of PRIORITIES) {
      const l = info.resourceManagerImpl(priority).limits
      out.push(`${c}::${label}::max_connections::${l.max_connections}`, `${c}::${label}::max_pending_requests::${l.max_pending_requests}`,
        `${c}::${label}::max_requests::${l.max_requests}`, `${c}::${label}::max_retries::${l.max_retries}`)
    }
    out.push(`${c}::added_via_api::false`)
    for (const h of hostsInOrder(snapshot)) {
      const a = snapshotAddressString(h)
      const stats = hostStats(hostStore, c, a).sort((x, y) => (x.name < y.name ? -1 : 1))
      for (const s of stats) out.push(`${c}::${a}::${s.name}::${s.value}`)
      out.push(
        `${c}::${a}::hostname::${h.hostname}`, `${c}::${a}::health_flags::${healthFlagsText(h.healthFlags)}`,
        `${c}::${a}::weight::${h.weight}`, `${c}::${a}::region::${h.locality.region}`, `${c}::${a}::zone::${h.locality.zone}`,
        `${c}::${a}::sub_zone::${h.locality.sub_zone}`, `${c}::${a}::canary::false`, `${c}::${a}::priority::${h.priority}`,
        // fmt's `{}` for a double: the shortest form that round-trips.
        `${c}::${a}::success_rate::${od?.hostSuccessRate(a, 'ExternalOrigin') ?? -1}`,
        `${c}::${a}::local_origin_success_rate::${od?.hostSuccessRate(a, 'LocalOrigin') ?? -1}`,
      )
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`
}

function hostStatusJson(h: HostSnapshot, cluster: string, hostStore: Scope, od: OutlierStatus | undefined): Record<string, unknown> {
  const address = h.family === 0 ? { pipe: { path: h.ip } } : { socket_address: { address: h.ip, port_value: h.port } }
  const f = h.healthFlags
  const health: Record<string, unknown> = {
    eds_health_status: (f & HealthFlag.FAILED_EDS_HEALTH) !== 0 ? 'UNHEALTHY' : (f & HealthFlag.DEGRADED_EDS_HEALTH) !== 0 ? 'DEGRADED' : 'HEALTHY',
  }
  for (const [bit, name] of FLAG_JSON) if ((f & bit) !== 0) health[name] = true
  const a = snapshotAddressString(h)
  const sr = od?.hostSuccessRate(a, 'ExternalOrigin') ?? -1
  const localSr = od?.hostSuccessRate(a, 'LocalOrigin') ?? -1
  // Field order of admin.v3.HostStatus; success rates only when known, as in Envoy.
  return {
    address,
    // uint64 values are strings in proto JSON.
    stats: hostStats(hostStore, cluster, a).map((s) => ({ name: s.name, value: String(s.value), type: s.type })),
    health_status: health,
    ...(sr >= 0 ? { success_rate: { value: sr } } : {}),
    weight: h.weight,
    hostname: h.hostname,
    priority: h.priority,
    ...(localSr >= 0 ? { local_origin_success_rate: { value: localSr } } : {}),
    locality: { region: h.locality.region, zone: h.locality.zone, sub_zone: h.locality.sub_zone },
  }
}

/** `/clusters?format=json` (admin.v3.Clusters); success rates are left out while unknown, as in Envoy. */
export function clustersJson(clusters: readonly ClusterStatusSource[], hostStore: Scope): Record<string, unknown> {
  return {
    cluster_statuses: clusters.map(({ info, snapshot, outlier }) => ({
      name: info.name,
      added_via_api: false,
      ...((outlier?.successRateEjectionThreshold('ExternalOrigin') ?? -1) > 0
        ? { success_rate_ejection_threshold: { value: outlier!.successRateEjectionThreshold('ExternalOrigin') } } : {}),
      observability_name: info.observabilityName,
      circuit_breakers: {
        thresholds: PRIORITIES.map(([priority, , proto]) => {
          const l = info.resourceManagerImpl(priority).limits
          return {
            priority: proto, max_connections: l.max_connections, max_pending_requests: l.max_pending_requests,
            max_requests: l.max_requests, max_retries: l.max_retries,
          }
        }),
      },
      host_statuses: hostsInOrder(snapshot).map((h) => hostStatusJson(h, info.name, hostStore, outlier)),
      ...((outlier?.successRateEjectionThreshold('LocalOrigin') ?? -1) > 0
        ? { local_origin_success_rate_ejection_threshold: { value: outlier!.successRateEjectionThreshold('LocalOrigin') } } : {}),
    })),
  }
}
