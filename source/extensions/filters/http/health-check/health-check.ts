import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import {
  FilterDataStatus, type FilterDataStatusValue, FilterHeadersStatus, type FilterHeadersStatusValue, FilterTrailersStatus,
  type FilterTrailersStatusValue, type StreamDecoderFilterCallbacks, type StreamFilter,
} from '../../../../envoy/http/filter.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'
import { ResponseFlag } from '../../../../envoy/stream-info/stream-info.js'
import type { ClusterManager } from '../../../../envoy/upstream/cluster-manager.js'
import { PassThroughFilter } from '../common/pass-through-filter.js'

/** Envoy's response code details of the health check filter. */
export const HealthCheckDetails = {
  Ok: 'health_check_ok',
  Failed: 'health_check_failed',
  Cached: 'health_check_cached',
  ClusterHealthy: 'health_check_ok_cluster_healthy',
  NoCluster: 'health_check_failed_no_cluster_found',
  ClusterEmpty: 'health_check_failed_cluster_empty',
  ClusterUnhealthy: 'health_check_failed_cluster_unhealthy',
} as const

/** Set on every response while `/healthcheck/fail` is in effect, so downstream Envoys drop us at once. */
export const IMMEDIATE_HEALTH_CHECK_FAIL = 'x-envoy-immediate-health-check-fail'
export const ENVOY_DEGRADED = 'x-envoy-degraded'

/** Int32 slots of a cache: status, degraded flag, then a 64-bit stamp (8-byte aligned). */
export const HEALTH_CHECK_CACHE_SLOTS = 4

/**
 * `cache_time` in pass-through mode (Envoy's HealthCheckCacheManager): the last upstream answer
 * to a health check is reused for `cache_time`. Process-wide, as in Envoy: the state lives in
 * shared memory so every worker reuses the same answer.
 */
export class HealthCheckCacheManager {
  private readonly slots: Int32Array
  private readonly stamp: BigInt64Array
  private readonly cacheTimeMs: number
  private readonly now: () => number

  constructor(memory: Int32Array, cacheTimeMs: number, now: () => number = () => performance.timeOrigin + performance.now()) {
    if (memory.length < HEALTH_CHECK_CACHE_SLOTS || memory.byteOffset % 8 !== 0) throw new RangeError('health check cache needs 16 aligned bytes')
    this.slots = memory
    this.stamp = new BigInt64Array(memory.buffer, memory.byteOffset + 8, 1)
    this.cacheTimeMs = cacheTimeMs
    this.now = now
  }

  /** A cached answer exists and is younger than `cache_time`. */
  useCachedResponse(): boolean {
    const at = Atomics.load(this.stamp, 0)
    if (at === 0n) return false
    return this.now() - (Number(at) - 1) < this.cacheTimeMs
  }

  getCachedResponse(): { code: number; degraded: boolean } {
    return { code: Atomics.load(this.slots, 0), degraded: Atomics.load(this.slots, 1) !== 0 }
  }

  setCachedResponse(code: number, degraded: boolean): void {
    Atomics.store(this.slots, 0, code)
    Atomics.store(this.slots, 1, degraded ? 1 : 0)
    // Stamp last: a reader that sees the new stamp sees the new answer (stale by one at worst).
    Atomics.store(this.stamp, 0, BigInt(Math.floor(this.now())) + 1n)
  }
}

/** One filter config, shared by every request of this thread. */
export interface HealthCheckFilterConfig {
  readonly passThroughMode: boolean
  /** Every matcher must match for a request to be a health check (none: every request is one). */
  readonly matchers: ReadonlyArray<(headers: HeaderMap) => boolean>
  readonly cache: HealthCheckCacheManager | undefined
  /** `cluster_min_healthy_percentages`, sorted by cluster name (Envoy iterates a std::map). */
  readonly clusterMinHealthyPercentages: ReadonlyArray<readonly [string, number]>
  readonly healthCheckFailed: () => boolean
  readonly clusterManager: ClusterManager
}

