import { createAccessLogs } from '../access-log/access-log-impl.js'
import { CidrRange } from '../network/cidr.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { durationToMs } from '../protobuf/duration.js'
import type { ThreadLocalOverloadState } from '../../envoy/server/overload.js'
import type { HttpConnectionManager } from '../protobuf/generated/envoy/extensions/filters/network/http_connection_manager/v3.js'
import { typeNameFromUrl } from '../protobuf/schema.js'
import { RouteConfigImpl } from '../router/config-impl.js'
import type { AccessLogInstance } from '../../envoy/access-log/access-log.js'
import type { Http1Settings } from '../../envoy/http/codec.js'
import {
  HTTP_FILTERS, type HttpFilterFactoryCb, type HttpFilterFactoryContext, type NamedHttpFilterConfigFactory,
} from '../../envoy/http/filter.js'
import type { FactoryContext } from '../../envoy/network/filter.js'
import type { RouteConfig } from '../../envoy/router/router.js'
import { type ConnectionManagerStats, connectionManagerStats } from './conn-manager-stats.js'
import { LocalReply } from './local-reply.js'
import { emptyConfigOf } from '../protobuf/empty-config.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/**
 * Set to `false` in a runtime layer to go back to Envoy's old default when
 * `internal_address_config` is absent: loopback and RFC 1918 peers are internal. (Envoy 1.33-1.35
 * had this guard; it is deprecated there, kept here as a migration aid.)
 */
export const EXPLICIT_INTERNAL_ADDRESS_CONFIG = 'envoy.reloadable_features.explicit_internal_address_config'
const LEGACY_INTERNAL = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '::1/128', 'fc00::/7'].map((t) => CidrRange.parse(t))

export interface HttpFilterEntry {
  name: string
  factory: HttpFilterFactoryCb
}

/**
 * Everything about one `HttpConnectionManager` that does not change per connection (Envoy's
 * ConnectionManagerConfig), built once per listener on each worker. Throws ConfigError with
 * every problem and its path.
 */
export class ConnectionManagerConfig {
  readonly statPrefix: string
  readonly stats: ConnectionManagerStats
  /** The overload manager's state (disable_http_keepalive); undefined: never overloaded. */
  readonly overloadState: ThreadLocalOverloadState | undefined
  readonly codec: Http1Settings
  readonly routeConfig: RouteConfig
  readonly filters: HttpFilterEntry[]
  readonly accessLogs: AccessLogInstance[]
  readonly accessLogFlushIntervalMs: number
  readonly flushAccessLogOnNewRequest: boolean
  readonly serverName: string
  readonly serverHeaderTransformation: HttpConnectionManager['server_header_transformation']
  readonly useRemoteAddress: boolean
  readonly xffNumTrustedHops: number
  readonly skipXffAppend: boolean
  readonly via: string
  readonly generateRequestId: boolean
  readonly preserveExternalRequestId: boolean
  readonly alwaysSetRequestIdInResponse: boolean
  readonly forwardClientCertDetails: HttpConnectionManager['forward_client_cert_details']
  readonly proxy100Continue: boolean
  readonly addUserAgent: boolean
  readonly upgrades: ReadonlyMap<string, boolean>
  readonly normalizePath: boolean
  readonly mergeSlashes: boolean
  readonly escapedSlashes: HttpConnectionManager['path_with_escaped_slashes_action']
  readonly stripPortMode: 'none' | 'matching' | 'any'
  readonly stripTrailingHostDot: boolean
  readonly appendXForwardedPort: boolean
  readonly streamIdleTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly requestHeadersTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly maxConnectionDurationMs: number
  readonly maxStreamDurationMs: number
  readonly maxRequestsPerConnection: number
  readonly drainTimeoutMs: number
  readonly delayedCloseTimeoutMs: number
  readonly localReply: LocalReply
  private readonly internalRanges: CidrRange[]
  /** False when `internal_address_config` is absent (then the runtime guard may restore the old default). */
  private readonly hasInternalAddressConfig: boolean
  private readonly runtime: FactoryContext['runtime']
  readonly internalUnixSockets: boolean

