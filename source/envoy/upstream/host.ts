import type { Address } from '../network/address.js'
import type { Counter, Gauge } from '../stats/stats.js'
import type { ClusterInfo } from './cluster-info.js'
import type { DetectorHostMonitor, HealthCheckHostMonitor } from './outlier-detection.js'

/** Per-host counters shown by `/clusters`, shared across workers. */
export interface HostStats {
  readonly cx_total: Counter
  readonly cx_active: Gauge
  readonly cx_connect_fail: Counter
  readonly rq_total: Counter
  readonly rq_active: Gauge
  readonly rq_error: Counter
  readonly rq_success: Counter
  readonly rq_timeout: Counter
}

/** Bits of Envoy's Host::HealthFlag, as `/clusters` prints them. */
export const HealthFlag = {
  FAILED_ACTIVE_HC: 1 << 0,
  FAILED_OUTLIER_CHECK: 1 << 1,
  FAILED_EDS_HEALTH: 1 << 2,
  DEGRADED_ACTIVE_HC: 1 << 3,
  DEGRADED_EDS_HEALTH: 1 << 4,
  PENDING_DYNAMIC_REMOVAL: 1 << 5,
  PENDING_ACTIVE_HC: 1 << 6,
  EXCLUDED_VIA_IMMEDIATE_HC_FAIL: 1 << 7,
  ACTIVE_HC_TIMEOUT: 1 << 8,
} as const

export type HostHealth = 'Healthy' | 'Degraded' | 'Unhealthy'

export interface Locality {
  readonly region: string
  readonly zone: string
  readonly sub_zone: string
}

/**
 * One upstream endpoint as a worker sees it (Envoy's Upstream::Host). Identity and stats stay
 * the same across host-set updates while the address is unchanged.
 */
export interface Host {
  readonly address: Address
  /** `ip:port` / pipe path, the key in `/clusters`. */
  readonly addressString: string
  readonly hostname: string
  readonly cluster: ClusterInfo
  readonly locality: Locality
  readonly priority: number
  readonly weight: number
  readonly stats: HostStats
  /** Where the data path reports results for outlier detection (worker thread). */
  readonly outlierDetector: DetectorHostMonitor
  /** Where the data path reports `x-envoy-immediate-health-check-fail` (worker thread). */
  readonly healthChecker: HealthCheckHostMonitor
  /** Health flags (HealthFlag bits) from main's last snapshot. */
  healthFlags(): number
  health(): HostHealth
}

/** The hosts of one priority level (Envoy's HostSet). */
export interface HostSet {
  readonly priority: number
  readonly hosts: readonly Host[]
  readonly healthyHosts: readonly Host[]
  readonly degradedHosts: readonly Host[]
  /** Hosts grouped by locality, in a stable order; empty when localities are not used. */
  readonly hostsPerLocality: ReadonlyArray<readonly Host[]>
  readonly healthyHostsPerLocality: ReadonlyArray<readonly Host[]>
  /** Weight of each locality group above (`load_balancing_weight`), or empty. */
  readonly localityWeights: readonly number[]
  readonly overprovisioningFactor: number
}

/** All priority levels of a cluster (Envoy's PrioritySet). */
export interface PrioritySet {
  readonly hostSetsPerPriority: readonly HostSet[]
}
