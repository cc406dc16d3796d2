import type { PinPlan } from '../lib/pin.js'

/** One upstream service the target must front (e.g. `rr` → the responder's port). */
export interface ServiceSpec {
  name: string
  /** `tcp` for now; HTTP scenarios will add `http` (targets then generate an HCM route). */
  protocol: 'tcp'
  upstreamHost: string
  upstreamPort: number
}

export interface TargetContext {
  services: readonly ServiceSpec[]
  /** Worker threads for proxies that have them (envoy-ts, envoy). */
  concurrency: number
  pin: PinPlan
  /** A private temp directory for configs, address files and profiles; removed after the run. */
  workDir: string
  /** CPU-profile the proxy (see Target.profile). */
  profile: boolean
  /** Path or name of the real Envoy binary for the `envoy` target. */
  envoyBin: string
  /** `per_connection_buffer_limit_bytes` for generated Envoy bootstraps; undefined leaves it unset. */
  bufferLimit?: number
  /** Extra Node flags for the envoy-ts process. */
  envoyTsNodeFlags: readonly string[]
  log: (line: string) => void
}

/** A started target. */
export interface RunningTarget {
  /** Where the load generator connects for each service. */
  ports: Record<string, number>
  host: string
  /** The proxy process whose CPU and RSS are reported; undefined for `direct`. */
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
 * reports it as skipped and carries on.
 */
export interface Target {
  name: string
  description: string
  /** `baseline` rows are not proxies (no CPU column); `proxy` rows are. */
  kind: 'baseline' | 'proxy'
  start(ctx: TargetContext): Promise<RunningTarget>
}