  constructor(c: HttpConnectionManager, ctx: FactoryContext, path: string) {
    const errors: string[] = []
    const attempt = <T>(fn: () => T, fallback: T): T => {
      try {
        return fn()
      } catch (err) {
        const e = err as { errors?: string[]; message: string }
        errors.push(...(e.errors ?? [`${path}: ${e.message}`]))
        return fallback
      }
    }
    if (c.codec_type === 'HTTP2' || c.codec_type === 'HTTP3') errors.push(`${path}.codec_type: ${c.codec_type} is not supported yet (AUTO and HTTP1 are)`)
    if (c.route_config === undefined) errors.push(`${path}.route_config: value is required (RDS is not supported yet)`)
    this.statPrefix = c.stat_prefix
    this.overloadState = ctx.overloadState
    const httpScope = ctx.scope.createScope(`http.${c.stat_prefix}`)
    this.stats = connectionManagerStats(httpScope)
    const common = c.common_http_protocol_options
    const h1 = c.http_protocol_options
    this.codec = {
      maxHeadersBytes: (c.max_request_headers_kb ?? 60) * 1024,
      maxHeadersCount: common?.max_headers_count ?? 100,
      acceptHttp10: h1?.accept_http_10 ?? false,
      defaultHostForHttp10: h1?.default_host_for_http_10 ?? '',
      allowAbsoluteUrl: h1?.allow_absolute_url ?? true,
      enableTrailers: h1?.enable_trailers ?? false,
      allowChunkedLength: h1?.allow_chunked_length ?? false,
      headersWithUnderscores: common?.headers_with_underscores_action ?? 'ALLOW',
    }
    this.serverName = c.server_name !== '' ? c.server_name : 'envoy'
    this.serverHeaderTransformation = c.server_header_transformation
    this.useRemoteAddress = c.use_remote_address ?? false
    this.xffNumTrustedHops = c.xff_num_trusted_hops
    this.skipXffAppend = c.skip_xff_append
    this.via = c.via
    this.generateRequestId = c.generate_request_id ?? true
    this.preserveExternalRequestId = c.preserve_external_request_id
    this.alwaysSetRequestIdInResponse = c.always_set_request_id_in_response
    this.forwardClientCertDetails = c.forward_client_cert_details
    this.proxy100Continue = c.proxy_100_continue
    this.addUserAgent = c.add_user_agent ?? false
    this.upgrades = new Map(c.upgrade_configs.map((u) => [u.upgrade_type.toLowerCase(), u.enabled ?? true]))
    this.normalizePath = c.normalize_path ?? false
    this.mergeSlashes = c.merge_slashes
    this.escapedSlashes = c.path_with_escaped_slashes_action
    this.stripPortMode = c.strip_any_host_port === true ? 'any' : c.strip_matching_host_port ? 'matching' : 'none'
    this.stripTrailingHostDot = c.strip_trailing_host_dot
    this.appendXForwardedPort = c.append_x_forwarded_port
    this.streamIdleTimeoutMs = durationToMs(c.stream_idle_timeout, 5 * MINUTE)
    this.requestTimeoutMs = durationToMs(c.request_timeout, 0)
    this.requestHeadersTimeoutMs = durationToMs(c.request_headers_timeout, 0)
    this.idleTimeoutMs = durationToMs(common?.idle_timeout, HOUR)
    this.maxConnectionDurationMs = durationToMs(common?.max_connection_duration, 0)
    this.maxStreamDurationMs = durationToMs(common?.max_stream_duration, 0)
    this.maxRequestsPerConnection = common?.max_requests_per_connection ?? 0
    this.drainTimeoutMs = durationToMs(c.drain_timeout, 5000)
    this.delayedCloseTimeoutMs = durationToMs(c.delayed_close_timeout, 1000)
    // Without `internal_address_config` no peer is internal (Envoy since 1.36 dropped the old
    // default of loopback and RFC 1918 ranges, `explicit_internal_address_config`).
    this.hasInternalAddressConfig = c.internal_address_config !== undefined
    this.runtime = ctx.runtime
    this.internalUnixSockets = c.internal_address_config?.unix_sockets ?? false
    this.internalRanges = attempt(() => (c.internal_address_config?.cidr_ranges ?? []).map((r, i) => {
      try {
        return CidrRange.fromConfig(r)
      } catch (err) {
        throw new Error(`internal_address_config.cidr_ranges[${i}]: ${(err as Error).message}`)
      }
    }), [])

    const filterCtx: HttpFilterFactoryContext = {
      scope: ctx.scope,
      log: ctx.log,
      registry: ctx.registry,
      clusterManager: ctx.clusterManager,
      accessLogManager: ctx.accessLogManager,
      runtime: ctx.runtime,
      drainDecision: ctx.drainDecision,
      healthCheckFailed: ctx.healthCheckFailed,
      httpScope,
      workerIndex: ctx.workerIndex,
      runtimeHost: ctx.runtimeHost,
      serviceInvoker: ctx.serviceInvoker,
    }
    const category = ctx.registry.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS)
    this.filters = []
    c.http_filters.forEach((f, i) => {
      const p = `${path}.http_filters[${i}]`
      if (f.disabled) {
        errors.push(`${p}.disabled: filters disabled by default are not supported yet`)
        return
      }
      const factory = category.lookup(f.name, f.typed_config?.['@type'])
      if (factory === undefined) {
        if (f.is_optional) return
        errors.push(`${p}: Didn't find a registered implementation for name: '${f.name}'${f.typed_config !== undefined ? ` with type URL: '${f.typed_config['@type']}'` : ''}`)
        return
      }
      const last = i === c.http_filters.length - 1
      if (factory.isTerminalFilter && !last) errors.push(`${p}: terminal filter named ${f.name} of type ${factory.configType} must be the last filter in an http filter chain`)
      if (!factory.isTerminalFilter && last) errors.push(`${p}: non-terminal filter named ${f.name} of type ${factory.configType} is the last filter in an http filter chain`)
      const cb = attempt(() => factory.createFilterFactory(f.typed_config ?? emptyConfigOf(factory.configType, `${p}.typed_config`), filterCtx, `${p}.typed_config`), undefined)
      if (cb !== undefined) this.filters.push({ name: f.name, factory: cb })
    })
    if (c.http_filters.length === 0) errors.push(`${path}.http_filters: at least the router filter is needed`)

