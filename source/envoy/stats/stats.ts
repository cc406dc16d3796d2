/**
 * Statistics: counters, gauges and histograms named the way Envoy names them
 * (`cluster.<name>.upstream_rq_total`). Tags for Prometheus are extracted from the full name at
 * output time (Envoy's tag extractors), so producers only ever deal in names.
 *
 * Every thread (main, guard dog, each worker) owns one shard of the shared stat memory. A
 * thread writes only its own shard; readers on main sum the shards, so counters and gauges are
 * exact at read time without messages. Histograms are per thread and merged on main.
 */

/** A monotonically increasing count. Writing is a plain store into this thread's shard. */
export interface Counter {
  readonly name: string
  inc(): void
  add(amount: number): void
  /** Sum over all threads. Cheap on main; avoid on the data path. */
  value(): number
  /** True once any thread has written it (admin's `usedonly`). */
  used(): boolean
}

/**
 * How a gauge combines across threads. `Accumulate`: each thread holds its contribution and the
 * value is the sum (active connections, bytes buffered). `NeverImport` is Envoy's name for a
 * gauge that is owned by one thread; it reads the same way, only one shard is ever non-zero.
 */
export type GaugeImportMode = 'Accumulate' | 'NeverImport'

export interface Gauge {
  readonly name: string
  readonly importMode: GaugeImportMode
  inc(): void
  dec(): void
  add(amount: number): void
  sub(amount: number): void
  /** Sets this thread's contribution. Only meaningful for gauges owned by one thread. */
  set(value: number): void
  value(): number
  used(): boolean
}

/** Envoy's histogram units; they pick the Prometheus bucket bounds and display. */
export type HistogramUnit = 'Unspecified' | 'Bytes' | 'Microseconds' | 'Milliseconds' | 'Percent'

export interface Histogram {
  readonly name: string
  readonly unit: HistogramUnit
  /** Records one sample into this thread's interval histogram. */
  recordValue(value: number): void
  used(): boolean
}

/** A naming context: everything created through it is prefixed with `prefix`. */
export interface Scope {
  /** The prefix with its trailing dot, or '' for the root scope. */
  readonly prefix: string
  counter(name: string): Counter
  gauge(name: string, importMode?: GaugeImportMode): Gauge
  histogram(name: string, unit: HistogramUnit): Histogram
  /** A child scope; `name` is appended to this scope's prefix with a dot. */
  createScope(name: string): Scope
}

/** The thread's stat store: the root scope plus lookup of what exists. */
export interface Store extends Scope {
  /** Which shard this thread writes: 0 main, 1 guard dog, 2.. workers. */
  readonly shard: number
}
