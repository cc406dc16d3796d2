import type { HeaderMap } from '../http/header-map.js'
import type { StreamInfo } from '../stream-info/stream-info.js'
import type { ResourcePriority } from '../upstream/cluster-info.js'

/**
 * The route table (Envoy's Router::Config and friends), built once per HCM on each worker from
 * a `RouteConfiguration`. Matching is per request and must not allocate needlessly.
 */
export interface RouteConfig {
  readonly name: string
  /**
   * The route for a request, or undefined (404 `NR`). `random` picks weighted clusters and
   * `runtime_fraction` matches, in [0, 1).
   */
  route(headers: HeaderMap, info: StreamInfo, random: number): Route | undefined
  /** `internal_only_headers`: removed from requests of external clients. */
  readonly internalOnlyHeaders: readonly string[]
}

export interface VirtualHost {
  readonly name: string
  /** Per-filter config at the virtual host level. */
  perFilterConfig(filterName: string): unknown
  /** Parsed CORS policy of the virtual host (deprecated field), if any. */
  readonly corsPolicy: unknown
}

/** One matched route (Envoy's Router::Route). Exactly one of the entries is set. */
export interface Route {
  readonly name: string
  readonly virtualHost: VirtualHost
  /** Set for `direct_response` and `redirect` routes. */
  readonly directResponseEntry: DirectResponseEntry | undefined
  /** Set for `route` actions. */
  readonly routeEntry: RouteEntry | undefined
  /**
   * The most specific `typed_per_filter_config` for `filterName`: this route's (or its
   * weighted cluster's), then the virtual host's, then the route configuration's. Already built
   * by the filter factory's `createRouteSpecificFilterConfig`.
   */
  perFilterConfig(filterName: string): unknown
}

/** A route answered by the proxy itself (Envoy's DirectResponseEntry): direct_response or redirect. */
export interface DirectResponseEntry {
  readonly responseCode: number
  /** The body of a direct response (inline or file, read at config time), or '' for none. */
  readonly body: string
  /** For redirects: the `location` to send, computed from the request. */
  newUri(headers: HeaderMap): string | undefined
  /** Route, vhost and route-config `response_headers_to_add/remove`. */
  finalizeResponseHeaders(headers: HeaderMap, info: StreamInfo): void
}

/** The bits of a retry policy (Envoy's RetryOn flags). */
export const RetryOn = {
  '5xx': 1 << 0,
  'gateway-error': 1 << 1,
  reset: 1 << 2,
  'connect-failure': 1 << 3,
  'retriable-4xx': 1 << 4,
  'refused-stream': 1 << 5,
  'retriable-status-codes': 1 << 6,
  'retriable-headers': 1 << 7,
  'envoy-ratelimited': 1 << 8,
  'http3-post-connect-failure': 1 << 9,
  'reset-before-request': 1 << 10,
} as const

export interface RetryPolicy {
  /** Bit set of RetryOn values. */
  readonly retryOn: number
  readonly numRetries: number
  /** 0: none (the route timeout bounds every try). */
  readonly perTryTimeoutMs: number
  readonly perTryIdleTimeoutMs: number
  readonly retriableStatusCodes: readonly number[]
  /** Back-off between tries (Envoy's defaults: 25 ms base, 10× max). */
  readonly baseIntervalMs: number
  readonly maxIntervalMs: number
  readonly hostSelectionRetryMaxAttempts: number
  /** `retriable_headers` on the response. */
  retriableHeadersMatch(headers: HeaderMap): boolean
}

/** Computes a route's `hash_policy` for RING_HASH/MAGLEV. */
export interface HashPolicy {
  /** The hash, or undefined when no policy produced one. `addCookie` may be asked to set a cookie. */
  generateHash(input: { headers: HeaderMap; sourceIp: string | undefined; addCookie?: (name: string, ttlSeconds: number, path: string) => string }): bigint | undefined
}

/** What a matched `route` action says to do (Envoy's RouteEntry). */
export interface RouteEntry {
  /**
   * The target cluster: static, from `cluster_header`, or a weighted pick made at match time.
   * Empty string when `cluster_header` names a header the request lacks.
   */
  clusterName(): string
  /** 503 by default, or `cluster_not_found_response_code`. */
  readonly clusterNotFoundResponseCode: number
  /** Route timeout in ms (15 s default; 0 disables). */
  readonly timeoutMs: number
  /** Stream idle timeout override for this route (undefined: use the HCM's). */
  readonly idleTimeoutMs: number | undefined
  readonly retryPolicy: RetryPolicy | undefined
  readonly hashPolicy: HashPolicy | undefined
  readonly priority: ResourcePriority
  readonly requestMirrorPolicies: ReadonlyArray<{ cluster: string; clusterHeader: string; runtimeFraction: { numerator: number; denominator: number } | undefined }>
  /** `upgrade_configs` of the route: true/false when it says, undefined to follow the HCM. */
  upgradeEnabled(upgradeType: string): boolean | undefined
  /** `max_stream_duration` settings of the route, if any. */
  readonly maxStreamDurationMs: number | undefined
  /** `include_attempt_count` on requests (`x-envoy-attempt-count`). */
  readonly includeAttemptCountInRequest: boolean
  readonly includeAttemptCountInResponse: boolean
  /**
   * Rewrites the request for upstream: prefix/regex path rewrite (keeping the original path in
   * `x-envoy-original-path` when asked), host rewrites, and request headers to add/remove at
   * every level. `info` supplies `%DOWNSTREAM_REMOTE_ADDRESS%`-style values.
   */
  finalizeRequestHeaders(headers: HeaderMap, info: StreamInfo, keepOriginalPath: boolean): void
  /** Response headers to add/remove at every level. */
  finalizeResponseHeaders(headers: HeaderMap, info: StreamInfo): void
  /** `auto_host_rewrite`: the router sets `:authority` to the chosen host's hostname. */
  readonly autoHostRewrite: boolean
  /** Name of the virtual cluster the request matches, for stats, or undefined. */
  virtualClusterName(headers: HeaderMap): string | undefined
}
