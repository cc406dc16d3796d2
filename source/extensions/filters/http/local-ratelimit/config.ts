import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import { durationToMs } from '../../../../common/protobuf/duration.js'
import type { RuntimeFractionalPercent } from '../../../../common/protobuf/generated/envoy/config/core/v3.js'
import type { LocalRateLimit } from '../../../../common/protobuf/generated/envoy/extensions/filters/http/local_ratelimit/v3.js'
import type { StatusCode } from '../../../../common/protobuf/generated/envoy/type/v3.js'
import { HeaderParser } from '../../../../common/router/header-parser.js'
import { sharedInt32 } from '../../../../common/shared/shared-counters.js'
import { HTTP_FILTERS, type HttpFilterFactoryContext, type NamedHttpFilterConfigFactory } from '../../../../envoy/http/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { type Clock, SHARED_TOKEN_BUCKET_SLOTS } from '../../network/local-ratelimit/shared-token-bucket.js'
import {
  LOCAL_RATELIMIT_FILTER_NAME, LocalRateLimitFilter, type LocalRateLimitFilterConfig, LocalRateLimitSettings,
  type RuntimeFraction, type TokenBucketParams, httpLocalRateLimitStats, markPerRoute,
} from './local-ratelimit.js'

/** Envoy rejects faster fill timers. */
export const MIN_FILL_INTERVAL_MS = 50

/** The shared-memory key of one config's bucket (per filter config or per route, process-wide). */
export function httpLocalRateLimitKey(path: string): string {
  return `http_local_ratelimit/${path}`
}

