import type { HeaderParser } from '../../../../common/router/header-parser.js'
import { FilterHeadersStatus, type FilterHeadersStatusValue, type StreamDecoderFilterCallbacks, type StreamFilter } from '../../../../envoy/http/filter.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'
import type { Connection } from '../../../../envoy/network/connection.js'
import type { RuntimeSnapshot } from '../../../../envoy/runtime/runtime.js'
import type { Counter, Scope } from '../../../../envoy/stats/stats.js'
import { ResponseFlag } from '../../../../envoy/stream-info/stream-info.js'
import {
  type Clock, SHARED_TOKEN_BUCKET_SLOTS, SharedTokenBucket, defaultClock,
} from '../../network/local-ratelimit/shared-token-bucket.js'
import { PassThroughFilter } from '../common/pass-through-filter.js'

export const LOCAL_RATELIMIT_FILTER_NAME = 'envoy.filters.http.local_ratelimit'
/** Envoy's local reply body and response code details of a rate-limited request. */
export const LOCAL_RATE_LIMITED = 'local_rate_limited'

/** `<stat_prefix>.http_local_rate_limit.*` (Envoy's LocalRateLimitStats). */
export interface HttpLocalRateLimitStats {
  enabled: Counter
  enforced: Counter
  rate_limited: Counter
  ok: Counter
}

export function httpLocalRateLimitStats(scope: Scope, statPrefix: string): HttpLocalRateLimitStats {
  const s = scope.createScope(`${statPrefix}.http_local_rate_limit`)
  return { enabled: s.counter('enabled'), enforced: s.counter('enforced'), rate_limited: s.counter('rate_limited'), ok: s.counter('ok') }
}

/** A `RuntimeFractionalPercent`. */
export interface RuntimeFraction {
  readonly runtimeKey: string
  readonly numerator: number
  readonly denominator: number
}

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }

/**
 * Envoy's `featureEnabled(key, FractionalPercent)`: a runtime integer is a percentage (above
 * 100: always), a runtime `<key>.numerator` / `.denominator` pair a fraction, else the default.
 */
function fractionEnabled(runtime: RuntimeSnapshot, f: RuntimeFraction, draw: number): boolean {
  let { numerator, denominator } = f
  const v = f.runtimeKey === '' ? undefined : runtime.get(f.runtimeKey)?.trim()
  const n = f.runtimeKey === '' ? undefined : runtime.get(`${f.runtimeKey}.numerator`)?.trim()
  if (v !== undefined && /^\d+$/.test(v)) {
    if (Number(v) > 100) return true
    numerator = Number(v)
    denominator = 100
  } else if (n !== undefined && /^\d+$/.test(n)) {
    numerator = Number(n)
    denominator = DENOMINATORS[runtime.get(`${f.runtimeKey}.denominator`) ?? 'HUNDRED'] ?? 100
  }
  return draw % denominator < numerator
}

/** The token bucket's shape, for the x-ratelimit headers and per-connection buckets. */
export interface TokenBucketParams {
  readonly maxTokens: number
  readonly tokensPerFill: number
  readonly fillIntervalMs: number
}

/** A SharedTokenBucket plus what the x-ratelimit headers need to know about it. */
export class RateLimitBucket {
  readonly params: TokenBucketParams
  private readonly bucket: SharedTokenBucket
  /** Word 0 of the bucket's memory: its start time + 1 (SharedTokenBucket's documented layout). */
  private readonly start: BigUint64Array
  private readonly now: Clock

  constructor(memory: Int32Array, params: TokenBucketParams, now: Clock = defaultClock) {
    this.params = params
    this.now = now
    this.bucket = new SharedTokenBucket({ memory, ...params, now })
    this.start = new BigUint64Array(memory.buffer, memory.byteOffset, 1)
  }

  consume(): boolean {
    return this.bucket.consume()
  }

  remainingTokens(): number {
    return this.bucket.remainingTokens()
  }

  /** Whole seconds (rounded up) until the next fill. */
  resetSeconds(): number {
    const base = Atomics.load(this.start, 0)
    const interval = this.params.fillIntervalMs
    const left = base === 0n ? interval : interval - ((Math.floor(this.now()) - (Number(base) - 1)) % interval)
    return Math.ceil(left / 1000)
  }
}

/**
 * One `LocalRateLimit` (the filter's, or a route's from `typed_per_filter_config`), built once
 * per thread. The bucket is process-wide (shared memory keyed by the config path) unless
 * `local_rate_limit_per_downstream_connection`, where each connection gets its own.
 */
export class LocalRateLimitSettings {
  readonly stats: HttpLocalRateLimitStats
  readonly status: number
  readonly filterEnabled: RuntimeFraction | undefined
  readonly filterEnforced: RuntimeFraction | undefined
  readonly requestHeadersToAddWhenNotEnforced: HeaderParser
  readonly responseHeadersToAdd: HeaderParser
  readonly xRateLimitHeaders: boolean
  private readonly shared: RateLimitBucket | undefined
  private readonly perConnection: TokenBucketParams | undefined
  private readonly connectionBuckets = new WeakMap<Connection, RateLimitBucket>()
  private readonly runtime: () => RuntimeSnapshot
  private readonly now: Clock

