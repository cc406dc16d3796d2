import type { TcpLoadTask } from '../load/types.js'

/** Settings a case turns into load tasks (from the command line). */
export interface LoadSettings {
  requestSize: number
  responseSize: number
  chunkSize: number
  /** Fixed mode: exact requests per connection (cases with `fixedCount`). */
  requestsPerConnection?: number
}

/**
 * One measured quantity of a scenario, one table in the report (tcp-stream has two: upload and
 * download). Each case drives one upstream service through every target.
 */
export interface CaseSpec {
  /** Short id, unique within the scenario (`rr`, `upload`). */
  name: string
  title: string
  /** The upstream service (see upstream/tcp-upstream.ts) this case talks to, through the target. */
  service: string
  /** `rq/s`: ops are requests; `MB/s`: ops are bytes (10^6 bytes per MB). */
  unit: 'rq/s' | 'MB/s'
  /** Whether per-request latency is recorded. */
  latency: boolean
  /** Whether `--requests` (a fixed count per connection) applies. */
  fixedCount: boolean
  /**
   * How long connections run before the window opens: streams need socket buffers full before
   * their rate means anything.
   */
  prerollMs: number
  task(s: LoadSettings): Pick<TcpLoadTask, 'kind' | 'requestSize' | 'responseSize' | 'chunkSize'> & { requestsPerConnection?: number }
}

export interface Scenario {
  name: string
  description: string
  /** Upstream services the scenario needs; the run starts the upstream with the union. */
  services: ReadonlyArray<{ name: string; protocol: 'tcp' }>
  cases: readonly CaseSpec[]
}
