import { createAccessLogs } from '../../../../common/access-log/access-log-impl.js'
import { durationToMs } from '../../../../common/protobuf/duration.js'
import type { TcpProxy } from '../../../../common/protobuf/generated/envoy/extensions/filters/network/tcp_proxy/v3.js'
import type { AccessLogInstance } from '../../../../envoy/access-log/access-log.js'
import type { FactoryContext } from '../../../../envoy/network/filter.js'
import type { Counter, Gauge } from '../../../../envoy/stats/stats.js'

/** `tcp.<stat_prefix>.*`, Envoy's TCP proxy stats. */
export interface TcpProxyStats {
  downstream_cx_total: Counter
  downstream_cx_no_route: Counter
  downstream_cx_tx_bytes_total: Counter
  downstream_cx_tx_bytes_buffered: Gauge
  downstream_cx_rx_bytes_total: Counter
  downstream_cx_rx_bytes_buffered: Gauge
  downstream_flow_control_paused_reading_total: Counter
  downstream_flow_control_resumed_reading_total: Counter
  idle_timeout: Counter
  max_downstream_connection_duration: Counter
  upstream_flush_total: Counter
  upstream_flush_active: Gauge
}

const DEFAULT_IDLE_TIMEOUT_MS = 60 * 60 * 1000

/**
 * Everything about a tcp_proxy config that does not change per connection, built once per
 * listener on each worker (Envoy's TcpProxy::Config).
 */
export class TcpProxyConfig {
  readonly stats: TcpProxyStats
  /** 0 disables. */
  readonly idleTimeoutMs: number
  readonly maxConnectAttempts: number
  readonly backoffBaseMs: number
  readonly backoffMaxMs: number
  readonly maxDownstreamDurationMs: number
  readonly durationJitterPercent: number
  readonly accessLogs: AccessLogInstance[]
  readonly accessLogFlushIntervalMs: number
  readonly flushAccessLogOnConnected: boolean
  readonly hashSourceIp: boolean
  readonly hashFilterStateKey: string | undefined
  private readonly clusters: ReadonlyArray<{ name: string; weight: number }>
  private readonly totalWeight: number

  constructor(c: TcpProxy, ctx: FactoryContext, path: string) {
    const scope = ctx.scope.createScope(`tcp.${c.stat_prefix}`)
    this.stats = {
      downstream_cx_total: scope.counter('downstream_cx_total'),
      downstream_cx_no_route: scope.counter('downstream_cx_no_route'),
      downstream_cx_tx_bytes_total: scope.counter('downstream_cx_tx_bytes_total'),
      downstream_cx_tx_bytes_buffered: scope.gauge('downstream_cx_tx_bytes_buffered'),
      downstream_cx_rx_bytes_total: scope.counter('downstream_cx_rx_bytes_total'),
      downstream_cx_rx_bytes_buffered: scope.gauge('downstream_cx_rx_bytes_buffered'),
      downstream_flow_control_paused_reading_total: scope.counter('downstream_flow_control_paused_reading_total'),
      downstream_flow_control_resumed_reading_total: scope.counter('downstream_flow_control_resumed_reading_total'),
      idle_timeout: scope.counter('idle_timeout'),
      max_downstream_connection_duration: scope.counter('max_downstream_connection_duration'),
      upstream_flush_total: scope.counter('upstream_flush_total'),
      upstream_flush_active: scope.gauge('upstream_flush_active'),
    }
    this.clusters = c.cluster !== undefined
      ? [{ name: c.cluster, weight: 1 }]
      : (c.weighted_clusters?.clusters ?? []).map((w) => ({ name: w.name, weight: w.weight }))
    this.totalWeight = this.clusters.reduce((s, w) => s + w.weight, 0)
    this.idleTimeoutMs = durationToMs(c.idle_timeout, DEFAULT_IDLE_TIMEOUT_MS)
    this.maxConnectAttempts = c.max_connect_attempts ?? 1
    this.backoffBaseMs = durationToMs(c.backoff_options?.base_interval, 0)
    this.backoffMaxMs = durationToMs(c.backoff_options?.max_interval, this.backoffBaseMs * 10)
    this.maxDownstreamDurationMs = durationToMs(c.max_downstream_connection_duration, 0)
    this.durationJitterPercent = c.max_downstream_connection_duration_jitter_percentage?.value ?? 0
    this.accessLogs = createAccessLogs(c.access_log, `${path}.access_log`, ctx.registry, { accessLogManager: ctx.accessLogManager, log: ctx.log })
    this.accessLogFlushIntervalMs = durationToMs(c.access_log_options?.access_log_flush_interval ?? c.access_log_flush_interval, 0)
    this.flushAccessLogOnConnected = c.access_log_options?.flush_access_log_on_connected ?? c.flush_access_log_on_connected
    this.hashSourceIp = c.hash_policy.some((h) => h.source_ip !== undefined)
    this.hashFilterStateKey = c.hash_policy.find((h) => h.filter_state !== undefined)?.filter_state?.key
  }

  /** The cluster for a new connection: weighted_clusters pick by weight. */
  pickCluster(random: number = Math.random()): string | undefined {
    if (this.clusters.length <= 1) return this.clusters[0]?.name
    let target = random * this.totalWeight
    for (const c of this.clusters) {
      target -= c.weight
      if (target < 0) return c.name
    }
    return this.clusters.at(-1)!.name
  }

  /** Back-off before connect attempt number `attempt` (2, 3, ...), full jitter as Envoy's. */
  backoffMs(attempt: number): number {
    if (this.backoffBaseMs <= 0) return 0
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 2))
    return Math.random() * ceiling
  }
}
