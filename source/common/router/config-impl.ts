import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { RetryPolicy, Route, RouteConfig } from '../../envoy/router/router.js'
import type { StreamInfo } from '../../envoy/stream-info/stream-info.js'
import type { RouteConfiguration, VirtualHost as VirtualHostProto } from '../protobuf/generated/envoy/config/route/v3.js'
import { ConfigErrors, DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES } from './config-utility.js'
import { HeaderParser } from './header-parser.js'
import { compileHeaderMatchers, type HeaderDataMatcher, matchHeaders, pathWithoutQuery } from './matchers.js'
import { SslRedirectRoute } from './redirect.js'
import { type ConfiguredRoute, DirectResponseRouteImpl, RouteActionImpl } from './route-entry-impl.js'
import { RouteMatchImpl, type RuntimeSource } from './route-match.js'
import {
  buildMirrorPolicies, type MirrorPolicy, type RouteTableParent, type TypedConfigMap, type TypedPerFilterConfig, type VirtualHostParent,
} from './route-parents.js'
import { RetryPolicyImpl } from './retry-policy-impl.js'
import { VirtualHostSelector } from './virtual-host-selector.js'

/**
 * The route table of one HCM (Envoy's Router::ConfigImpl, RouteMatcher and VirtualHostImpl),
 * built once per worker from a validated `RouteConfiguration`. Construction collects every
 * problem, each with its path, into one ConfigError; `route()` only runs precompiled matchers.
 */

/** A `google.protobuf.Any` in the validated config. */
export type Any = { '@type': string; [field: string]: unknown }

export interface RouteConfigOptions {
  /**
   * Builds one `typed_per_filter_config` value (the HCM finds the HTTP filter's factory and
   * calls its createRouteSpecificFilterConfig). May throw a ConfigError; undefined means
   * "no config" (an optional filter that is not there).
   */
  perFilterConfig: (filterName: string, typedConfig: Any, path: string) => unknown
  /**
   * Whether a cluster exists, for `validate_clusters` (checked unless the route table sets it
   * to false; without this function nothing is checked).
   */
  validateClusters?: (name: string) => boolean
  /** Runtime for `runtime_fraction` keys (route match); defaults only without it. */
  runtime?: RuntimeSource
}

const TLS_NONE = 0
const TLS_EXTERNAL_ONLY = 1
const TLS_ALL = 2

export class RouteConfigImpl implements RouteConfig, RouteTableParent {
  readonly name: string
  readonly internalOnlyHeaders: readonly string[]
  readonly requestHeaderParser: HeaderParser
  readonly responseHeaderParser: HeaderParser
  readonly mostSpecificHeaderMutationsWins: boolean
  readonly maxDirectResponseBodySizeBytes: number
  readonly ignorePathParametersInPathMatching: boolean
  readonly runtime: RuntimeSource | undefined
  readonly validateCluster: ((name: string) => boolean) | undefined
  readonly mirrorPolicies: readonly MirrorPolicy[]
  private readonly perFilterConfigs: TypedConfigMap
  private readonly selector: VirtualHostSelector<VirtualHostImpl>
  private readonly buildPerFilterConfig: RouteConfigOptions['perFilterConfig']
  private readonly errors: ConfigErrors

