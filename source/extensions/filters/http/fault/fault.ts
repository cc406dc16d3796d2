import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import {
  FilterDataStatus, type FilterDataStatusValue, FilterHeadersStatus, type FilterHeadersStatusValue, FilterTrailersStatus,
  type FilterTrailersStatusValue, type StreamDecoderFilterCallbacks, type StreamEncoderFilterCallbacks, type StreamFilter,
} from '../../../../envoy/http/filter.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'
import type { RuntimeSnapshot } from '../../../../envoy/runtime/runtime.js'
import type { Counter, Gauge, Scope } from '../../../../envoy/stats/stats.js'
import { ResponseFlag } from '../../../../envoy/stream-info/stream-info.js'
import { type FaultTimers, StreamRateLimiter } from './stream-rate-limiter.js'
import { PassThroughFilter } from '../common/pass-through-filter.js'

export const FAULT_FILTER_NAME = 'envoy.filters.http.fault'
/** Envoy's local reply body and response code details of an injected abort. */
export const FAULT_ABORT_BODY = 'fault filter abort'
export const FAULT_ABORT_DETAILS = 'fault_filter_abort'

/** Request headers that control header faults, and the ones that scope faults to a caller. */
export const FaultHeaders = {
  abort: 'x-envoy-fault-abort-request',
  abortGrpc: 'x-envoy-fault-abort-grpc-request',
  abortPercentage: 'x-envoy-fault-abort-request-percentage',
  delay: 'x-envoy-fault-delay-request',
  delayPercentage: 'x-envoy-fault-delay-request-percentage',
  throughput: 'x-envoy-fault-throughput-response',
  throughputPercentage: 'x-envoy-fault-throughput-response-percentage',
  downstreamCluster: 'x-envoy-downstream-service-cluster',
  downstreamNode: 'x-envoy-downstream-service-node',
} as const

/** Envoy's default runtime keys (each overridable in the config). */
export const DEFAULT_RUNTIME_KEYS = {
  delayPercent: 'fault.http.delay.fixed_delay_percent',
  abortPercent: 'fault.http.abort.abort_percent',
  delayDuration: 'fault.http.delay.fixed_duration_ms',
  abortHttpStatus: 'fault.http.abort.http_status',
  abortGrpcStatus: 'fault.http.abort.grpc_status',
  maxActiveFaults: 'fault.http.max_active_faults',
  responseRateLimitPercent: 'fault.http.rate_limit.response_percent',
} as const

export type FaultRuntimeKeys = { readonly [K in keyof typeof DEFAULT_RUNTIME_KEYS]: string }

export interface Fraction {
  readonly numerator: number
  readonly denominator: number
}

/**
 * One fault configuration (Envoy's FaultSettings), from the filter config or from a route's
 * `typed_per_filter_config`. A header fault takes its value from the request; its percentage
 * header can only lower the configured percentage.
 */
export interface FaultSettings {
  /** `fixedMs` undefined: the delay comes from `x-envoy-fault-delay-request`. */
  readonly delay: { readonly fixedMs: number | undefined; readonly percentage: Fraction } | undefined
  /** `header`: status from `x-envoy-fault-abort-request` / `x-envoy-fault-abort-grpc-request`. */
  readonly abort: {
    readonly httpStatus: number | undefined
    readonly grpcStatus: number | undefined
    readonly header: boolean
    readonly percentage: Fraction
  } | undefined
  /** `fixedKbps` undefined: the limit comes from `x-envoy-fault-throughput-response`. */
  readonly responseRateLimit: { readonly fixedKbps: number | undefined; readonly percentage: Fraction } | undefined
  readonly upstreamCluster: string
  readonly matchers: ReadonlyArray<(headers: HeaderMap) => boolean>
  readonly downstreamNodes: ReadonlySet<string>
  readonly maxActiveFaults: number | undefined
  readonly runtimeKeys: FaultRuntimeKeys
  readonly disableDownstreamClusterStats: boolean
  readonly filterMetadata: Record<string, unknown> | undefined
}

/** `http.<stat_prefix>.fault.*` (Envoy's FaultFilterStats). */
export interface FaultStats {
  delays_injected: Counter
  aborts_injected: Counter
  response_rl_injected: Counter
  faults_overflow: Counter
  active_faults: Gauge
}

export function faultStats(scope: Scope): FaultStats {
  return {
    delays_injected: scope.counter('delays_injected'),
    aborts_injected: scope.counter('aborts_injected'),
    response_rl_injected: scope.counter('response_rl_injected'),
    faults_overflow: scope.counter('faults_overflow'),
    active_faults: scope.gauge('active_faults', 'Accumulate'),
  }
}

