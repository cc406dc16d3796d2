import type { Counter, Scope } from '../../envoy/stats/stats.js'
import type {
  ClusterInfo, ClusterTrafficStats, ResourceManager, ResourcePriority,
} from '../../envoy/upstream/cluster-info.js'
import { DEFAULT_BUFFER_LIMIT } from '../network/connection-impl.js'
import { durationToMs } from '../protobuf/duration.js'
import type { Cluster } from '../protobuf/generated/envoy/config/cluster/v3.js'
import { ResourceManagerImpl, resourceLimits } from './resource-manager-impl.js'

/** Envoy's default `connect_timeout`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000

/** The cluster's traffic stats plus the load-balancer ones kept in the same scope. */
export interface ClusterStats extends ClusterTrafficStats {
  readonly lb_healthy_panic: Counter
}

const COUNTERS = [
  'upstream_cx_total', 'upstream_cx_connect_fail', 'upstream_cx_connect_timeout',
  'upstream_cx_connect_attempts_exceeded', 'upstream_cx_overflow', 'upstream_cx_none_healthy',
  'upstream_cx_destroy', 'upstream_cx_destroy_local', 'upstream_cx_destroy_remote',
  'upstream_cx_destroy_with_active_rq', 'upstream_cx_destroy_local_with_active_rq', 'upstream_cx_destroy_remote_with_active_rq',
  'upstream_cx_rx_bytes_total', 'upstream_cx_tx_bytes_total',
  'upstream_flow_control_paused_reading_total', 'upstream_flow_control_resumed_reading_total',
  'upstream_rq_total', 'upstream_rq_pending_total', 'upstream_rq_pending_overflow', 'lb_healthy_panic',
  'upstream_cx_http1_total', 'upstream_cx_idle_timeout', 'upstream_cx_protocol_error', 'upstream_rq_completed',
  'upstream_rq_retry', 'upstream_rq_retry_success', 'upstream_rq_retry_overflow', 'upstream_rq_retry_limit_exceeded',
  'upstream_rq_retry_backoff_exponential', 'upstream_rq_retry_reused_connection', 'upstream_rq_timeout', 'upstream_rq_per_try_timeout', 'upstream_rq_per_try_idle_timeout',
  'upstream_rq_rx_reset', 'upstream_rq_tx_reset', 'upstream_rq_cancelled', 'upstream_rq_max_duration_reached',
] as const
const GAUGES = [
  'upstream_cx_active', 'upstream_cx_rx_bytes_buffered', 'upstream_cx_tx_bytes_buffered',
  'upstream_rq_active', 'upstream_rq_pending_active',
] as const

function clusterStats(scope: Scope): ClusterStats {
  const s: Record<string, unknown> = {}
  for (const n of COUNTERS) s[n] = scope.counter(n)
  for (const n of GAUGES) s[n] = scope.gauge(n)
  s.upstream_cx_connect_ms = scope.histogram('upstream_cx_connect_ms', 'Milliseconds')
  s.upstream_cx_length_ms = scope.histogram('upstream_cx_length_ms', 'Milliseconds')
  s.upstream_rq_time = scope.histogram('upstream_rq_time', 'Milliseconds')
  return s as unknown as ClusterStats
}

export interface ClusterInfoOptions {
  /** The thread's stat store (or any root scope); stats go under `cluster.<observability name>.`. */
  store: Scope
  /** The cluster snapshot's shared circuit-breaker counts. */
  resources: SharedArrayBuffer
  /**
   * Main thread only, once per cluster: set the circuit-breaker gauges' starting values (workers
   * only add the changes they cause).
   */
  initializeGauges?: boolean
}

/**
 * Static facts about a cluster (Envoy's ClusterInfoImpl). Built from the validated config on
 * main and again on every worker; stats and circuit breakers are shared through stat memory and
 * the snapshot's `resources` buffer, so every copy counts into the same totals.
 */
export class ClusterInfoImpl implements ClusterInfo {
  readonly name: string
  readonly observabilityName: string
  readonly config: Cluster
  readonly connectTimeoutMs: number
  readonly perConnectionBufferLimitBytes: number
  readonly scope: Scope
  readonly stats: ClusterStats
  private readonly managers: Record<ResourcePriority, ResourceManagerImpl>
  /** By code; retried answers under the negated code. */
  private readonly codeCounters = new Map<number, readonly Counter[]>()

  constructor(config: Cluster, o: ClusterInfoOptions) {
    this.name = config.name
    this.observabilityName = config.alt_stat_name !== '' ? config.alt_stat_name : config.name
    this.config = config
    this.connectTimeoutMs = durationToMs(config.connect_timeout, DEFAULT_CONNECT_TIMEOUT_MS)
    this.perConnectionBufferLimitBytes = config.per_connection_buffer_limit_bytes ?? DEFAULT_BUFFER_LIMIT
    this.scope = o.store.createScope(`cluster.${this.observabilityName}`)
    this.stats = clusterStats(this.scope)
    const manager = (priority: ResourcePriority): ResourceManagerImpl =>
      new ResourceManagerImpl({ buffer: o.resources, priority, limits: resourceLimits(config, priority), scope: this.scope })
    this.managers = { default: manager('default'), high: manager('high') }
    if (o.initializeGauges === true) {
      this.managers.default.initializeGauges()
      this.managers.high.initializeGauges()
    }
  }

  resourceManager(priority: ResourcePriority): ResourceManager {
    return this.managers[priority]
  }

  responseCodeCounters(code: number, retried: boolean): readonly Counter[] {
    const key = retried ? -code : code
    let counters = this.codeCounters.get(key)
    if (counters === undefined) {
      const scope = retried ? this.scope.createScope('retry') : this.scope
      counters = [scope.counter(`upstream_rq_${code}`), scope.counter(`upstream_rq_${Math.floor(code / 100)}xx`)]
      if (retried) counters = [...counters, scope.counter('upstream_rq_completed')]
      this.codeCounters.set(key, counters)
    }
    return counters
  }

  /** The limits in force for a priority (`/clusters` prints them). */
  resourceManagerImpl(priority: ResourcePriority): ResourceManagerImpl {
    return this.managers[priority]
  }
}
