/**
 * One upstream host as main's cluster tracks it (the main-thread half of Envoy's HostImpl): the
 * endpoint as discovery last reported it, plus the health flags main's active health checker
 * and outlier detector own. Workers see it as a HostSnapshot (`toSnapshot`).
 */
import type { HostSnapshot } from '../../envoy/upstream/cluster-snapshot.js'
import { snapshotAddressString } from './host-impl.js'

/** Where active health checks go: `health_check_config.address`, else the host with `port_value`. */
export interface HealthCheckTarget {
  ip: string
  port: number
  family: 4 | 6 | 0
}

export class ClusterHost {
  /** `ip:port` (or the pipe path). */
  readonly address: string
  /** Identity across discovery updates: the address, plus `#n` for its n-th repeat in one list. */
  readonly key: string
  /** As discovered; its `healthFlags` are the EDS-health bits. */
  snapshot: HostSnapshot
  /** Active health check, outlier and pending-removal bits (HealthFlag). */
  flags = 0
  /** Slot in the cluster's HostMonitorMemory, -1 while it has none. */
  monitorSlot = -1

  constructor(snapshot: HostSnapshot, key?: string) {
    this.snapshot = snapshot
    this.address = snapshotAddressString(snapshot)
    this.key = key ?? this.address
  }

  healthFlags(): number {
    return this.snapshot.healthFlags | this.flags
  }

  healthFlagGet(flag: number): boolean {
    return (this.flags & flag) !== 0
  }

  healthFlagSet(flag: number): void {
    this.flags |= flag
  }

  healthFlagClear(flag: number): void {
    this.flags &= ~flag
  }

  disableActiveHealthCheck(): boolean {
    return this.snapshot.disableActiveHealthCheck === true
  }

  healthCheckTarget(): HealthCheckTarget {
    const s = this.snapshot
    if (s.healthCheckAddress !== undefined) return s.healthCheckAddress
    return { ip: s.ip, port: s.healthCheckPort ?? s.port, family: s.family }
  }

  /** What workers get: the discovered endpoint with every health bit and its monitor slot. */
  toSnapshot(): HostSnapshot {
    const out: HostSnapshot = { ...this.snapshot, healthFlags: this.healthFlags() }
    if (this.monitorSlot >= 0) out.monitorSlot = this.monitorSlot
    return out
  }
}
