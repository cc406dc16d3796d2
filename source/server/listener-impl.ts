import type { Logger } from 'pino'
import { createAccessLogs } from '../common/access-log/access-log-impl.js'
import { ErrorCode } from '../common/errors/codes.js'
import { ConfigError } from '../common/errors/envoy-ts-error.js'
import { addressFromConfig } from '../common/network/address-impl.js'
import { durationToMs } from '../common/protobuf/duration.js'
import type { FilterChain, Listener } from '../common/protobuf/generated/envoy/config/listener/v3.js'
import type { AccessLogInstance, AccessLogManager } from '../envoy/access-log/access-log.js'
import { type Address, addressStatName } from '../envoy/network/address.js'
import type { DrainDecision } from '../envoy/network/drain-decision.js'
import {
  type FactoryContext, NETWORK_FILTERS, type NamedNetworkFilterConfigFactory, type NetworkFilterFactoryCb,
} from '../envoy/network/filter.js'
import {
  LISTENER_FILTERS, type ListenerFilterFactoryCb, type NamedListenerFilterConfigFactory,
} from '../envoy/network/listener-filter.js'
import type { ThreadLocalOverloadState } from '../envoy/server/overload.js'
import type { Registry } from '../envoy/registry/registry.js'
import type { ServiceInvoker } from '../envoy/runtime-api/invoker.js'
import type { RuntimeHostApi } from '../envoy/runtime-api/runtime-host.js'
import type { RuntimeSnapshot } from '../envoy/runtime/runtime.js'
import type { Scope } from '../envoy/stats/stats.js'
import type { ClusterManager } from '../envoy/upstream/cluster-manager.js'
import { FilterChainManagerImpl } from './filter-chain-manager-impl.js'
import { emptyConfigOf } from '../common/protobuf/empty-config.js'

export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000
export const DEFAULT_TCP_BACKLOG = 128

/** What building a listener needs from the thread it is built on. */
export interface ListenerContext {
  registry: Registry
  scope: Scope
  log: Logger
  clusterManager: ClusterManager
  accessLogManager: AccessLogManager
  runtime: () => RuntimeSnapshot
  drainDecision: DrainDecision
  healthCheckFailed: () => boolean
  workerIndex: number
  serverOptions: { drainTimeS: number; drainStrategy: 'gradual' | 'immediate' }
  /** Runtime API: main's RuntimeHost, or a worker's proxy to it. */
  runtimeHost: RuntimeHostApi
  /** Runtime API: the worker's service invoker; undefined on main. */
  serviceInvoker: ServiceInvoker | undefined
  /** The overload manager's action states, for filters (the HCM's disable_http_keepalive). */
  overloadState?: ThreadLocalOverloadState
}

/** A built filter chain: its name and the per-connection installers of its filters. */
export interface FilterChainImpl {
  name: string
  factories: NetworkFilterFactoryCb[]
}

function fail(errors: string[]): never {
  throw new ConfigError(ErrorCode.CONFIG_INVALID, errors)
}

/**
 * A listener's config as one thread uses it (Envoy's ListenerImpl): address, stats scope,
 * listener filters, filter chains with their network filter factories, access logs. Built in
 * every worker, and once on main to validate. Throws ConfigError with every problem and path.
 */
export class ListenerImpl {
  readonly name: string
  readonly config: Listener
  readonly address: Address
  /** `listener.<stat_prefix or address>.` */
  readonly scope: Scope
  readonly statName: string
  readonly filterChainManager: FilterChainManagerImpl<FilterChainImpl>
  readonly listenerFilterFactories: ListenerFilterFactoryCb[]
  readonly listenerFiltersTimeoutMs: number
  readonly continueOnListenerFiltersTimeout: boolean
  readonly perConnectionBufferLimitBytes: number
  readonly accessLogs: AccessLogInstance[]
  readonly backlog: number
  readonly outbound: boolean