  constructor(config: RouteConfiguration, path: string, opts: RouteConfigOptions) {
    const errors = new ConfigErrors()
    this.errors = errors
    this.buildPerFilterConfig = opts.perFilterConfig
    this.name = config.name
    this.internalOnlyHeaders = config.internal_only_headers.map((h) => h.toLowerCase())
    this.mostSpecificHeaderMutationsWins = config.most_specific_header_mutations_wins
    this.maxDirectResponseBodySizeBytes = config.max_direct_response_body_size_bytes ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES
    this.ignorePathParametersInPathMatching = config.ignore_path_parameters_in_path_matching
    this.runtime = opts.runtime
    this.validateCluster = config.validate_clusters === false ? undefined : opts.validateClusters
    this.requestHeaderParser = new HeaderParser(config.request_headers_to_add, config.request_headers_to_remove, path, errors, 'request')
    this.responseHeaderParser = new HeaderParser(config.response_headers_to_add, config.response_headers_to_remove, path, errors, 'response')
    this.mirrorPolicies = buildMirrorPolicies(config.request_mirror_policies, `${path}.request_mirror_policies`, errors, this.validateCluster)
    this.perFilterConfigs = this.buildPerFilterConfigs(config.typed_per_filter_config, `${path}.typed_per_filter_config`)
    if (config.vhds !== undefined) errors.notSupported(`${path}.vhds`, 'VHDS is not supported yet')
    if (config.cluster_specifier_plugins.length > 0) {
      errors.notSupported(`${path}.cluster_specifier_plugins`, 'cluster specifier plugins are not supported yet')
    }
    this.selector = new VirtualHostSelector(config.ignore_port_in_host_matching)
    config.virtual_hosts.forEach((vh, i) => {
      const p = `${path}.virtual_hosts[${i}]`
      const vhost = new VirtualHostImpl(vh, p, this, errors)
      vh.domains.forEach((d, j) => {
        const problem = this.selector.add(d, vhost, config.name)
        if (problem !== undefined) errors.add(`${p}.domains[${j}]`, problem)
      })
    })
    errors.throwIfAny()
  }

  // Router.RouteConfig
  route(headers: HeaderMap, _info: StreamInfo, random: number): Route | undefined {
    return this.selector.find(headers)?.route(headers, random)
  }

  /** The route configuration's own `typed_per_filter_config` value for `filterName`. */
  perFilterConfig(filterName: string): unknown {
    return this.perFilterConfigs.get(filterName)
  }

  buildPerFilterConfigs(configs: TypedPerFilterConfig, path: string): TypedConfigMap {
    const out = new Map<string, unknown>()
    for (const [name, any] of Object.entries(configs)) {
      const v = this.errors.attempt(`${path}.${name}`, () => this.buildPerFilterConfig(name, any, `${path}.${name}`))
      if (v !== undefined) out.set(name, v)
    }
    return out
  }
}

interface VirtualClusterEntry {
  readonly name: string
  readonly headers: readonly HeaderDataMatcher[]
}

export class VirtualHostImpl implements VirtualHostParent {
  readonly name: string
  readonly corsPolicy: unknown
  readonly retryPolicy: RetryPolicy | undefined
  readonly mirrorPolicies: readonly MirrorPolicy[]
  readonly includeAttemptCountInRequest: boolean
  readonly includeAttemptCountInResponse: boolean
  readonly requestHeaderParser: HeaderParser
  readonly responseHeaderParser: HeaderParser
  private readonly table: RouteConfigImpl
  private readonly perFilterConfigs: TypedConfigMap
  private readonly requireTls: number
  private readonly sslRedirect: SslRedirectRoute
  private readonly virtualClusters: readonly VirtualClusterEntry[]
  private readonly routes: ConfiguredRoute[] = []