/**
 * Envoy's health check filter. A request whose headers match is a health check: it is marked
 * in StreamInfo (so `not_health_check_filter` access log filters skip it) and answered here
 * (200, or 503 while `/healthcheck/fail` is in effect or a listed cluster is below its healthy
 * percentage), or in pass-through mode forwarded upstream unless failing or cached.
 */
export class HealthCheckFilter extends PassThroughFilter implements StreamFilter {
  private readonly config: HealthCheckFilterConfig
  private decoder: StreamDecoderFilterCallbacks | undefined
  private healthCheckRequest = false
  private handling = false

  constructor(config: HealthCheckFilterConfig) {
    super()
    this.config = config
  }

  // Http.StreamDecoderFilter
  override setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.decoder = callbacks
  }

  override decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    if (this.config.matchers.every((m) => m(headers))) {
      this.healthCheckRequest = true
      this.decoder!.streamInfo().healthCheck = true
      const c = this.config
      if (!c.passThroughMode || c.healthCheckFailed() || c.cache?.useCachedResponse() === true) this.handling = true
    }
    if (this.handling && endStream) this.onComplete()
    return this.handling ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue
  }

  override decodeData(data: BufferInstance, endStream: boolean): FilterDataStatusValue {
    void data
    if (this.handling && endStream) this.onComplete()
    return this.handling ? FilterDataStatus.StopIterationNoBuffer : FilterDataStatus.Continue
  }

  override decodeTrailers(trailers: HeaderMap): FilterTrailersStatusValue {
    void trailers
    if (this.handling) this.onComplete()
    return this.handling ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue
  }

  override encodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    void endStream
    // Only an upstream answer is cached: caching our own reply would keep it alive forever.
    if (this.healthCheckRequest && !this.handling && this.config.cache !== undefined) {
      const code = Number(headers.get(':status'))
      if (Number.isInteger(code)) this.config.cache.setCachedResponse(code, headers.has(ENVOY_DEGRADED))
    }
    // Envoy's doc: on all responses, health checks and normal requests alike.
    if (this.config.healthCheckFailed()) headers.set(IMMEDIATE_HEALTH_CHECK_FAIL, 'true')
    return FilterHeadersStatus.Continue
  }

  private onComplete(): void {
    const cb = this.decoder!
    const info = cb.streamInfo()
    let code = 200
    let details: string = HealthCheckDetails.Ok
    let degraded = false
    if (this.config.healthCheckFailed()) {
      info.setResponseFlag(ResponseFlag.FailedLocalHealthCheck)
      code = 503
      details = HealthCheckDetails.Failed
    } else {
      if (this.config.cache !== undefined && this.config.cache.useCachedResponse()) {
        const cached = this.config.cache.getCachedResponse()
        code = cached.code
        degraded = cached.degraded
        details = HealthCheckDetails.Cached
      } else if (this.config.clusterMinHealthyPercentages.length > 0) {
        ({ code, details } = this.checkClusters())
      }
      if (code < 200 || code >= 300) info.setResponseFlag(ResponseFlag.FailedLocalHealthCheck)
    }
    cb.sendLocalReply(code, '', details, degraded ? (h) => h.set(ENVOY_DEGRADED, '') : undefined)
  }

  /** 503 when a listed cluster is missing, empty (unless its minimum is 0) or below its minimum. */
  private checkClusters(): { code: number; details: string } {
    let details: string = HealthCheckDetails.Ok
    for (const [name, minPercent] of this.config.clusterMinHealthyPercentages) {
      details = HealthCheckDetails.ClusterHealthy
      const cluster = this.config.clusterManager.getThreadLocalCluster(name)
      if (cluster === undefined) return { code: 503, details: HealthCheckDetails.NoCluster }
      let total = 0
      let available = 0
      for (const hs of cluster.prioritySet.hostSetsPerPriority) {
        total += hs.hosts.length
        available += hs.healthyHosts.length + hs.degradedHosts.length
      }
      if (total === 0) {
        if (minPercent === 0) continue
        return { code: 503, details: HealthCheckDetails.ClusterEmpty }
      }
      // Degraded hosts count as available, as in Envoy.
      if (available < (total * minPercent) / 100) return { code: 503, details: HealthCheckDetails.ClusterUnhealthy }
    }
    return { code: 200, details }
  }
}
