/**
 * What the data path reports about each upstream host (Envoy's Upstream::Outlier::DetectorHostMonitor
 * and Upstream::HealthCheckHostMonitor). Workers call these; main's outlier detector and health
 * checker act on them. Calls never throw and never block.
 */

/** The outcome of one attempt at a host (Envoy's Upstream::Outlier::Result). */
export const OutlierResult = {
  /** A non-HTTP transaction failed at the upstream (counted like a 5xx). */
  ExtOriginRequestFailed: 0,
  /** A non-HTTP transaction succeeded at the upstream. */
  ExtOriginRequestSuccess: 1,
  /** The connection (or the stream on it) failed locally: refused, reset, closed. */
  LocalOriginConnectFailed: 2,
  /** Connected; a higher-level result (an HTTP status) follows. */
  LocalOriginConnectSuccess: 3,
  /** Connected, and nothing more will be reported for this attempt (tcp_proxy). */
  LocalOriginConnectSuccessFinal: 4,
  /** The connect or the request timed out. */
  LocalOriginTimeout: 5,
} as const

export type OutlierResultValue = (typeof OutlierResult)[keyof typeof OutlierResult]

/**
 * One host's outlier monitor on a worker. Results go to memory shared with main; main's
 * detector reads them (consecutive-failure streaks at once, success rates every `interval`).
 * A cluster without `outlier_detection` has a monitor that ignores everything.
 */
export interface DetectorHostMonitor {
  /** An HTTP response status from the host (before any retry decision, as in Envoy's router). */
  putHttpResponseCode(code: number): void
  /**
   * A connection-level or non-HTTP result. `code` (an HTTP status to count instead) is used
   * when local and external errors are not split, e.g. 504 for a router timeout.
   */
  putResult(result: OutlierResultValue, code?: number): void
}

/** Reports from the data path to main's active health checker for one host. */
export interface HealthCheckHostMonitor {
  /**
   * The host answered a request with `x-envoy-immediate-health-check-fail`: main fails and
   * excludes it at once (a passive health check failure). Ignored without active health checks.
   */
  setUnhealthy(type: 'ImmediateHealthCheckFail'): void
}