  constructor(vh: VirtualHostProto, path: string, table: RouteConfigImpl, errors: ConfigErrors) {
    this.name = vh.name
    this.table = table
    // The deprecated vhost CORS policy is handed to the CORS filter as configured.
    this.corsPolicy = vh.cors
    this.requireTls = vh.require_tls === 'ALL' ? TLS_ALL : vh.require_tls === 'EXTERNAL_ONLY' ? TLS_EXTERNAL_ONLY : TLS_NONE
    this.sslRedirect = new SslRedirectRoute(this)
    this.retryPolicy = vh.retry_policy === undefined ? undefined : new RetryPolicyImpl(vh.retry_policy, `${path}.retry_policy`, errors)
    const mirrors = buildMirrorPolicies(vh.request_mirror_policies, `${path}.request_mirror_policies`, errors, table.validateCluster)
    this.mirrorPolicies = mirrors.length > 0 ? mirrors : table.mirrorPolicies
    this.includeAttemptCountInRequest = vh.include_request_attempt_count
    this.includeAttemptCountInResponse = vh.include_attempt_count_in_response
    this.requestHeaderParser = new HeaderParser(vh.request_headers_to_add, vh.request_headers_to_remove, path, errors, 'request')
    this.responseHeaderParser = new HeaderParser(vh.response_headers_to_add, vh.response_headers_to_remove, path, errors, 'response')
    this.perFilterConfigs = table.buildPerFilterConfigs(vh.typed_per_filter_config, `${path}.typed_per_filter_config`)
    this.virtualClusters = vh.virtual_clusters.map((vc, i) => {
      const p = `${path}.virtual_clusters[${i}]`
      if (vc.headers.length === 0) errors.add(p, "virtual clusters must define 'headers'")
      return { name: vc.name, headers: compileHeaderMatchers(vc.headers, `${p}.headers`, errors) }
    })
    const no = (field: string, reason: string): void => errors.notSupported(`${path}.${field}`, reason)
    if (vh.matcher !== undefined) no('matcher', 'matcher-tree routing is not supported yet')
    if (vh.rate_limits.length > 0) no('rate_limits', 'virtual host rate limits are not supported yet')
    if (vh.hedge_policy !== undefined) no('hedge_policy', 'request hedging is not supported yet')
    if (vh.include_is_timeout_retry_header) no('include_is_timeout_retry_header', 'x-envoy-is-timeout-retry is not supported yet')
    if (vh.per_request_buffer_limit_bytes !== undefined) no('per_request_buffer_limit_bytes', 'per-request buffer limits are not supported yet')

    vh.routes.forEach((r, i) => {
      const p = `${path}.routes[${i}]`
      if (r.match === undefined) {
        errors.add(`${p}.match`, 'value is required')
        return
      }
      if (r.filter_action !== undefined) errors.notSupported(`${p}.filter_action`, 'filter actions are not implemented (not in Envoy either)')
      if (r.non_forwarding_action !== undefined) errors.notSupported(`${p}.non_forwarding_action`, 'non-forwarding actions are not implemented (not in Envoy either)')
      if (r.tracing !== undefined) errors.notSupported(`${p}.tracing`, 'tracing is not supported yet')
      if (r.per_request_buffer_limit_bytes !== undefined) errors.notSupported(`${p}.per_request_buffer_limit_bytes`, 'per-request buffer limits are not supported yet')
      if (r.stat_prefix !== '') errors.notSupported(`${p}.stat_prefix`, 'per-route stats are not supported yet')
      const match = new RouteMatchImpl(r.match, `${p}.match`, errors, table.runtime)
      if (r.route !== undefined) this.routes.push(new RouteActionImpl(r, r.route, match, p, this, table, errors))
      else if (r.redirect !== undefined || r.direct_response !== undefined) this.routes.push(new DirectResponseRouteImpl(r, match, p, this, table, errors))
      else if (r.filter_action === undefined && r.non_forwarding_action === undefined) errors.add(p, 'one of route, redirect, direct_response is required')
    })
  }

  /** The first route that matches, after the `require_tls` check (Envoy's getRouteFromEntries). */
  route(headers: HeaderMap, random: number): Route | undefined {
    if (this.requireTls !== TLS_NONE) {
      // What the client used: x-forwarded-proto as set by the HCM, else the request's scheme.
      const proto = headers.get('x-forwarded-proto') ?? headers.get(':scheme') ?? ''
      if (proto !== 'https' && (this.requireTls === TLS_ALL || headers.get('x-envoy-internal') !== 'true')) return this.sslRedirect
    }
    const full = headers.get(':path')
    let path: string | undefined
    if (full !== undefined) {
      path = pathWithoutQuery(full)
      if (this.table.ignorePathParametersInPathMatching) {
        const semi = path.indexOf(';')
        if (semi !== -1) path = path.slice(0, semi)
      }
    }
    const routes = this.routes
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!
      if (full === undefined && !r.match.supportsPathless) continue
      if (r.match.matches(headers, path, full, random)) return r.select(headers, random)
    }
    return undefined
  }

  /**
   * The virtual host's `typed_per_filter_config` for `filterName`, else the route
   * configuration's (Envoy's mostSpecificPerFilterConfig at this level).
   */
  perFilterConfig(filterName: string): unknown {
    return this.perFilterConfigs.get(filterName) ?? this.table.perFilterConfig(filterName)
  }

  /** The first virtual cluster whose headers match; `other` when none does (Envoy's catch-all). */
  virtualClusterName(headers: HeaderMap): string | undefined {
    const vcs = this.virtualClusters
    if (vcs.length === 0) return undefined
    for (let i = 0; i < vcs.length; i++) if (matchHeaders(headers, vcs[i]!.headers)) return vcs[i]!.name
    return 'other'
  }
}
