import type { HeaderMap } from '../../envoy/http/header-map.js'
import type {
  DirectResponseEntry, HashPolicy, RetryPolicy, Route, RouteEntry, VirtualHost,
} from '../../envoy/router/router.js'
import type { StreamInfo } from '../../envoy/stream-info/stream-info.js'
import type { ResourcePriority } from '../../envoy/upstream/cluster-info.js'
import { durationToMs } from '../protobuf/duration.js'
import type { Route as RouteConfigProto, RouteAction } from '../protobuf/generated/envoy/config/route/v3.js'
import {
  clusterNotFoundResponseCode, type ConfigErrors, parsePriority, readDirectResponseBody, redirectResponseCode,
} from './config-utility.js'
import { evaluateRequestHeaders, evaluateResponseHeaders, HeaderParser, orderParsers } from './header-parser.js'
import { HashPolicyImpl } from './hash-policy-impl.js'
import { pathEnd, RegexRewrite } from './matchers.js'
import { RedirectConfig } from './redirect.js'
import type { RouteMatchImpl } from './route-match.js'
import { RetryPolicyImpl } from './retry-policy-impl.js'
import {
  type MirrorPolicy, type RouteTableParent, type TypedConfigMap, type VirtualHostParent, buildMirrorPolicies, checkRouteActionSupported,
} from './route-parents.js'
import { type WeightedClusterData, WeightedClusters } from './weighted-clusters.js'

/**
 * Routes of a virtual host (Envoy's RouteEntryImplBase and friends). A `route` action compiles
 * into a RouteActionImpl shared by every request; what a request gets is a RouteEntryImpl:
 * the shared one for a static cluster, a pre-built one per weighted cluster, or a small
 * per-request wrapper naming the cluster taken from a header.
 */

/** A configured route: its match, and the Route a matching request gets. */
export interface ConfiguredRoute {
  readonly match: RouteMatchImpl
  select(headers: HeaderMap, random: number): Route
}

/** The config-time part of a `route` action, shared by every RouteEntryImpl built from it. */
export class RouteActionImpl implements ConfiguredRoute {
  readonly name: string
  readonly match: RouteMatchImpl
  readonly vhost: VirtualHostParent
  readonly perFilterConfigs: ReadonlyMap<string, unknown>
  readonly clusterNotFoundResponseCode: number
  readonly timeoutMs: number
  readonly idleTimeoutMs: number | undefined
  readonly retryPolicy: RetryPolicy | undefined
  readonly hashPolicy: HashPolicy | undefined
  readonly priority: ResourcePriority
  readonly requestMirrorPolicies: readonly MirrorPolicy[]
  readonly maxStreamDurationMs: number | undefined
  readonly autoHostRewrite: boolean
  private readonly upgrades: ReadonlyMap<string, boolean>
  private readonly hostRewriteLiteral: string
  private readonly hostRewriteHeader: string
  private readonly hostRewritePathRegex: RegexRewrite | undefined
  private readonly appendXfh: boolean
  private readonly prefixRewrite: string
  private readonly regexRewrite: RegexRewrite | undefined
  readonly requestParsers: readonly HeaderParser[]
  readonly responseParsers: readonly HeaderParser[]
  private readonly dynamicRequest: boolean
  private readonly dynamicResponse: boolean
  private readonly clusterHeader: string
  private readonly weighted: WeightedClusters<RouteEntryImpl> | undefined
  /** The Route of a static cluster (and of cluster_header routes' absent-header case). */
  private readonly staticEntry: RouteEntryImpl

