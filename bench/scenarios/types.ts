import type { GrpcLoadTask, HttpLoadTask, TaskBase, TcpLoadTask } from '../load/types.js'

/** What a target must speak to front a service (see targets/types.ts). */
export type Protocol = 'tcp' | 'http' | 'dapr-grpc' | 'dapr-http'

/** Settings a case turns into load tasks (from the command line). */
export interface LoadSettings {
  requestSize: number
  responseSize: number
  chunkSize: number
  /** Fixed mode: exact requests per connection (cases with `fixedCount`). */
  requestsPerConnection?: number
  /** idle-conns: connections to hold. */
  idleConnections: number
}

/** A load task minus what the runner fills in (address, share of connections, window). */
export type TaskShape =
  | Omit<TcpLoadTask, keyof TaskBase>
  | Omit<HttpLoadTask, keyof TaskBase>
  | Omit<GrpcLoadTask, keyof TaskBase>

/** What `--load wrk` sends for an HTTP case (see lib/wrk.ts). */
export interface WrkRequest {
  method: string
  path: string
  headers: Record<string, string>
  bodySize?: number
  /** Adds `Connection: close` (one connection per request). */
  close: boolean
  expectBodyBytes?: number
}

interface CaseCommon {
  /** Short id, unique within the scenario (`rr`, `upload`). */
  name: string
  title: string
  /** The upstream service this case talks to, through the target. */
  service: string
}

/**
 * One measured quantity of a scenario, one table in the report (tcp-stream has two: upload and
 * download). Each case drives one upstream service through every target.
 */
export interface RateCase extends CaseCommon {
  kind: 'rate'
  /** `rq/s`: ops are requests; `MB/s`: ops are bytes (10^6 bytes per MB). */
  unit: 'rq/s' | 'MB/s'
  /** Also show the client's bytes per second next to rq/s (HTTP). */
  showBytes: boolean
  /** Whether per-request latency is recorded. */
  latency: boolean
  /** Whether `--requests` (a fixed count per connection) applies. */
  fixedCount: boolean
  /**
   * How long connections run before the window opens: streams need socket buffers full before
   * their rate means anything.
   */
  prerollMs: number
  task(s: LoadSettings): TaskShape
  /** The same load for wrk (`--load wrk`); absent: this case always uses the bench's own load. */
  wrk?(s: LoadSettings): WrkRequest
}

/** idle-conns: hold many idle connections, then serve one request on each. */
export interface IdleCase extends CaseCommon {
  kind: 'idle'
  path: string
  expectBodyBytes: number
}

export type CaseSpec = RateCase | IdleCase

export interface Scenario {
  name: string
  description: string
  /** Upstream services the scenario needs; the run starts the upstream with the union. */
  services: ReadonlyArray<{ name: string; protocol: Protocol }>
  cases: readonly CaseSpec[]
}