  constructor(config: Listener, path: string, ctx: ListenerContext) {
    this.name = config.name
    this.config = config
    const errors: string[] = []
    const address = config.address === undefined
      ? { kind: 'internal' as const, listenerName: config.name, endpointId: '' }
      : addressFromConfig(config.address, config.name)
    if (typeof address === 'string') fail([`${path}.address: ${address}`])
    this.address = address
    this.statName = config.stat_prefix !== '' ? config.stat_prefix : addressStatName(address)
    this.scope = ctx.scope.createScope(`listener.${this.statName}`)
    this.perConnectionBufferLimitBytes = config.per_connection_buffer_limit_bytes ?? 1024 * 1024
    this.listenerFiltersTimeoutMs = durationToMs(config.listener_filters_timeout, DEFAULT_LISTENER_FILTERS_TIMEOUT_MS)
    this.continueOnListenerFiltersTimeout = config.continue_on_listener_filters_timeout
    this.backlog = config.tcp_backlog_size ?? DEFAULT_TCP_BACKLOG
    this.outbound = config.traffic_direction === 'OUTBOUND'

    this.listenerFilterFactories = []
    config.listener_filters.forEach((lf, i) => {
      const p = `${path}.listener_filters[${i}]`
      if (lf.filter_disabled !== undefined) {
        errors.push(`${p}.filter_disabled: not supported by envoy-ts yet`)
        return
      }
      const factory = ctx.registry.category<NamedListenerFilterConfigFactory>(LISTENER_FILTERS).lookup(lf.name, lf.typed_config?.['@type'])
      if (factory === undefined) {
        errors.push(`${p}: Didn't find a registered implementation for name: '${lf.name}'`)
        return
      }
      try {
        this.listenerFilterFactories.push(factory.createListenerFilterFactory(lf.typed_config ?? emptyConfigOf(factory.configType, `${p}.typed_config`), { scope: ctx.scope, listenerScope: this.scope, log: ctx.log, registry: ctx.registry }, `${p}.typed_config`))
      } catch (err) {
        errors.push(...problems(err, p))
      }
    })

    const factoryContext: FactoryContext = {
      scope: ctx.scope,
      listenerScope: this.scope,
      log: ctx.log,
      registry: ctx.registry,
      clusterManager: ctx.clusterManager,
      accessLogManager: ctx.accessLogManager,
      runtime: ctx.runtime,
      drainDecision: ctx.drainDecision,
      healthCheckFailed: ctx.healthCheckFailed,
      workerIndex: ctx.workerIndex,
      serverOptions: ctx.serverOptions,
      runtimeHost: ctx.runtimeHost,
      serviceInvoker: ctx.serviceInvoker,
      ...(ctx.overloadState !== undefined ? { overloadState: ctx.overloadState } : {}),
    }
    const build = (fc: FilterChain, p: string): FilterChainImpl => {
      const factories: NetworkFilterFactoryCb[] = []
      fc.filters.forEach((f, i) => {
        const fp = `${p}.filters[${i}]`
        const factory = ctx.registry.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS).lookup(f.name, f.typed_config?.['@type'])
        if (factory === undefined) {
          errors.push(`${fp}: Didn't find a registered implementation for name: '${f.name}'${f.typed_config !== undefined ? ` with type URL: '${f.typed_config['@type']}'` : ''}`)
          return
        }
        const last = i === fc.filters.length - 1
        if (factory.isTerminalFilter && !last) {
          errors.push(`${fp}: terminal filter named ${f.name} of type ${factory.configType} must be the last filter in a network filter chain`)
        } else if (!factory.isTerminalFilter && last) {
          errors.push(`${fp}: non-terminal filter named ${f.name} of type ${factory.configType} is the last filter in a network filter chain`)
        }
        try {
          factories.push(factory.createFilterFactory(f.typed_config ?? emptyConfigOf(factory.configType, `${fp}.typed_config`), factoryContext, `${fp}.typed_config`))
        } catch (err) {
          errors.push(...problems(err, fp))
        }
      })
      if (fc.filters.length === 0) errors.push(`${p}.filters: a filter chain needs at least one network filter`)
      return { name: fc.name, factories }
    }
    const chains = config.filter_chains.map((fc, i) => ({ config: fc, payload: build(fc, `${path}.filter_chains[${i}]`) }))
    const defaultChain = config.default_filter_chain === undefined
      ? undefined
      : { payload: build(config.default_filter_chain, `${path}.default_filter_chain`) }
    try {
      this.accessLogs = createAccessLogs(config.access_log, `${path}.access_log`, ctx.registry, { accessLogManager: ctx.accessLogManager, log: ctx.log })
    } catch (err) {
      errors.push(...problems(err, `${path}.access_log`))
      this.accessLogs = []
    }
    let fcm: FilterChainManagerImpl<FilterChainImpl> | undefined
    try {
      fcm = new FilterChainManagerImpl({ listenerName: config.name, filterChains: chains, ...(defaultChain !== undefined ? { defaultFilterChain: defaultChain } : {}) })
    } catch (err) {
      errors.push(...problems(err, path))
    }
    if (errors.length > 0 || fcm === undefined) fail(errors)
    this.filterChainManager = fcm
  }
}

/** The messages of a thrown error, each prefixed with `path` unless it already names one. */
function problems(err: unknown, path: string): string[] {
  const e = err as { errors?: unknown; message?: string }
  const list = Array.isArray(e.errors) ? e.errors.map(String) : [String(e.message ?? err)]
  return list.map((m) => (m.startsWith(path) || m.startsWith('static_resources.') ? m : `${path}: ${m}`))
}