  constructor(r: RouteConfigProto, a: RouteAction, match: RouteMatchImpl, path: string, vhost: VirtualHostParent, table: RouteTableParent, errors: ConfigErrors) {
    const ap = `${path}.route`
    this.name = r.name
    this.match = match
    this.vhost = vhost
    this.perFilterConfigs = table.buildPerFilterConfigs(r.typed_per_filter_config, `${path}.typed_per_filter_config`)
    checkRouteActionSupported(a, ap, errors)
    this.clusterNotFoundResponseCode = clusterNotFoundResponseCode(a.cluster_not_found_response_code)
    this.timeoutMs = durationToMs(a.timeout, 15_000)
    this.idleTimeoutMs = durationToMs(a.idle_timeout)
    this.retryPolicy = a.retry_policy !== undefined ? new RetryPolicyImpl(a.retry_policy, `${ap}.retry_policy`, errors) : vhost.retryPolicy
    this.hashPolicy = a.hash_policy.length > 0 ? new HashPolicyImpl(a.hash_policy, `${ap}.hash_policy`, errors) : undefined
    this.priority = parsePriority(a.priority)
    const mirrors = buildMirrorPolicies(a.request_mirror_policies, `${ap}.request_mirror_policies`, errors, table.validateCluster)
    this.requestMirrorPolicies = mirrors.length > 0 ? mirrors : vhost.mirrorPolicies
    this.maxStreamDurationMs = durationToMs(a.max_stream_duration?.max_stream_duration)
    this.autoHostRewrite = a.auto_host_rewrite === true
    this.hostRewriteLiteral = a.host_rewrite_literal ?? ''
    this.hostRewriteHeader = (a.host_rewrite_header ?? '').toLowerCase()
    this.hostRewritePathRegex = a.host_rewrite_path_regex === undefined
      ? undefined
      : RegexRewrite.compile(a.host_rewrite_path_regex, `${ap}.host_rewrite_path_regex`, errors)
    this.appendXfh = a.append_x_forwarded_host
    this.prefixRewrite = a.prefix_rewrite
    this.regexRewrite = a.regex_rewrite === undefined ? undefined : RegexRewrite.compile(a.regex_rewrite, `${ap}.regex_rewrite`, errors)
    if (a.prefix_rewrite !== '' && a.regex_rewrite !== undefined) {
      errors.add(ap, 'Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy')
    }

    const upgrades = new Map<string, boolean>()
    a.upgrade_configs.forEach((u, i) => {
      const type = u.upgrade_type.toLowerCase()
      if (upgrades.has(type)) errors.add(`${ap}.upgrade_configs[${i}]`, `Duplicate upgrade ${u.upgrade_type}`)
      upgrades.set(type, u.enabled ?? true)
      if (u.connect_config !== undefined) {
        if (type === 'connect') errors.notSupported(`${ap}.upgrade_configs[${i}].connect_config`, 'CONNECT termination is not supported yet')
        else errors.add(`${ap}.upgrade_configs[${i}]`, `Non-CONNECT upgrade type ${u.upgrade_type} has ConnectConfig`)
      }
    })
    this.upgrades = upgrades

    const reqParser = new HeaderParser(r.request_headers_to_add, r.request_headers_to_remove, path, errors, 'request')
    const respParser = new HeaderParser(r.response_headers_to_add, r.response_headers_to_remove, path, errors, 'response')
    this.requestParsers = orderParsers([reqParser, vhost.requestHeaderParser, table.requestHeaderParser], table.mostSpecificHeaderMutationsWins)
    this.responseParsers = orderParsers([respParser, vhost.responseHeaderParser, table.responseHeaderParser], table.mostSpecificHeaderMutationsWins)
    this.dynamicRequest = this.requestParsers.some((p) => p.dynamic)
    this.dynamicResponse = this.responseParsers.some((p) => p.dynamic)

    const validate = table.validateCluster
    this.clusterHeader = (a.cluster_header ?? '').toLowerCase()
    if (a.cluster !== undefined && validate !== undefined && !validate(a.cluster)) {
      errors.add(`${ap}.cluster`, `route: unknown cluster '${a.cluster}'`)
    }
    this.weighted = a.weighted_clusters === undefined
      ? undefined
      : new WeightedClusters(a.weighted_clusters, `${ap}.weighted_clusters`, errors, table, (name, data) => new RouteEntryImpl(this, name, data))
    if (a.cluster === undefined && a.cluster_header === undefined && a.weighted_clusters === undefined &&
      a.cluster_specifier_plugin === undefined && a.inline_cluster_specifier_plugin === undefined) {
      errors.add(ap, 'one of cluster, cluster_header, weighted_clusters is required')
    }
    this.staticEntry = new RouteEntryImpl(this, a.cluster ?? '', undefined)
  }

