import type { ThreadLocalOverloadState } from '../server/overload.js'
import type { Logger } from 'pino'
import type { BufferInstance } from '../buffer/buffer.js'
import type { AccessLogManager } from '../access-log/access-log.js'
import type { Registry, TypedFactory } from '../registry/registry.js'
import type { RuntimeSnapshot } from '../runtime/runtime.js'
import type { Scope } from '../stats/stats.js'
import type { ClusterManager } from '../upstream/cluster-manager.js'
import type { Connection } from './connection.js'
import type { DrainDecision } from './drain-decision.js'
import type { ServiceInvoker } from '../runtime-api/invoker.js'
import type { RuntimeHostApi } from '../runtime-api/runtime-host.js'

/** What a filter returns: keep going down the chain, or stop here until resumed. */
export const FilterStatus = { Continue: 'Continue', StopIteration: 'StopIteration' } as const
export type FilterStatusValue = (typeof FilterStatus)[keyof typeof FilterStatus]

export interface ReadFilterCallbacks {
  connection(): Connection
  /** Resumes iteration after a filter returned StopIteration (from `onNewConnection` or `onData`). */
  continueReading(): void
  /** Hands data to the filters after the calling one, as if it had just been read. */
  injectReadDataToFilterChain(data: BufferInstance, endStream: boolean): void
}

export interface WriteFilterCallbacks {
  connection(): Connection
  /** Hands data to the write filters after the calling one (toward the socket). */
  injectWriteDataToFilterChain(data: BufferInstance, endStream: boolean): void
}

/**
 * A filter on the read path (Envoy's Network::ReadFilter). Called on the connection's worker.
 * `onData` gets the connection's read buffer: drain what you consume, leave what you wait on.
 */
export interface ReadFilter {
  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void
  /** Once, when the chain is initialized, in filter order. */
  onNewConnection(): FilterStatusValue
  onData(data: BufferInstance, endStream: boolean): FilterStatusValue
}

/** A filter on the write path, called in reverse order of registration. */
export interface WriteFilter {
  initializeWriteFilterCallbacks?(callbacks: WriteFilterCallbacks): void
  onWrite(data: BufferInstance, endStream: boolean): FilterStatusValue
}

export interface FilterManager {
  addReadFilter(filter: ReadFilter): void
  addWriteFilter(filter: WriteFilter): void
  addFilter(filter: ReadFilter & WriteFilter): void
  /** Calls every read filter's `onNewConnection`; false if the chain is empty. */
  initializeReadFilters(): boolean
}

/** Installs one filter instance per connection; built once per config. */
export type NetworkFilterFactoryCb = (fm: FilterManager, connection: Connection) => void

/**
 * What a filter factory may use while building (Envoy's FactoryContext). Built per listener on
 * the thread that will run the filters; everything here belongs to that thread.
 */
export interface FactoryContext {
  readonly scope: Scope
  /** The listener's scope (`listener.<address>.`). */
  readonly listenerScope: Scope
  readonly log: Logger
  readonly registry: Registry
  readonly clusterManager: ClusterManager
  readonly accessLogManager: AccessLogManager
  readonly runtime: () => RuntimeSnapshot
  readonly drainDecision: DrainDecision
  /** True while `/healthcheck/fail` is in effect. */
  readonly healthCheckFailed: () => boolean
  /** The worker index, or -1 on main (validation). */
  readonly workerIndex: number
  /** `--drain-time-s` etc. that filters need. */
  readonly serverOptions: { drainTimeS: number; drainStrategy: 'gradual' | 'immediate' }
  /**
   * Runtime API: builds runtime configs' components. On main the RuntimeHost itself (it
   * validates and owns embedded components), on workers a proxy to it.
   */
  readonly runtimeHost: RuntimeHostApi
  /** Runtime API: this worker's service invoker (internal listeners); undefined on main. */
  readonly serviceInvoker: ServiceInvoker | undefined
  /** The overload manager's action states (disable_http_keepalive, ...); absent: none active. */
  readonly overloadState?: ThreadLocalOverloadState
}

/** A network filter extension (Envoy's NamedNetworkFilterConfigFactory). */
export interface NamedNetworkFilterConfigFactory extends TypedFactory {
  /** Terminal filters end a chain (tcp_proxy, HCM, runtime_api, echo). */
  readonly isTerminalFilter: boolean
  /**
   * Builds the per-connection installer from the validated typed config. Throws ConfigError
   * (with `path` in its messages) for a config it cannot use.
   */
  createFilterFactory(config: unknown, ctx: FactoryContext, path: string): NetworkFilterFactoryCb
}

/** Registry category name for network filters. */
export const NETWORK_FILTERS = 'network filter'
