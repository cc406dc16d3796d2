import type { StringMatch } from '../../../../common/matcher/string-matcher.js'
import { FilterHeadersStatus, type FilterHeadersStatusValue, type StreamDecoderFilterCallbacks, type StreamFilter } from '../../../../envoy/http/filter.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'
import type { RuntimeSnapshot } from '../../../../envoy/runtime/runtime.js'
import type { Counter, Scope } from '../../../../envoy/stats/stats.js'
import { PassThroughFilter } from '../common/pass-through-filter.js'

export const CORS_FILTER_NAME = 'envoy.filters.http.cors'

/** Response code details of a preflight answered by the filter (Envoy's `cors_response`). */
export const CORS_RESPONSE_DETAILS = 'cors_response'

/** `http.<stat_prefix>.cors.*` (Envoy's CorsStats). */
export interface CorsStats {
  origin_valid: Counter
  origin_invalid: Counter
}

export function corsStats(httpScope: Scope): CorsStats {
  const s = httpScope.createScope('cors')
  return { origin_valid: s.counter('origin_valid'), origin_invalid: s.counter('origin_invalid') }
}

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }

/** A `RuntimeFractionalPercent`: a default fraction a runtime key may override. */
export interface RuntimeFraction {
  readonly runtimeKey: string
  readonly numerator: number
  readonly denominator: number
}

/**
 * Envoy's `featureEnabled(key, FractionalPercent)`: a runtime integer is a percentage (above
 * 100: always on), a runtime `<key>.numerator` / `<key>.denominator` pair is a fraction,
 * otherwise the default applies. `draw` is a uniform random integer.
 */
export function fractionEnabled(runtime: RuntimeSnapshot, f: RuntimeFraction, draw: number): boolean {
  let numerator = f.numerator
  let denominator = f.denominator
  if (f.runtimeKey !== '') {
    const v = runtime.get(f.runtimeKey)?.trim()
    const n = runtime.get(`${f.runtimeKey}.numerator`)?.trim()
    if (v !== undefined && /^\d+$/.test(v)) {
      if (Number(v) > 100) return true
      numerator = Number(v)
      denominator = 100
    } else if (n !== undefined && /^\d+$/.test(n)) {
      numerator = Number(n)
      denominator = DENOMINATORS[runtime.get(`${f.runtimeKey}.denominator`) ?? 'HUNDRED'] ?? 100
    }
  }
  return draw % denominator < numerator
}

/** A compiled `CorsPolicy` from `typed_per_filter_config`, built once at config time. */
export interface CorsPolicyConfig {
  readonly allowOrigins: readonly StringMatch[]
  readonly allowMethods: string
  readonly allowHeaders: string
  readonly exposeHeaders: string
  readonly maxAge: string
  readonly allowCredentials: boolean | undefined
  readonly allowPrivateNetworkAccess: boolean | undefined
  readonly forwardNotMatchingPreflights: boolean | undefined
  /** Unset: enabled for every request. */
  readonly filterEnabled: RuntimeFraction | undefined
  /** Unset: no shadow mode. */
  readonly shadowEnabled: RuntimeFraction | undefined
}

const POLICY = Symbol('cors policy')

/** Tags a built policy so the filter can tell it from another filter's per-route config. */
export function makeCorsPolicy(p: CorsPolicyConfig): CorsPolicyConfig {
  return Object.assign(Object.create(null) as object, p, { [POLICY]: true }) as CorsPolicyConfig
}

function isCorsPolicy(v: unknown): v is CorsPolicyConfig {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[POLICY] === true
}

/** The filter-level state (the `Cors` message is empty): stats, runtime, randomness. */
export interface CorsFilterConfig {
  readonly stats: CorsStats
  readonly runtime: () => RuntimeSnapshot
  /** Uniform random integer for runtime fractions. */
  readonly random: () => number
}

/**
 * Envoy's CORS filter. The policy comes from the route's (then the virtual host's)
 * `typed_per_filter_config`. A preflight (OPTIONS with `origin` and
 * `access-control-request-method`) from an allowed origin is answered here with 200 and the
 * `access-control-allow-*` headers; other requests from an allowed origin get
 * `access-control-allow-origin` (and credentials / expose headers) on their response.
 */
export class CorsFilter extends PassThroughFilter implements StreamFilter {
  private readonly config: CorsFilterConfig
  private decoder: StreamDecoderFilterCallbacks | undefined
  /** Most specific first: the route's policy, then the virtual host's. */
  private policies: CorsPolicyConfig[] = []
  private origin = ''
  private isCorsRequest = false

  constructor(config: CorsFilterConfig) {
    super()
    this.config = config
  }