function invalid(path: string, field: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.${field}: ${message}`])
}

/** `envoy.type.v3.StatusCode` names → codes. */
const STATUS_CODES: Readonly<Record<StatusCode, number>> = {
  Empty: 0, Continue: 100, OK: 200, Created: 201, Accepted: 202, NonAuthoritativeInformation: 203, NoContent: 204,
  ResetContent: 205, PartialContent: 206, MultiStatus: 207, AlreadyReported: 208, IMUsed: 226, MultipleChoices: 300,
  MovedPermanently: 301, Found: 302, SeeOther: 303, NotModified: 304, UseProxy: 305, TemporaryRedirect: 307,
  PermanentRedirect: 308, BadRequest: 400, Unauthorized: 401, PaymentRequired: 402, Forbidden: 403, NotFound: 404,
  MethodNotAllowed: 405, NotAcceptable: 406, ProxyAuthenticationRequired: 407, RequestTimeout: 408, Conflict: 409,
  Gone: 410, LengthRequired: 411, PreconditionFailed: 412, PayloadTooLarge: 413, URITooLong: 414,
  UnsupportedMediaType: 415, RangeNotSatisfiable: 416, ExpectationFailed: 417, MisdirectedRequest: 421,
  UnprocessableEntity: 422, Locked: 423, FailedDependency: 424, UpgradeRequired: 426, PreconditionRequired: 428,
  TooManyRequests: 429, RequestHeaderFieldsTooLarge: 431, InternalServerError: 500, NotImplemented: 501,
  BadGateway: 502, ServiceUnavailable: 503, GatewayTimeout: 504, HTTPVersionNotSupported: 505,
  VariantAlsoNegotiates: 506, InsufficientStorage: 507, LoopDetected: 508, NotExtended: 510,
  NetworkAuthenticationRequired: 511,
}

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }

function runtimeFraction(f: RuntimeFractionalPercent | undefined, path: string, field: string): RuntimeFraction | undefined {
  if (f === undefined) return undefined
  const denominator = DENOMINATORS[f.default_value?.denominator ?? 'HUNDRED']
  if (denominator === undefined) throw invalid(path, `${field}.default_value.denominator`, 'unknown denominator')
  const numerator = Number(f.default_value?.numerator ?? 0)
  if (!Number.isInteger(numerator) || numerator < 0) throw invalid(path, `${field}.default_value.numerator`, 'value must be a non-negative integer')
  return { runtimeKey: f.runtime_key ?? '', numerator, denominator }
}

function tokenBucket(c: LocalRateLimit, path: string): TokenBucketParams | undefined {
  const tb = c.token_bucket
  if (tb === undefined) return undefined
  const maxTokens = Number(tb.max_tokens)
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 0xffff_ffff) throw invalid(path, 'token_bucket.max_tokens', 'value must be greater than 0')
  const tokensPerFill = tb.tokens_per_fill === undefined ? 1 : Number(tb.tokens_per_fill)
  if (!Number.isInteger(tokensPerFill) || tokensPerFill < 1) throw invalid(path, 'token_bucket.tokens_per_fill', 'value must be greater than 0')
  const fillIntervalMs = durationToMs(tb.fill_interval)
  if (fillIntervalMs === undefined) throw invalid(path, 'token_bucket.fill_interval', 'value is required')
  if (fillIntervalMs < MIN_FILL_INTERVAL_MS) {
    throw invalid(path, 'token_bucket.fill_interval', `local rate limit token bucket fill timer must be >= ${MIN_FILL_INTERVAL_MS}ms`)
  }
  return { maxTokens, tokensPerFill, fillIntervalMs }
}

/**
 * Validates a `LocalRateLimit` and builds its per-thread state. `perRoute` configs must have a
 * token bucket (Envoy's rule). `now` is for tests.
 */
export function createLocalRateLimitSettings(
  c: LocalRateLimit, ctx: HttpFilterFactoryContext, path: string, opts: { perRoute?: boolean; now?: Clock } = {},
): LocalRateLimitSettings {
  if (typeof c.stat_prefix !== 'string' || c.stat_prefix === '') throw invalid(path, 'stat_prefix', 'value length must be at least 1 characters')
  if ((c.descriptors ?? []).length > 0) {
    throw invalid(path, 'descriptors', 'not supported yet (route rate_limits actions are not implemented)')
  }
  if (c.local_cluster_rate_limit !== undefined) throw invalid(path, 'local_cluster_rate_limit', 'not supported yet')
  if (c.rate_limited_as_resource_exhausted === true) throw invalid(path, 'rate_limited_as_resource_exhausted', 'not supported yet')
  const params = tokenBucket(c, path)
  if (opts.perRoute === true && params === undefined) {
    throw invalid(path, 'token_bucket', 'local rate limit token bucket must be set for per filter configs')
  }
  // Envoy: a status below 400 falls back to 429.
  const configured = c.status?.code !== undefined ? STATUS_CODES[c.status.code] : undefined
  if (c.status !== undefined && (configured === undefined || configured === 0)) throw invalid(path, 'status.code', 'value must be a defined status code')
  const status = configured === undefined || configured < 400 ? 429 : configured
  const xrl = c.enable_x_ratelimit_headers ?? 'OFF'
  if (xrl !== 'OFF' && xrl !== 'DRAFT_VERSION_03') throw invalid(path, 'enable_x_ratelimit_headers', `unknown value ${String(xrl)}`)
  return new LocalRateLimitSettings({
    stats: httpLocalRateLimitStats(ctx.scope, c.stat_prefix),
    status,
    runtime: ctx.runtime,
    bucket: params === undefined ? undefined : { memory: sharedInt32(httpLocalRateLimitKey(path), SHARED_TOKEN_BUCKET_SLOTS), params },
    perDownstreamConnection: c.local_rate_limit_per_downstream_connection ?? false,
    filterEnabled: runtimeFraction(c.filter_enabled, path, 'filter_enabled'),
    filterEnforced: runtimeFraction(c.filter_enforced, path, 'filter_enforced'),
    // Envoy's HeaderParser: values may use format operators (%DOWNSTREAM_REMOTE_ADDRESS%, ...).
    requestHeadersToAddWhenNotEnforced: new HeaderParser(c.request_headers_to_add_when_not_enforced ?? [], [], `${path}.request_headers_to_add_when_not_enforced`),
    responseHeadersToAdd: new HeaderParser(c.response_headers_to_add ?? [], [], `${path}.response_headers_to_add`),
    xRateLimitHeaders: xrl === 'DRAFT_VERSION_03',
    ...(opts.now !== undefined ? { now: opts.now } : {}),
  })
}

/** Uniform random integer in [0, 2^32). */
const randomUint32 = (): number => Math.floor(Math.random() * 0x1_0000_0000)

export function createLocalRateLimitFilterConfig(
  c: LocalRateLimit, ctx: HttpFilterFactoryContext, path: string, opts: { now?: Clock; random?: () => number } = {},
): LocalRateLimitFilterConfig {
  return {
    settings: createLocalRateLimitSettings(c, ctx, path, opts.now !== undefined ? { now: opts.now } : {}),
    random: opts.random ?? randomUint32,
  }
}

export const httpLocalRateLimitFilterFactory: NamedHttpFilterConfigFactory = {
  name: LOCAL_RATELIMIT_FILTER_NAME,
  configType: 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  isTerminalFilter: false,
  perRouteConfigType: 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  createFilterFactory(config, ctx, path) {
    const shared = createLocalRateLimitFilterConfig(config as LocalRateLimit, ctx, path)
    return (cb) => cb.addStreamFilter(new LocalRateLimitFilter(shared))
  },
  createRouteSpecificFilterConfig(config, ctx, path) {
    return markPerRoute(createLocalRateLimitSettings(config as LocalRateLimit, ctx, path, { perRoute: true }))
  },
}

export function setup(r: Registry): void {
  r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS).register(httpLocalRateLimitFilterFactory)
}