  constructor(opts: {
    stats: HttpLocalRateLimitStats
    status: number
    runtime: () => RuntimeSnapshot
    /** The process-wide bucket's memory and shape; undefined: no bucket (no limiting). */
    bucket: { memory: Int32Array; params: TokenBucketParams } | undefined
    perDownstreamConnection: boolean
    filterEnabled: RuntimeFraction | undefined
    filterEnforced: RuntimeFraction | undefined
    requestHeadersToAddWhenNotEnforced: HeaderParser
    responseHeadersToAdd: HeaderParser
    xRateLimitHeaders: boolean
    now?: Clock
  }) {
    this.stats = opts.stats
    this.status = opts.status
    this.runtime = opts.runtime
    this.now = opts.now ?? defaultClock
    const b = opts.bucket
    this.shared = b !== undefined && !opts.perDownstreamConnection ? new RateLimitBucket(b.memory, b.params, this.now) : undefined
    this.perConnection = b !== undefined && opts.perDownstreamConnection ? b.params : undefined
    this.filterEnabled = opts.filterEnabled
    this.filterEnforced = opts.filterEnforced
    this.requestHeadersToAddWhenNotEnforced = opts.requestHeadersToAddWhenNotEnforced
    this.responseHeadersToAdd = opts.responseHeadersToAdd
    this.xRateLimitHeaders = opts.xRateLimitHeaders
  }

  /** Unset `filter_enabled` means disabled (Envoy's default is 0% for safety). */
  enabled(draw: number): boolean {
    return this.filterEnabled !== undefined && fractionEnabled(this.runtime(), this.filterEnabled, draw)
  }

  /** Unset `filter_enforced` means never enforced. */
  enforced(draw: number): boolean {
    return this.filterEnforced !== undefined && fractionEnabled(this.runtime(), this.filterEnforced, draw)
  }

  /** The bucket this request draws from, or undefined when none is configured. */
  bucketFor(connection: Connection | undefined): RateLimitBucket | undefined {
    if (this.perConnection === undefined) return this.shared
    // Without a connection (an internal request) the bucket lives for this request only.
    if (connection === undefined) return new RateLimitBucket(new Int32Array(SHARED_TOKEN_BUCKET_SLOTS), this.perConnection, this.now)
    let b = this.connectionBuckets.get(connection)
    if (b === undefined) {
      // Only this connection's worker touches it: plain (non-shared) memory is enough.
      b = new RateLimitBucket(new Int32Array(SHARED_TOKEN_BUCKET_SLOTS), this.perConnection, this.now)
      this.connectionBuckets.set(connection, b)
    }
    return b
  }
}

const SETTINGS = Symbol('local rate limit settings')

/** Tags per-route settings so they can be told from another filter's per-route config. */
export function markPerRoute(s: LocalRateLimitSettings): LocalRateLimitSettings {
  (s as unknown as Record<symbol, boolean>)[SETTINGS] = true
  return s
}

function isPerRoute(v: unknown): v is LocalRateLimitSettings {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[SETTINGS] === true
}

/** The filter-level state. */
export interface LocalRateLimitFilterConfig {
  readonly settings: LocalRateLimitSettings
  /** Uniform random integer, one per runtime fraction check. */
  readonly random: () => number
}

/**
 * Envoy's HTTP local rate limit filter: each enabled request takes a token; without one it is
 * answered with `status` (429 by default) when enforced, or passed on with
 * `request_headers_to_add_when_not_enforced` when not. The most specific `typed_per_filter_config`
 * replaces the filter's settings, bucket included.
 */
export class LocalRateLimitFilter extends PassThroughFilter implements StreamFilter {
  private readonly config: LocalRateLimitFilterConfig
  private decoder: StreamDecoderFilterCallbacks | undefined
  /** Set when the filter was enabled for this request; the x-ratelimit headers report on it. */
  private used: { settings: LocalRateLimitSettings; bucket: RateLimitBucket | undefined } | undefined

  constructor(config: LocalRateLimitFilterConfig) {
    super()
    this.config = config
  }

  // Http.StreamDecoderFilter
  override setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.decoder = callbacks
  }

  override decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    void endStream
    const cb = this.decoder!
    const perRoute = cb.perFilterConfig<unknown>(LOCAL_RATELIMIT_FILTER_NAME)
    const s = isPerRoute(perRoute) ? perRoute : this.config.settings
    if (!s.enabled(this.config.random())) return FilterHeadersStatus.Continue
    s.stats.enabled.inc()
    const bucket = s.bucketFor(cb.connection())
    this.used = { settings: s, bucket }
    if (bucket === undefined || bucket.consume()) {
      s.stats.ok.inc()
      return FilterHeadersStatus.Continue
    }
    s.stats.rate_limited.inc()
    if (!s.enforced(this.config.random())) {
      s.requestHeadersToAddWhenNotEnforced.evaluateHeaders(headers, cb.streamInfo())
      return FilterHeadersStatus.Continue
    }
    s.stats.enforced.inc()
    cb.streamInfo().setResponseFlag(ResponseFlag.RateLimited)
    cb.sendLocalReply(s.status, LOCAL_RATE_LIMITED, LOCAL_RATE_LIMITED, (h) => {
      s.responseHeadersToAdd.evaluateHeaders(h, cb.streamInfo())
      h.set('x-envoy-ratelimited', 'true')
    })
    return FilterHeadersStatus.StopIteration
  }

  override encodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    void endStream
    const u = this.used
    if (u !== undefined && u.settings.xRateLimitHeaders && u.bucket !== undefined) {
      // RateLimit header fields, draft 03.
      headers.set('x-ratelimit-limit', String(u.bucket.params.maxTokens))
      headers.set('x-ratelimit-remaining', String(u.bucket.remainingTokens()))
      headers.set('x-ratelimit-reset', String(u.bucket.resetSeconds()))
    }
    return FilterHeadersStatus.Continue
  }

}