  select(headers: HeaderMap, random: number): Route {
    if (this.weighted !== undefined) {
      const entry = this.weighted.pick(headers, random)
      const header = entry.weighted?.clusterHeader ?? ''
      if (header === '') return entry
      const name = headers.get(header)
      return name === undefined ? entry : new RouteEntryImpl(this, name, entry.weighted)
    }
    if (this.clusterHeader !== '') return new RouteEntryImpl(this, headers.get(this.clusterHeader) ?? '', undefined)
    return this.staticEntry
  }

  upgradeEnabled(upgradeType: string): boolean | undefined {
    return this.upgrades.size === 0 ? undefined : this.upgrades.get(upgradeType.toLowerCase())
  }

  finalizeRequestHeaders(headers: HeaderMap, info: StreamInfo, keepOriginalPath: boolean): void {
    evaluateRequestHeaders(this.requestParsers, this.dynamicRequest, headers, info)
    if (this.hostRewriteLiteral !== '') {
      this.updateAuthority(headers, this.hostRewriteLiteral)
    } else if (this.hostRewriteHeader !== '') {
      // Only the first value of this untrusted header counts, and only when non-empty.
      const v = headers.get(this.hostRewriteHeader)
      if (v !== undefined && v !== '') this.updateAuthority(headers, v)
    } else if (this.hostRewritePathRegex !== undefined) {
      const full = headers.get(':path') ?? ''
      this.updateAuthority(headers, this.hostRewritePathRegex.replaceAll(full.slice(0, pathEnd(full))))
    }
    if (this.prefixRewrite === '' && this.regexRewrite === undefined) return
    const full = headers.get(':path')
    if (full === undefined) return
    const end = pathEnd(full)
    const rewritten = this.prefixRewrite !== ''
      ? this.prefixRewrite + full.slice(this.match.matchedLength(full, end))
      : this.regexRewrite!.replaceAll(full.slice(0, end)) + full.slice(end)
    if (keepOriginalPath) headers.set('x-envoy-original-path', full)
    headers.set(':path', rewritten)
  }

  finalizeResponseHeaders(headers: HeaderMap, info: StreamInfo): void {
    evaluateResponseHeaders(this.responseParsers, this.dynamicResponse, headers, info)
  }

  private updateAuthority(headers: HeaderMap, host: string): void {
    if (this.appendXfh) {
      const old = headers.get(':authority')
      if (old !== undefined && old !== '') {
        const xfh = headers.get('x-forwarded-host')
        headers.set('x-forwarded-host', xfh === undefined || xfh === '' ? old : `${xfh},${old}`)
      }
    }
    headers.set(':authority', host)
  }
}

/** What a request matched by a `route` action gets (Envoy's RouteEntry and DynamicRouteEntry). */
export class RouteEntryImpl implements Route, RouteEntry {
  readonly directResponseEntry = undefined
  readonly routeEntry: RouteEntry = this
  private readonly action: RouteActionImpl
  private readonly cluster: string
  /** The weighted cluster this entry stands for, if any. */
  readonly weighted: WeightedClusterData | undefined

  constructor(action: RouteActionImpl, cluster: string, weighted: WeightedClusterData | undefined) {
    this.action = action
    this.cluster = cluster
    this.weighted = weighted
  }

  // Router.Route
  get name(): string { return this.action.name }
  get virtualHost(): VirtualHost { return this.action.vhost }

  perFilterConfig(filterName: string): unknown {
    return this.weighted?.perFilterConfigs.get(filterName) ??
      this.action.perFilterConfigs.get(filterName) ??
      this.action.vhost.perFilterConfig(filterName)
  }

  // Router.RouteEntry
  clusterName(): string { return this.cluster }
  get clusterNotFoundResponseCode(): number { return this.action.clusterNotFoundResponseCode }
  get timeoutMs(): number { return this.action.timeoutMs }
  get idleTimeoutMs(): number | undefined { return this.action.idleTimeoutMs }
  get retryPolicy(): RetryPolicy | undefined { return this.action.retryPolicy }
  get hashPolicy(): HashPolicy | undefined { return this.action.hashPolicy }
  get priority(): ResourcePriority { return this.action.priority }
  get requestMirrorPolicies(): readonly MirrorPolicy[] { return this.action.requestMirrorPolicies }
  get maxStreamDurationMs(): number | undefined { return this.action.maxStreamDurationMs }
  get includeAttemptCountInRequest(): boolean { return this.action.vhost.includeAttemptCountInRequest }
  get includeAttemptCountInResponse(): boolean { return this.action.vhost.includeAttemptCountInResponse }
  get autoHostRewrite(): boolean { return this.action.autoHostRewrite }

