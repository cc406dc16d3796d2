import type { PinPlan } from '../lib/pin.js'
import type { Protocol } from '../scenarios/types.js'

/** One upstream service the target must front (e.g. `rr` → the responder's port). */
export interface ServiceSpec {
  name: string
  /** `tcp`: a TCP proxy; `http`: an HTTP proxy; `dapr-*`: served by the target itself (envoy-ts). */
  protocol: Protocol
  upstreamHost: string
  upstreamPort: number
}

export interface TargetContext {
  services: readonly ServiceSpec[]
  /** Worker threads / processes for proxies that have them (envoy-ts, envoy, nginx, haproxy, node peers). */
  concurrency: number
  pin: PinPlan
  /** A private temp directory for configs, address files and profiles; removed after the run. */
  workDir: string
  /** CPU-profile the proxy (see Target.profile). */
  profile: boolean
  /** Path or name of the peer binaries. */
  envoyBin: string
  nginxBin: string
  haproxyBin: string
  /** `per_connection_buffer_limit_bytes` for generated Envoy bootstraps; undefined leaves it unset. */
  bufferLimit?: number
  /** Extra Node flags for the envoy-ts process. */
  envoyTsNodeFlags: readonly string[]
  /** Connections the idle-conns scenario will hold (peers size their limits for it). */
  idleConnections: number
  log: (line: string) => void
}

/** A started target. */
export interface RunningTarget {
  /** Where the load generator connects for each service it fronts. */
  ports: Record<string, number>
  /**
   * Services of a protocol the target speaks that it cannot front here, with the reason (e.g.
   * nginx without its stream module for TCP): reported as skipped in those cases.
   */
  unavailable?: Record<string, string>
  host: string
  /** Things a reader of the report should know about this target in this run (limits it hit). */
  notes?: string[]
  /** The proxy process (leader of its process group) whose CPU and RSS are reported; undefined for `direct`. */
  pid?: number
  /** Starts/stops a CPU profile around measured rounds (envoy-ts's admin /cpuprofiler). */
  startProfile?(): Promise<void>
  /** Stops the profile; returns the files written. */
  stopProfile?(): Promise<string[]>
  /** Files written when the process exits (node --cpu-prof). */
  profileFilesAfterStop?(): string[]
  stop(): Promise<void>
}

/**
 * Something the load generator can be pointed at. `start` throws `Unavailable` (from
 * lib/child.ts) when it cannot run here, e.g. a peer binary that is not installed: the run
 * reports it as skipped (with `install`) and carries on.
 */
export interface Target {
  name: string
  description: string
  /** `baseline` rows are not proxies (no CPU column); `proxy` rows are. */
  kind: 'baseline' | 'proxy'
  /** What it can front; cases of other protocols leave it out (not applicable). */
  protocols: readonly Protocol[]
  /** How to install it when missing (shown with the skip). */
  install?: string
  start(ctx: TargetContext): Promise<RunningTarget>
}