/** The filter-level state shared by every request of this thread. */
export interface FaultFilterConfig {
  readonly settings: FaultSettings
  readonly stats: FaultStats
  /** `http.<stat_prefix>.fault.`, for the per-downstream-cluster counters. */
  readonly statsScope: Scope
  /** Process-wide count of active faults of this filter config (slot 0), for `max_active_faults`. */
  readonly activeFaults: Int32Array
  readonly runtime: () => RuntimeSnapshot
  /** Uniform random integer, one per percentage check. */
  readonly random: () => number
  readonly timers: FaultTimers
}

const SETTINGS = Symbol('fault settings')

/** Tags built settings so a per-route config can be told from another filter's. */
export function makeFaultSettings(s: FaultSettings): FaultSettings {
  return Object.assign(Object.create(null) as object, s, { [SETTINGS]: true }) as FaultSettings
}

function isFaultSettings(v: unknown): v is FaultSettings {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[SETTINGS] === true
}

/**
 * Envoy's `featureEnabled(key, FractionalPercent)`: a runtime integer is a percentage (above
 * 100: always), a runtime `<key>.numerator` / `.denominator` pair a fraction, else `f`.
 */
function fractionEnabled(runtime: RuntimeSnapshot, key: string, f: Fraction, draw: number): boolean {
  let { numerator, denominator } = f
  const v = key === '' ? undefined : runtime.get(key)?.trim()
  const n = key === '' ? undefined : runtime.get(`${key}.numerator`)?.trim()
  if (v !== undefined && /^\d+$/.test(v)) {
    if (Number(v) > 100) return true
    numerator = Number(v)
    denominator = 100
  } else if (n !== undefined && /^\d+$/.test(n)) {
    numerator = Number(n)
    denominator = ({ HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as Record<string, number>)[runtime.get(`${key}.denominator`) ?? 'HUNDRED'] ?? 100
  }
  return draw % denominator < numerator
}

function headerUint(headers: HeaderMap, name: string): number | undefined {
  const v = headers.get(name)?.trim()
  if (v === undefined || !/^\d+$/.test(v)) return undefined
  const n = Number(v)
  return Number.isSafeInteger(n) ? n : undefined
}

/** A header fault's percentage: the header's numerator, capped by the configured one. */
function headerPercentage(headers: HeaderMap, name: string, configured: Fraction): Fraction {
  const n = headerUint(headers, name)
  return n === undefined ? configured : { numerator: Math.min(n, configured.numerator), denominator: configured.denominator }
}

/**
 * Envoy's fault injection filter: delays requests (the request waits on a timer, then goes on
 * or is aborted), aborts them with an HTTP or gRPC status, or throttles the response body, for
 * requests that match `headers`, `upstream_cluster` and `downstream_nodes`, each with its own
 * percentage. A route's `typed_per_filter_config` replaces the filter's settings.
 */
export class FaultFilter extends PassThroughFilter implements StreamFilter {
  private readonly config: FaultFilterConfig
  private decoder: StreamDecoderFilterCallbacks | undefined
  private encoder: StreamEncoderFilterCallbacks | undefined
  private settings: FaultSettings
  private requestHeaders: HeaderMap | undefined
  private downstreamCluster = ''
  private delayTimer: unknown
  private faultActive = false
  private limiter: StreamRateLimiter | undefined
  private metadataSet = false

  constructor(config: FaultFilterConfig) {
    super()
    this.config = config
    this.settings = config.settings
  }

  // Http.StreamDecoderFilter
  override setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.decoder = callbacks
  }

  override decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    void endStream
    const perRoute = this.decoder!.perFilterConfig<unknown>(FAULT_FILTER_NAME)
    this.settings = isFaultSettings(perRoute) ? perRoute : this.config.settings
    const s = this.settings
    if (!this.matchesUpstreamCluster() || !this.matchesDownstreamNodes(headers)) return FilterHeadersStatus.Continue
    if (!s.matchers.every((m) => m(headers))) return FilterHeadersStatus.Continue
    this.requestHeaders = headers
    this.downstreamCluster = headers.get(FaultHeaders.downstreamCluster) ?? ''

    this.maybeSetupResponseRateLimit(headers)

    const delayMs = this.delayDuration(headers)
    if (delayMs !== undefined && this.tryIncActiveFaults()) {
      const cb = this.decoder!
      this.delayTimer = this.config.timers.setTimeout(() => cb.dispatch(() => this.postDelayInjection()), delayMs)
      cb.log.debug({ delayMs }, 'fault: delaying request')
      this.recordInjected('delays_injected')
      cb.streamInfo().setResponseFlag(ResponseFlag.DelayInjected)
      this.setMetadata()
      return FilterHeadersStatus.StopIteration
    }
    const { http, grpc } = this.abortStatus(headers)
    if (http !== undefined && this.tryIncActiveFaults()) {
      this.abortWithStatus(http, grpc)
      return FilterHeadersStatus.StopIteration
    }
    return FilterHeadersStatus.Continue
  }

  override decodeData(data: BufferInstance, endStream: boolean): FilterDataStatusValue {
    void data
    void endStream
    // While delayed, hold the body under flow control.
    return this.delayTimer === undefined ? FilterDataStatus.Continue : FilterDataStatus.StopIterationAndWatermark
  }

  override decodeTrailers(trailers: HeaderMap): FilterTrailersStatusValue {
    void trailers
    return this.delayTimer === undefined ? FilterTrailersStatus.Continue : FilterTrailersStatus.StopIteration
  }

  onDestroy(): void {
    if (this.delayTimer !== undefined) this.config.timers.clearTimeout(this.delayTimer)
    this.delayTimer = undefined
    this.limiter?.destroy()
    this.releaseActiveFault()
  }

  // Http.StreamEncoderFilter
  override setEncoderFilterCallbacks(callbacks: StreamEncoderFilterCallbacks): void {
    this.encoder = callbacks
  }

  override encodeData(data: BufferInstance, endStream: boolean): FilterDataStatusValue {
    if (this.limiter === undefined) return FilterDataStatus.Continue
    this.limiter.writeData(data, endStream)
    return FilterDataStatus.StopIterationNoBuffer
  }

  override encodeTrailers(trailers: HeaderMap): FilterTrailersStatusValue {
    void trailers
    if (this.limiter === undefined) return FilterTrailersStatus.Continue
    return this.limiter.onTrailers() ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue
  }

  // Matching.

  private matchesUpstreamCluster(): boolean {
    const want = this.settings.upstreamCluster
    if (want === '') return true
    const entry = this.decoder!.route()?.routeEntry
    return entry !== undefined && entry.clusterName() === want
  }

  private matchesDownstreamNodes(headers: HeaderMap): boolean {
    const nodes = this.settings.downstreamNodes
    if (nodes.size === 0) return true
    const node = headers.get(FaultHeaders.downstreamNode)
    return node !== undefined && nodes.has(node)
  }

  // Deciding.

  private runtime(): RuntimeSnapshot {
    return this.config.runtime()
  }

  /** The downstream cluster's runtime key when the request names one (Envoy's `fault.http.<cluster>.*`). */
  private clusterKey(suffix: string): string | undefined {
    return this.downstreamCluster === '' ? undefined : `fault.http.${this.downstreamCluster}.${suffix}`
  }

  private enabled(clusterSuffix: string, genericKey: string, percentage: Fraction): boolean {
    return fractionEnabled(this.runtime(), this.clusterKey(clusterSuffix) ?? genericKey, percentage, this.config.random())
  }

  private delayDuration(headers: HeaderMap): number | undefined {
    const d = this.settings.delay
    if (d === undefined) return undefined
    const percentage = d.fixedMs === undefined ? headerPercentage(headers, FaultHeaders.delayPercentage, d.percentage) : d.percentage
    if (!this.enabled('delay.fixed_delay_percent', this.settings.runtimeKeys.delayPercent, percentage)) return undefined
    const configured = d.fixedMs ?? headerUint(headers, FaultHeaders.delay)
    if (configured === undefined) return undefined
    let ms = this.runtime().getInteger(this.settings.runtimeKeys.delayDuration, configured)
    const key = this.clusterKey('delay.fixed_duration_ms')
    if (key !== undefined) ms = this.runtime().getInteger(key, ms)
    return ms > 0 ? ms : undefined
  }

  /** An HTTP abort, or a gRPC one (HTTP 200 + grpc-status, as Envoy sends it); HTTP wins. */
  private abortStatus(headers: HeaderMap): { http: number | undefined; grpc: number | undefined } {
    const a = this.settings.abort
    const none = { http: undefined, grpc: undefined }
    if (a === undefined) return none
    const percentage = a.header ? headerPercentage(headers, FaultHeaders.abortPercentage, a.percentage) : a.percentage
    if (!this.enabled('abort.abort_percent', this.settings.runtimeKeys.abortPercent, percentage)) return none
    let http = a.header ? headerUint(headers, FaultHeaders.abort) : a.httpStatus
    if (a.header && http !== undefined && (http < 200 || http >= 600)) http = undefined
    if (http !== undefined) {
      const key = this.clusterKey('abort.http_status')
      const code = key !== undefined
        ? this.runtime().getInteger(key, http)
        : this.runtime().getInteger(this.settings.runtimeKeys.abortHttpStatus, http)
      return { http: code, grpc: undefined }
    }
    const grpc = a.header ? headerUint(headers, FaultHeaders.abortGrpc) : a.grpcStatus
    if (grpc !== undefined) {
      const key = this.clusterKey('abort.grpc_status')
      const status = key !== undefined
        ? this.runtime().getInteger(key, grpc)
        : this.runtime().getInteger(this.settings.runtimeKeys.abortGrpcStatus, grpc)
      return { http: 200, grpc: status }
    }
    return none
  }

  private maybeSetupResponseRateLimit(headers: HeaderMap): void {
    const r = this.settings.responseRateLimit
    if (r === undefined) return
    const kbps = r.fixedKbps ?? headerUint(headers, FaultHeaders.throughput)
    if (kbps === undefined || kbps <= 0) return
    const percentage = r.fixedKbps === undefined ? headerPercentage(headers, FaultHeaders.throughputPercentage, r.percentage) : r.percentage
    // Envoy has no per-downstream-cluster key for this one.
    if (!fractionEnabled(this.runtime(), this.settings.runtimeKeys.responseRateLimitPercent, percentage, this.config.random())) return
    if (!this.tryIncActiveFaults()) return
    this.config.stats.response_rl_injected.inc()
    const decoder = this.decoder!
    this.limiter = new StreamRateLimiter({
      kbps,
      timers: this.config.timers,
      write: (data, end) => this.encoder!.injectEncodedDataToFilterChain(data, end),
      continueTrailers: () => this.encoder!.continueEncoding(),
      dispatch: (fn) => decoder.dispatch(fn),
    })
  }

  /** Charges one active fault per request, however many faults it gets (Envoy's rule). */
  private tryIncActiveFaults(): boolean {
    if (this.faultActive) return true
    const max = this.runtime().getInteger(this.settings.runtimeKeys.maxActiveFaults, this.settings.maxActiveFaults ?? Number.MAX_SAFE_INTEGER)
    const counts = this.config.activeFaults
    for (;;) {
      const current = Atomics.load(counts, 0)
      if (current >= max) {
        this.config.stats.faults_overflow.inc()
        return false
      }
      if (Atomics.compareExchange(counts, 0, current, current + 1) === current) break
    }
    this.config.stats.active_faults.inc()
    this.faultActive = true
    return true
  }

  // Injecting.

  private postDelayInjection(): void {
    this.delayTimer = undefined
    const { http, grpc } = this.abortStatus(this.requestHeaders!)
    if (http !== undefined) {
      this.abortWithStatus(http, grpc)
      return
    }
    // The delay is over: unless a response rate limit is configured, the fault is no longer active.
    if (this.settings.responseRateLimit === undefined) this.releaseActiveFault()
    this.decoder!.continueDecoding()
  }

  private releaseActiveFault(): void {
    if (!this.faultActive) return
    this.faultActive = false
    Atomics.sub(this.config.activeFaults, 0, 1)
    this.config.stats.active_faults.dec()
  }

  private abortWithStatus(http: number, grpc: number | undefined): void {
    const cb = this.decoder!
    this.recordInjected('aborts_injected')
    cb.streamInfo().setResponseFlag(ResponseFlag.FaultInjected)
    this.setMetadata()
    const isGrpc = (this.requestHeaders?.get('content-type') ?? '').startsWith('application/grpc')
    if (grpc === undefined || !isGrpc) {
      cb.sendLocalReply(http, FAULT_ABORT_BODY, FAULT_ABORT_DETAILS)
      return
    }
    // A trailers-only gRPC answer. Envoy's sendLocalReply takes the gRPC status; ours has no
    // such parameter, so the filter shapes the reply itself.
    cb.sendLocalReply(http, '', FAULT_ABORT_DETAILS, (h) => {
      h.set('content-type', 'application/grpc')
      h.set('grpc-status', String(grpc))
      h.set('grpc-message', FAULT_ABORT_BODY)
    })
  }

  private recordInjected(name: 'delays_injected' | 'aborts_injected'): void {
    if (this.downstreamCluster !== '' && !this.settings.disableDownstreamClusterStats) {
      this.config.statsScope.counter(`${this.downstreamCluster}.${name}`).inc()
    }
    this.config.stats[name].inc()
  }

  private setMetadata(): void {
    const m = this.settings.filterMetadata
    if (m === undefined || this.metadataSet) return
    this.metadataSet = true
    const info = this.decoder!.streamInfo()
    info.dynamicMetadata[FAULT_FILTER_NAME] = { ...info.dynamicMetadata[FAULT_FILTER_NAME], ...m }
  }
}
