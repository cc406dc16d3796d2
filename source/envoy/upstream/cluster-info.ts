import type { Cluster } from '../../common/protobuf/generated/envoy/config/cluster/v3.js'
import type { Histogram, Scope, Counter, Gauge } from '../stats/stats.js'

/** One circuit-breaker budget (connections, pending requests, ...), held across all workers. */
export interface Resource {
  /** Takes one unit if the limit allows; false means overflow. */
  tryAcquire(): boolean
  release(): void
  count(): number
  max(): number
}

/** Circuit breakers of one priority (Envoy's ResourceManager). */
export interface ResourceManager {
  readonly connections: Resource
  readonly pendingRequests: Resource
  readonly requests: Resource
  readonly retries: Resource
  readonly connectionPools: Resource
}

export type ResourcePriority = 'default' | 'high'

/** `cluster.<name>.*` stats used by the TCP path (HTTP adds its own). */
export interface ClusterTrafficStats {
  readonly upstream_cx_total: Counter
  readonly upstream_cx_active: Gauge
  readonly upstream_cx_connect_fail: Counter
  readonly upstream_cx_connect_timeout: Counter
  readonly upstream_cx_connect_attempts_exceeded: Counter
  readonly upstream_cx_overflow: Counter
  readonly upstream_cx_none_healthy: Counter
  readonly upstream_cx_destroy: Counter
  readonly upstream_cx_destroy_local: Counter
  readonly upstream_cx_destroy_remote: Counter
  /** Connections closed while a request was on them (HTTP pools), and by which side. */
  readonly upstream_cx_destroy_with_active_rq: Counter
  readonly upstream_cx_destroy_local_with_active_rq: Counter
  readonly upstream_cx_destroy_remote_with_active_rq: Counter
  readonly upstream_cx_rx_bytes_total: Counter
  readonly upstream_cx_tx_bytes_total: Counter
  readonly upstream_cx_rx_bytes_buffered: Gauge
  readonly upstream_cx_tx_bytes_buffered: Gauge
  readonly upstream_cx_connect_ms: Histogram
  readonly upstream_cx_length_ms: Histogram
  readonly upstream_flow_control_paused_reading_total: Counter
  readonly upstream_flow_control_resumed_reading_total: Counter
  readonly upstream_rq_total: Counter
  readonly upstream_rq_active: Gauge
  readonly upstream_rq_pending_total: Counter
  readonly upstream_rq_pending_active: Gauge
  readonly upstream_rq_pending_overflow: Counter
  readonly upstream_cx_http1_total: Counter
  readonly upstream_cx_idle_timeout: Counter
  readonly upstream_cx_protocol_error: Counter
  readonly upstream_rq_completed: Counter
  readonly upstream_rq_retry: Counter
  readonly upstream_rq_retry_success: Counter
  readonly upstream_rq_retry_overflow: Counter
  readonly upstream_rq_retry_limit_exceeded: Counter
  readonly upstream_rq_retry_backoff_exponential: Counter
  /**
   * Requests sent again on a fresh connection because the reused keep-alive connection they went
   * out on was closed before any byte of the answer (an envoy-ts addition; not a policy retry).
   */
  readonly upstream_rq_retry_reused_connection: Counter
  readonly upstream_rq_timeout: Counter
  readonly upstream_rq_per_try_timeout: Counter
  readonly upstream_rq_per_try_idle_timeout: Counter
  readonly upstream_rq_rx_reset: Counter
  readonly upstream_rq_tx_reset: Counter
  readonly upstream_rq_cancelled: Counter
  readonly upstream_rq_max_duration_reached: Counter
  readonly upstream_rq_time: Histogram
}

/** Static facts about a cluster (Envoy's ClusterInfo), the same on every worker. */
export interface ClusterInfo {
  readonly name: string
  /** `alt_stat_name` or the name: the `<name>` in `cluster.<name>.*`. */
  readonly observabilityName: string
  readonly config: Cluster
  readonly connectTimeoutMs: number
  readonly perConnectionBufferLimitBytes: number
  readonly scope: Scope
  readonly stats: ClusterTrafficStats
  resourceManager(priority: ResourcePriority): ResourceManager
  /**
   * The dynamic response stats of an upstream answer: `upstream_rq_<code>` and
   * `upstream_rq_<N>xx`, or with `retried` the `retry.` ones of an answer dropped for a retry
   * (plus `retry.upstream_rq_completed`). Created on first use, then cached.
   */
  responseCodeCounters(code: number, retried: boolean): readonly Counter[]
}