    const configured = new Map(c.http_filters.map((f) => [f.name, f]))
    this.routeConfig = attempt(() => new RouteConfigImpl(c.route_config ?? { name: '', virtual_hosts: [] } as never, `${path}.route_config`, {
      perFilterConfig: (filterName, typedConfig, p) => {
        const typeName = typeNameFromUrl(typedConfig['@type'])
        const byName = configured.get(filterName)
        const factory = (byName !== undefined ? category.lookup(byName.name, byName.typed_config?.['@type']) : undefined) ??
          category.all().find((f) => f.perRouteConfigType === typeName || f.configType === typeName)
        if (factory === undefined || factory.createRouteSpecificFilterConfig === undefined) {
          throw new ConfigError(ErrorCode.EXTENSION_UNKNOWN, [`${p}: no HTTP filter named '${filterName}' takes a per-route config of type ${typeName}`])
        }
        return factory.createRouteSpecificFilterConfig(typedConfig, filterCtx, p)
      },
    }), { name: '', route: () => undefined, internalOnlyHeaders: [] } as RouteConfig)
    this.accessLogs = attempt(() => createAccessLogs(c.access_log, `${path}.access_log`, ctx.registry, { accessLogManager: ctx.accessLogManager, log: ctx.log }), [])
    this.accessLogFlushIntervalMs = durationToMs(c.access_log_options?.access_log_flush_interval ?? c.access_log_flush_interval, 0)
    this.flushAccessLogOnNewRequest = c.access_log_options?.flush_access_log_on_new_request ?? c.flush_access_log_on_new_request
    this.localReply = attempt(() => new LocalReply(c.local_reply_config, `${path}.local_reply_config`, ctx.runtime), new LocalReply(undefined, path, ctx.runtime))
    if (errors.length > 0) throw new ConfigError(ErrorCode.CONFIG_INVALID, errors)
  }

  /**
   * Whether a peer counts as internal (trusted with `x-envoy-*` headers), Envoy's
   * InternalAddressConfig: an IP in `internal_address_config.cidr_ranges`, or a Unix socket peer
   * with `unix_sockets: true`. Nothing else (an internal listener's peer included).
   */
  isInternal(ip: string | undefined, isPipe: boolean): boolean {
    if (isPipe) return this.internalUnixSockets
    if (ip === undefined) return false
    if (!this.hasInternalAddressConfig && !this.runtime().getBoolean(EXPLICIT_INTERNAL_ADDRESS_CONFIG, true)) {
      return LEGACY_INTERNAL.some((r) => r.contains(ip))
    }
    return this.internalRanges.some((r) => r.contains(ip))
  }
}
