/**
 * JSON-lines event logs of health checking (`HealthCheck.event_log_path`, Envoy's
 * data.core.v3.HealthCheckEvent) and outlier detection (`cluster_manager.outlier_detection.
 * event_log_path`, data.cluster.v3.OutlierDetectionEvent). Fields appear in the proto's
 * declaration order with default scalars printed, as Envoy's JSON printer writes them.
 */
import type { AccessLogFile } from '../../envoy/access-log/access-log.js'
import type { ClusterHost } from './cluster-host.js'

export type HealthCheckerType = 'HTTP' | 'TCP'
export type HealthCheckFailureType = 'ACTIVE' | 'PASSIVE' | 'NETWORK' | 'NETWORK_TIMEOUT'

/** google.protobuf.Timestamp JSON: RFC 3339, fraction only when non-zero. */
export function timestampJson(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z')
}

/** config.core.v3.Address JSON of a host. */
export function addressJson(host: ClusterHost): Record<string, unknown> {
  const s = host.snapshot
  if (s.family === 0) return { pipe: { path: s.ip, mode: 0 } }
  return { socket_address: { protocol: 'TCP', address: s.ip, port_value: s.port, resolver_name: '', ipv4_compat: false } }
}

export class HealthCheckEventLogger {
  private readonly file: AccessLogFile
  private readonly clusterName: string
  private readonly type: HealthCheckerType
  private readonly wallNow: () => number

  constructor(file: AccessLogFile, clusterName: string, type: HealthCheckerType, wallNow: () => number) {
    this.file = file
    this.clusterName = clusterName
    this.type = type
    this.wallNow = wallNow
  }

  logEjectUnhealthy(host: ClusterHost, failureType: HealthCheckFailureType): void {
    this.write(host, 'eject_unhealthy_event', { failure_type: failureType })
  }

  logUnhealthy(host: ClusterHost, failureType: HealthCheckFailureType, firstCheck: boolean): void {
    this.write(host, 'health_check_failure_event', { failure_type: failureType, first_check: firstCheck })
  }

  logAddHealthy(host: ClusterHost, firstCheck: boolean): void {
    this.write(host, 'add_healthy_event', { first_check: firstCheck })
  }

  logSuccessfulHealthCheck(host: ClusterHost): void {
    this.write(host, 'successful_health_check_event', {})
  }

  logDegraded(host: ClusterHost): void {
    this.write(host, 'degraded_healthy_host', {})
  }

  logNoLongerDegraded(host: ClusterHost): void {
    this.write(host, 'no_longer_degraded_host', {})
  }

  private write(host: ClusterHost, kind: string, body: Record<string, unknown>): void {
    const event = {
      health_checker_type: this.type,
      host: addressJson(host),
      cluster_name: this.clusterName,
      [kind]: body,
      timestamp: timestampJson(this.wallNow()),
    }
    this.file.write(`${JSON.stringify(event)}\n`)
  }
}

/** data.cluster.v3.OutlierEjectionType names. */
export type OutlierEjectionType =
  | 'CONSECUTIVE_5XX' | 'CONSECUTIVE_GATEWAY_FAILURE' | 'SUCCESS_RATE' | 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE'
  | 'SUCCESS_RATE_LOCAL_ORIGIN' | 'FAILURE_PERCENTAGE' | 'FAILURE_PERCENTAGE_LOCAL_ORIGIN'

/** What an ejection event carries besides the host (Envoy reads it from the detector). */
export interface EjectDetails {
  hostSuccessRate?: number
  clusterAverageSuccessRate?: number
  clusterSuccessRateEjectionThreshold?: number
}

export interface OutlierEventHost {
  readonly host: ClusterHost
  readonly numEjections: number
  /** Monotonic ms of the other action (uneject before an eject, eject before an uneject). */
  readonly lastActionMs: number | undefined
}

export class OutlierEventLogger {
  private readonly file: AccessLogFile
  private readonly now: () => number
  private readonly wallNow: () => number

  constructor(file: AccessLogFile, now: () => number, wallNow: () => number) {
    this.file = file
    this.now = now
    this.wallNow = wallNow
  }

  logEject(cluster: string, h: OutlierEventHost, type: OutlierEjectionType, enforced: boolean, d: EjectDetails = {}): void {
    let detail: Record<string, unknown>
    if (type === 'SUCCESS_RATE' || type === 'SUCCESS_RATE_LOCAL_ORIGIN') {
      detail = {
        eject_success_rate_event: {
          host_success_rate: Math.floor(d.hostSuccessRate ?? 0),
          cluster_average_success_rate: Math.floor(d.clusterAverageSuccessRate ?? 0),
          cluster_success_rate_ejection_threshold: Math.floor(d.clusterSuccessRateEjectionThreshold ?? 0),
        },
      }
    } else if (type === 'FAILURE_PERCENTAGE' || type === 'FAILURE_PERCENTAGE_LOCAL_ORIGIN') {
      detail = { eject_failure_percentage_event: { host_success_rate: Math.floor(d.hostSuccessRate ?? 0) } }
    } else {
      detail = { eject_consecutive_event: {} }
    }
    this.write(cluster, h, type, 'EJECT', enforced, detail)
  }

  logUneject(cluster: string, h: OutlierEventHost): void {
    // `type` is unset on an uneject; the JSON printer shows the enum's zero value.
    this.write(cluster, h, 'CONSECUTIVE_5XX', 'UNEJECT', false, {})
  }

  private write(cluster: string, h: OutlierEventHost, type: OutlierEjectionType, action: string, enforced: boolean, detail: Record<string, unknown>): void {
    const event: Record<string, unknown> = { type, timestamp: timestampJson(this.wallNow()) }
    // google.protobuf.UInt64Value: a string in JSON.
    if (h.lastActionMs !== undefined) event.secs_since_last_action = String(Math.floor((this.now() - h.lastActionMs) / 1000))
    Object.assign(event, {
      cluster_name: cluster, upstream_url: h.host.address, action, num_ejections: h.numEjections, enforced, ...detail,
    })
    this.file.write(`${JSON.stringify(event)}\n`)
  }
}
