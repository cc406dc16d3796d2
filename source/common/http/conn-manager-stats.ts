import type { Counter, Gauge, Histogram, Scope } from '../../envoy/stats/stats.js'

/** `http.<stat_prefix>.*`: Envoy's HTTP connection manager and router stats. */
export interface ConnectionManagerStats {
  downstream_cx_total: Counter
  downstream_cx_http1_total: Counter
  downstream_cx_upgrades_total: Counter
  downstream_cx_active: Gauge
  downstream_cx_http1_active: Gauge
  downstream_cx_upgrades_active: Gauge
  downstream_cx_destroy: Counter
  downstream_cx_destroy_remote: Counter
  downstream_cx_destroy_local: Counter
  downstream_cx_destroy_active_rq: Counter
  downstream_cx_destroy_local_active_rq: Counter
  downstream_cx_destroy_remote_active_rq: Counter
  downstream_cx_rx_bytes_total: Counter
  downstream_cx_tx_bytes_total: Counter
  downstream_cx_protocol_error: Counter
  /** The downstream connection stopped / started reading because an upstream could not keep up. */
  downstream_flow_control_paused_reading_total: Counter
  downstream_flow_control_resumed_reading_total: Counter
  downstream_cx_length_ms: Histogram
  downstream_cx_idle_timeout: Counter
  downstream_cx_max_duration_reached: Counter
  downstream_cx_max_requests_reached: Counter
  downstream_cx_drain_close: Counter
  downstream_cx_overload_disable_keepalive: Counter
  downstream_rq_total: Counter
  downstream_rq_http1_total: Counter
  downstream_rq_active: Gauge
  downstream_rq_response_before_rq_complete: Counter
  downstream_rq_rx_reset: Counter
  downstream_rq_tx_reset: Counter
  downstream_rq_non_relative_path: Counter
  downstream_rq_too_large: Counter
  downstream_rq_completed: Counter
  downstream_rq_1xx: Counter
  downstream_rq_2xx: Counter
  downstream_rq_3xx: Counter
  downstream_rq_4xx: Counter
  downstream_rq_5xx: Counter
  downstream_rq_ws_on_non_ws_route: Counter
  downstream_rq_time: Histogram
  downstream_rq_idle_timeout: Counter
  downstream_rq_timeout: Counter
  downstream_rq_header_timeout: Counter
  downstream_rq_max_duration_reached: Counter
  downstream_rq_failed_path_normalization: Counter
  downstream_rq_redirected_with_normalized_path: Counter
  rs_too_large: Counter
  // Router stats live under the same prefix.
  no_route: Counter
  no_cluster: Counter
  rq_redirect: Counter
  rq_direct_response: Counter
  rq_total: Counter
  rq_reset_after_downstream_response_started: Counter
}

const COUNTERS = [
  'downstream_cx_total', 'downstream_cx_http1_total', 'downstream_cx_upgrades_total', 'downstream_cx_destroy',
  'downstream_cx_destroy_remote', 'downstream_cx_destroy_local', 'downstream_cx_destroy_active_rq',
  'downstream_cx_destroy_local_active_rq', 'downstream_cx_destroy_remote_active_rq', 'downstream_cx_rx_bytes_total',
  'downstream_cx_tx_bytes_total', 'downstream_cx_protocol_error', 'downstream_cx_idle_timeout',
  'downstream_flow_control_paused_reading_total', 'downstream_flow_control_resumed_reading_total',
  'downstream_cx_max_duration_reached', 'downstream_cx_max_requests_reached', 'downstream_cx_drain_close', 'downstream_cx_overload_disable_keepalive',
  'downstream_rq_total', 'downstream_rq_http1_total', 'downstream_rq_response_before_rq_complete', 'downstream_rq_rx_reset',
  'downstream_rq_tx_reset', 'downstream_rq_non_relative_path', 'downstream_rq_too_large', 'downstream_rq_completed',
  'downstream_rq_1xx', 'downstream_rq_2xx', 'downstream_rq_3xx', 'downstream_rq_4xx', 'downstream_rq_5xx',
  'downstream_rq_ws_on_non_ws_route', 'downstream_rq_idle_timeout', 'downstream_rq_timeout', 'downstream_rq_header_timeout',
  'downstream_rq_max_duration_reached', 'downstream_rq_failed_path_normalization', 'downstream_rq_redirected_with_normalized_path',
  'rs_too_large', 'no_route', 'no_cluster', 'rq_redirect', 'rq_direct_response', 'rq_total', 'rq_reset_after_downstream_response_started',
] as const
const GAUGES = ['downstream_cx_active', 'downstream_cx_http1_active', 'downstream_cx_upgrades_active', 'downstream_rq_active'] as const

export function connectionManagerStats(scope: Scope): ConnectionManagerStats {
  const out: Record<string, unknown> = {}
  for (const c of COUNTERS) out[c] = scope.counter(c)
  for (const g of GAUGES) out[g] = scope.gauge(g)
  out.downstream_cx_length_ms = scope.histogram('downstream_cx_length_ms', 'Milliseconds')
  out.downstream_rq_time = scope.histogram('downstream_rq_time', 'Milliseconds')
  return out as unknown as ConnectionManagerStats
}
