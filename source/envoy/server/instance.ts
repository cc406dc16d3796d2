import type { Bootstrap } from '../../common/protobuf/generated/envoy/config/bootstrap/v3.js'
import type { StatsRoot } from '../../common/stats/stats-root.js'
import type { TagExtractor } from '../../common/stats/tag-extractor.js'
import type { Options } from './options.js'

/**
 * Envoy's server states, with the numbers `server.state` reports: LIVE 0, DRAINING 1,
 * PRE_INITIALIZING 2, INITIALIZING 3.
 */
export const ServerState = { LIVE: 0, DRAINING: 1, PRE_INITIALIZING: 2, INITIALIZING: 3 } as const
export type ServerStateName = keyof typeof ServerState

/** One section of `/config_dump`: an `envoy.admin.v3.*ConfigDump` message. */
export interface ConfigDumpSection {
  /** The dump message's full type name, e.g. `envoy.admin.v3.ListenersConfigDump`. */
  type: string
  /** The dump itself (without `@type`). */
  dump: Record<string, unknown>
  /**
   * Its resources for `?resource=`: the repeated field name (`static_listeners`) → items, each
   * with the item type (`envoy.admin.v3.ListenersConfigDump.StaticListener`) and its name.
   */
  resources: Record<string, { type: string; items: Array<{ name: string; item: Record<string, unknown> }> }>
}

/** `/listeners`: one listener as bound. */
export interface ListenerStatus {
  name: string
  /** The bound address (the real port when configured with 0). */
  localAddress: { address: string; port: number } | { pipe: string } | { internal: string }
}

/**
 * What the admin endpoint (and anything else on main) can see and do to the running server
 * (Envoy's Server::Instance). Main thread only.
 */
export interface Instance {
  readonly options: Options
  readonly bootstrap: Bootstrap
  readonly stats: StatsRoot
  readonly tagExtractor: TagExtractor
  /** Epoch ms when the process started. */
  readonly startTimeMs: number
  /**
   * RLIMIT_NOFILE as start-up left it (the soft limit is raised to the hard one; -1 means
   * unlimited; `before` is the soft limit found). Undefined before init or without the addon.
   */
  readonly fileDescriptorLimit: { before: number; soft: number; hard: number } | undefined
  state(): ServerStateName
  healthCheckFailed(): boolean
  setHealthCheckFailed(failed: boolean): void
  /** Ends the process (`/quitquitquit`): no drain, exit 0. */
  shutdown(reason: string): void
  /** `/drain_listeners`. */
  drainListeners(options: { graceful: boolean; inboundOnly: boolean }): Promise<void>
  /** Levels of every logger (main's view; workers follow main). */
  logLevels(): Record<string, string>
  /** Sets a level on main and every worker; `component` undefined means all. */
  setLogLevel(component: string | undefined, level: string): Promise<void>
  /** Starts or stops CPU profiling of main and every worker; stop returns the files written. */
  startCpuProfiler(): Promise<void>
  stopCpuProfiler(): Promise<string[]>
  cpuProfilerRunning(): boolean
  /** A V8 heap snapshot of main, or of worker `index`. */
  heapSnapshot(workerIndex: number | undefined): Promise<NodeJS.ReadableStream>
  configDump(): ConfigDumpSection[]
  listenerStatuses(): ListenerStatus[]
  /** Text lines and JSON for `/clusters`. */
  clustersText(): string
  clustersJson(): Record<string, unknown>
  /** `/runtime`: layered runtime values. */
  runtimeDump(): Record<string, unknown>
  /** `/runtime_modify`: sets keys in the admin layer; returns an error text or undefined. */
  runtimeModify(values: Record<string, string>): string | undefined
}
