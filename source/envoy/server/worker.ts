import type { LogSettings } from '../../common/logger/logger.js'
import type { HistogramSample } from '../../common/stats/histogram-impl.js'
import type { StatMemoryHandles } from '../../common/stats/stat-memory.js'
import type { Bootstrap } from '../../common/protobuf/generated/envoy/config/bootstrap/v3.js'
import type { HistogramUnit } from '../stats/stats.js'
import type { ClusterSnapshot } from '../upstream/cluster-snapshot.js'

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
  /** Stops accepting, closes everything and lets the thread exit. */
  'shutdown': { params: Record<string, never>; result: null }
}

/** Requests a worker sends to main. */
export type MainMethods = {
  'main.ping': { params: Record<string, never>; result: null }
}

/** Events a worker posts to main. */
export type WorkerEvents = {
  /** The worker built its config and is serving. */
  ready: { index: number }
}

export type MainEvents = Record<string, never>