  upgradeEnabled(upgradeType: string): boolean | undefined {
    return this.action.upgradeEnabled(upgradeType)
  }

  virtualClusterName(headers: HeaderMap): string | undefined {
    return this.action.vhost.virtualClusterName(headers)
  }

  finalizeRequestHeaders(headers: HeaderMap, info: StreamInfo, keepOriginalPath: boolean): void {
    // A weighted cluster's own mutations and host come first, then the route's (Envoy).
    const w = this.weighted
    if (w !== undefined) {
      if (w.requestParsers.length > 0) evaluateRequestHeaders(w.requestParsers, w.requestParsers[0]!.dynamic, headers, info)
      if (w.hostRewriteLiteral !== '') headers.set(':authority', w.hostRewriteLiteral)
    }
    this.action.finalizeRequestHeaders(headers, info, keepOriginalPath)
  }

  finalizeResponseHeaders(headers: HeaderMap, info: StreamInfo): void {
    const w = this.weighted
    if (w !== undefined && w.responseParsers.length > 0) evaluateResponseHeaders(w.responseParsers, w.responseParsers[0]!.dynamic, headers, info)
    this.action.finalizeResponseHeaders(headers, info)
  }
}

/** A `direct_response` or `redirect` route (Envoy's DirectResponseEntry). */
export class DirectResponseRouteImpl implements ConfiguredRoute, Route, DirectResponseEntry {
  readonly name: string
  readonly match: RouteMatchImpl
  readonly virtualHost: VirtualHost
  readonly routeEntry = undefined
  readonly directResponseEntry: DirectResponseEntry = this
  readonly responseCode: number
  readonly body: string
  private readonly vhost: VirtualHostParent
  private readonly redirect: RedirectConfig | undefined
  private readonly perFilterConfigs: TypedConfigMap
  private readonly responseParsers: readonly HeaderParser[]
  private readonly dynamicResponse: boolean

  constructor(r: RouteConfigProto, match: RouteMatchImpl, path: string, vhost: VirtualHostParent, table: RouteTableParent, errors: ConfigErrors) {
    this.name = r.name
    this.match = match
    this.vhost = vhost
    this.virtualHost = vhost
    this.perFilterConfigs = table.buildPerFilterConfigs(r.typed_per_filter_config, `${path}.typed_per_filter_config`)
    if (r.redirect !== undefined) {
      this.redirect = new RedirectConfig(r.redirect, `${path}.redirect`, errors)
      this.responseCode = redirectResponseCode(r.redirect.response_code)
      this.body = ''
    } else {
      const d = r.direct_response!
      this.responseCode = d.status
      this.body = readDirectResponseBody(d.body, table.maxDirectResponseBodySizeBytes, `${path}.direct_response.body`, errors)
    }
    // Request mutations of a route answered locally never reach an upstream; Envoy still
    // validates them.
    new HeaderParser(r.request_headers_to_add, r.request_headers_to_remove, path, errors, 'request')
    const respParser = new HeaderParser(r.response_headers_to_add, r.response_headers_to_remove, path, errors, 'response')
    this.responseParsers = orderParsers([respParser, vhost.responseHeaderParser, table.responseHeaderParser], table.mostSpecificHeaderMutationsWins)
    this.dynamicResponse = this.responseParsers.some((p) => p.dynamic)
  }

  select(): Route {
    return this
  }

  newUri(headers: HeaderMap): string | undefined {
    return this.redirect?.newUri(headers, (full) => this.match.matchedLength(full, pathEnd(full)))
  }

  finalizeResponseHeaders(headers: HeaderMap, info: StreamInfo): void {
    evaluateResponseHeaders(this.responseParsers, this.dynamicResponse, headers, info)
  }

  perFilterConfig(filterName: string): unknown {
    return this.perFilterConfigs.get(filterName) ?? this.vhost.perFilterConfig(filterName)
  }
}