  // Http.StreamDecoderFilter
  override setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.decoder = callbacks
  }

  override decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    void endStream
    const route = this.decoder!.route()
    // Direct responses and redirects bypass the filter (Envoy's doc).
    if (route === undefined || route.routeEntry === undefined) return FilterHeadersStatus.Continue
    const candidates = [route.perFilterConfig(CORS_FILTER_NAME), route.virtualHost.perFilterConfig(CORS_FILTER_NAME)]
    this.policies = candidates.filter((p, i): p is CorsPolicyConfig => isCorsPolicy(p) && candidates.indexOf(p) === i)
    if (this.policies.length === 0) return FilterHeadersStatus.Continue

    const draw = this.config.random()
    const enabled = this.enabled(draw)
    const shadow = this.shadowEnabled(draw)
    if (!enabled && !shadow) return FilterHeadersStatus.Continue
    this.origin = headers.get('origin') ?? ''
    if (this.origin === '') return FilterHeadersStatus.Continue

    const allowed = this.isOriginAllowed(this.origin)
    if (allowed) this.config.stats.origin_valid.inc()
    else this.config.stats.origin_invalid.inc()
    if (!enabled) return FilterHeadersStatus.Continue
    // The response of a request from an origin that did not match is left alone.
    this.isCorsRequest = allowed
    const requestMethod = headers.get('access-control-request-method') ?? ''
    if (headers.get(':method') !== 'OPTIONS' || requestMethod === '') return FilterHeadersStatus.Continue

    // A preflight. One from an origin that does not match goes upstream unless
    // `forward_not_matching_preflights` is false; then it is answered here without allow-origin.
    if (!allowed && this.forwardNotMatchingPreflights()) return FilterHeadersStatus.Continue
    const requestHeaders = headers.get('access-control-request-headers') ?? ''
    const privateNetwork = headers.get('access-control-request-private-network') === 'true'
    this.decoder!.sendLocalReply(200, '', CORS_RESPONSE_DETAILS, (h) => {
      if (allowed) h.set('access-control-allow-origin', this.origin)
      if (this.allowCredentials()) h.set('access-control-allow-credentials', 'true')
      // `*` echoes what the preflight asks for.
      const methods = this.first((p) => p.allowMethods)
      if (methods !== '') h.set('access-control-allow-methods', methods === '*' ? requestMethod : methods)
      const allowHeaders = this.first((p) => p.allowHeaders)
      if (allowHeaders === '*') {
        if (requestHeaders !== '') h.set('access-control-allow-headers', requestHeaders)
      } else if (allowHeaders !== '') {
        h.set('access-control-allow-headers', allowHeaders)
      }
      const maxAge = this.first((p) => p.maxAge)
      if (maxAge !== '') h.set('access-control-max-age', maxAge)
      if (privateNetwork && this.firstSet((p) => p.allowPrivateNetworkAccess) === true) h.set('access-control-allow-private-network', 'true')
    })
    return FilterHeadersStatus.StopIteration
  }

  override encodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    void endStream
    if (!this.isCorsRequest) return FilterHeadersStatus.Continue
    headers.set('access-control-allow-origin', this.origin)
    if (this.allowCredentials()) headers.set('access-control-allow-credentials', 'true')
    const expose = this.first((p) => p.exposeHeaders)
    if (expose !== '') headers.set('access-control-expose-headers', expose)
    return FilterHeadersStatus.Continue
  }

  // The most specific policy decides each setting it has (Envoy's CorsFilter accessors).

  private enabled(draw: number): boolean {
    const p = this.policies[0]!
    return p.filterEnabled === undefined || fractionEnabled(this.config.runtime(), p.filterEnabled, draw)
  }

  private shadowEnabled(draw: number): boolean {
    const p = this.policies[0]!
    return p.shadowEnabled !== undefined && fractionEnabled(this.config.runtime(), p.shadowEnabled, draw)
  }

  private isOriginAllowed(origin: string): boolean {
    const matchers = this.policies.find((p) => p.allowOrigins.length > 0)?.allowOrigins
    if (matchers === undefined) return false
    // A matcher that accepts the literal "*" allows every origin.
    return matchers.some((m) => m('*') || m(origin))
  }

  private allowCredentials(): boolean {
    return this.firstSet((p) => p.allowCredentials) === true
  }

  private forwardNotMatchingPreflights(): boolean {
    return this.firstSet((p) => p.forwardNotMatchingPreflights) ?? true
  }

  private first(get: (p: CorsPolicyConfig) => string): string {
    for (const p of this.policies) {
      const v = get(p)
      if (v !== '') return v
    }
    return ''
  }

  private firstSet<T>(get: (p: CorsPolicyConfig) => T | undefined): T | undefined {
    for (const p of this.policies) {
      const v = get(p)
      if (v !== undefined) return v
    }
    return undefined
  }
}
