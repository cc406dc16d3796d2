import type { Cluster } from '../../common/protobuf/generated/envoy/config/cluster/v3.js'
import type { Locality } from './host.js'

/** One host as main resolved it, in a form that crosses threads. */
export interface HostSnapshot {
  /** IP (or pipe path) and port after DNS. */
  ip: string
  port: number
  family: 4 | 6 | 0
  /** The name it was resolved from (STRICT_DNS/LOGICAL_DNS), or the endpoint's `hostname`. */
  hostname: string
  weight: number
  priority: number
  locality: Locality
  /** Weight of this host's locality (`load_balancing_weight` of its LocalityLbEndpoints), 0 when unset. */
  localityWeight: number
  /** HealthFlag bits set by main (EDS health status, active health checks, outlier ejections). */
  healthFlags: number
  /** `health_check_config` overrides for this endpoint. */
  healthCheckPort?: number
  healthCheckHostname?: string
  /** `health_check_config.address`: check this IP (or pipe) instead of the host's address. */
  healthCheckAddress?: { ip: string; port: number; family: 4 | 6 | 0 }
  /** `health_check_config.disable_active_health_check`. */
  disableActiveHealthCheck?: boolean
  /** This host's slot in the snapshot's `hostMonitors` memory (set by main when that exists). */
  monitorSlot?: number
}

/**
 * A cluster's state as main publishes it to every worker (the TLS-slot snapshot of DESIGN.md).
 * Workers swap it in whole; a worker started later gets the latest one in its start data.
 */
export interface ClusterSnapshot {
  name: string
  /** The validated cluster config; workers build their ClusterInfo and load balancer from it. */
  config: Cluster
  hosts: HostSnapshot[]
  /** Bumped on every change; a worker ignores a snapshot older than the one it has. */
  version: number
  /**
   * Circuit-breaker counters shared by all threads: per priority (default, high) the open
   * connections, pending requests, requests, retries and connection pools.
   */
  resources: SharedArrayBuffer
  /** `overprovisioning_factor` as a multiplier (1.4 when unset). */
  overprovisioningFactor: number
  /**
   * Per-host outlier and passive health-check counters shared by all threads (HostMonitorMemory),
   * present when the cluster has `outlier_detection` or `health_checks`. Workers write it on the
   * data path; main reads it. Replaced (and every host's `monitorSlot` renumbered) when it fills.
   */
  hostMonitors?: SharedArrayBuffer
}
