import type { LogSettings } from '../../common/logger/logger.js'
import type { HistogramSample } from '../../common/stats/histogram-impl.js'
import type { StatMemoryHandles } from '../../common/stats/stat-memory.js'
import type { Bootstrap } from '../../common/protobuf/generated/envoy/config/bootstrap/v3.js'
import type { HistogramUnit } from '../stats/stats.js'
import type { ClusterSnapshot } from '../upstream/cluster-snapshot.js'
import type {
  RuntimeAckEvent, RuntimeAppSubscription, RuntimeCallParams, RuntimeResult, RuntimeSubscribeParams,
} from '../runtime-api/host-rpc.js'
import type { RuntimeStreamEvent } from '../runtime-api/runtime-host.js'

/**
 * Everything a worker thread needs to build itself, passed as `workerData`. A restarted worker
 * gets the same data with the current config, so "start" and "restart" are one path.
 */
export interface WorkerStartData {
  index: number
  concurrency: number
  statMemory: StatMemoryHandles
  /** Per-host stats (`/clusters`), kept apart so `/stats` does not list them. */
  hostStatMemory: StatMemoryHandles
  /** Every cluster as main last published it. */
  clusters: ClusterSnapshot[]
  watchdog: { buffer: SharedArrayBuffer; slots: number; touchIntervalMs: number }
  bootstrap: Bootstrap
  log: LogSettings
  /** Modules from ENVOY_TS_EXTENSION_MODULES, each exporting `setup(registry)`. */
  extensionModules: string[]
  /** The listeners to serve and how this worker gets their connections. */
  listeners: Array<{ config: import('../../common/protobuf/generated/envoy/config/listener/v3.js').Listener; path: string; socket: import('../../server/active-tcp-listener.js').WorkerSocket }>
  /** Health-check-failed and drain flags shared with main (DrainState). */
  drainState: SharedArrayBuffer
  /** Runtime values (merged layers) at start. */
  runtime: Record<string, string>
  serverOptions: { drainTimeS: number; drainStrategy: 'gradual' | 'immediate'; fileFlushIntervalMsec: number }
  /** Process-wide filter counters (connection_limit, local_ratelimit), shared by key. */
  sharedCounters: Array<[string, SharedArrayBuffer]>
}

/** What main collects from a thread at each stats flush and admin read. */
export interface HistogramCollection {
  samples: HistogramSample[]
  /** Every histogram the thread has created, so unused ones are listed too. */
  names: Array<{ name: string; unit: HistogramUnit }>
}

/** Requests main sends to a worker; each has a reply. */
export type WorkerMethods = {
  'stats.collect': { params: Record<string, never>; result: HistogramCollection }
  /** Sets one component's level, or all when `component` is absent. */
  'logging.set': { params: { component?: string; level: string }; result: null }
  'logging.reopen': { params: Record<string, never>; result: null }
  'profiler.start': { params: Record<string, never>; result: null }
  /** Stops the CPU profiler; returns the profile as JSON text. */
  'profiler.stop': { params: Record<string, never>; result: string }
  /** New or changed clusters; a worker keeps the newest version of each. */
  'cluster.update': { params: { snapshots: ClusterSnapshot[] }; result: null }
  'cluster.remove': { params: { names: string[] }; result: null }
  /** A connection main accepted for `listener` (exact balance, pipes). */
  'listener.handoff': { params: { listener: string; fd: number }; result: boolean }
  /** Stops accepting on these listeners (all when absent). Open connections go on. */
  'listeners.stop': { params: { names?: string[] }; result: null }
  /** A drain started: filters that close connections on drain act now. */
  'drain.start': { params: Record<string, never>; result: null }
  /** Resolves once this worker has no open downstream connection. */
  'connections.wait_empty': { params: Record<string, never>; result: null }
  'connections.count': { params: Record<string, never>; result: number }
  'connections.close': { params: Record<string, never>; result: null }
  'runtime.update': { params: { values: Record<string, string> }; result: null }
  /** Stops accepting, closes everything and lets the thread exit. */
  'shutdown': { params: Record<string, never>; result: null }
}

/** Requests a worker sends to main. */
export type MainMethods = {
  'main.ping': { params: Record<string, never>; result: null }
  // Runtime API (source/common/runtime-api/runtime-host-impl.ts serves them on main).
  /** A method call on an embedded component (one instance, on main). */
  'runtime.call': { params: RuntimeCallParams; result: RuntimeResult<unknown> }
  /** Opens a configuration or topic subscription whose events go to this worker (`runtime.stream`). */
  'runtime.subscribe': { params: RuntimeSubscribeParams; result: RuntimeResult<null> }
  /** Stops a subscription opened by any worker; false if it does not exist. */
  'runtime.unsubscribe': { params: { id: string }; result: boolean }
  /** Sets one extended metadata key (when `set` is given); returns all of them. */
  'runtime.metadata': { params: { set?: { key: string; value: string } }; result: Record<string, string> }
  /** The app's pub/sub subscriptions (GetMetadata). */
  'runtime.subscriptions': { params: { appId: string }; result: RuntimeAppSubscription[] }
  /** Dapr's Shutdown: a graceful shutdown of the process. */
  'runtime.shutdown': { params: Record<string, never>; result: null }
}

/** Events a worker posts to main. */
export type WorkerEvents = {
  /** The worker built its config and is serving. */
  ready: { index: number }
  /** Runtime API: the outcome of one topic delivery of a stream this worker serves. */
  'runtime.ack': RuntimeAckEvent
}

/** Events main posts to a worker. */
export type MainEvents = {
  /** Runtime API: an event of a subscription this worker opened (`runtime.subscribe`). */
  'runtime.stream': RuntimeStreamEvent
}
