import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import type { ConnectionCallbacks, ConnectionEvent } from '../../../../envoy/network/connection.js'
import {
  FilterStatus, type FilterStatusValue, type ReadFilter, type ReadFilterCallbacks,
} from '../../../../envoy/network/filter.js'
import type { RuntimeSnapshot } from '../../../../envoy/runtime/runtime.js'
import type { Counter, Gauge, Scope } from '../../../../envoy/stats/stats.js'
import { startTimer } from '../../../../common/event/timer-impl.js'

/** What Envoy puts in the connection's termination details when it rejects. */
export const OVER_CONNECTION_LIMIT = 'over_connection_limit'

/** `connection_limit.<stat_prefix>.*` (Envoy's ConnectionLimitStats). */
export interface ConnectionLimitStats {
  limited_connections: Counter
  active_connections: Gauge
}

export function connectionLimitStats(scope: Scope, statPrefix: string): ConnectionLimitStats {
  const s = scope.createScope(`connection_limit.${statPrefix}`)
  return {
    limited_connections: s.counter('limited_connections'),
    active_connections: s.gauge('active_connections', 'Accumulate'),
  }
}

/** Runs `cb` after `ms`; returns a cancel function. Injected by tests. */
export type TimerFactory = (ms: number, cb: () => void) => () => void

export const nodeTimer: TimerFactory = (ms, cb) => {
  const t = startTimer(ms, cb)
  return () => t.disableTimer()
}

/** Index of the connection count in the shared Int32Array. */
const CONNECTIONS = 0

/**
 * One filter config's state, built once per thread from the same proto (Envoy's Config). The
 * connection count lives in shared memory so the limit holds across all workers.
 */
export class ConnectionLimitConfig {
  readonly stats: ConnectionLimitStats
  readonly maxConnections: number
  /** Milliseconds before a rejected connection is closed; 0 closes at once. */
  readonly delayMs: number
  readonly timer: TimerFactory
  private readonly counts: Int32Array
  private readonly runtime: () => RuntimeSnapshot
  private readonly runtimeKey: string | undefined
  private readonly defaultEnabled: boolean

  constructor(opts: {
    counts: Int32Array
    stats: ConnectionLimitStats
    maxConnections: number
    delayMs: number
    runtime: () => RuntimeSnapshot
    runtimeEnabled?: { runtimeKey: string; defaultValue: boolean }
    timer?: TimerFactory
  }) {
    this.counts = opts.counts
    this.stats = opts.stats
    this.maxConnections = opts.maxConnections
    this.delayMs = opts.delayMs
    this.runtime = opts.runtime
    this.runtimeKey = opts.runtimeEnabled?.runtimeKey
    this.defaultEnabled = opts.runtimeEnabled?.defaultValue ?? true
    this.timer = opts.timer ?? nodeTimer
  }

  /** Envoy's Runtime::FeatureFlag: on unless the runtime key (or its default) says false. */
  enabled(): boolean {
    if (this.runtimeKey === undefined) return this.defaultEnabled
    return this.runtime().getBoolean(this.runtimeKey, this.defaultEnabled)
  }

  /** Takes a slot if one is free, across all threads (compare-and-swap loop). */
  incrementConnectionWithinLimit(): boolean {
    let current = Atomics.load(this.counts, CONNECTIONS)
    while (current < this.maxConnections) {
      const seen = Atomics.compareExchange(this.counts, CONNECTIONS, current, current + 1)
      if (seen === current) return true
      current = seen
    }
    return false
  }

  /** Counts a rejected connection too, while it waits out the delay (as Envoy does). */
  incrementConnection(): void {
    Atomics.add(this.counts, CONNECTIONS, 1)
  }

  decrementConnection(): void {
    Atomics.sub(this.counts, CONNECTIONS, 1)
  }

  /** Connections counted across all threads (tests, admin). */
  connections(): number {
    return Atomics.load(this.counts, CONNECTIONS)
  }
}

/**
 * Envoy's connection_limit filter: counts the connections of its filter chain and closes the
 * ones over `max_connections`, at once or after `delay` (slow rejection: reading stops and
 * nothing reaches the filters after this one meanwhile).
 */
export class ConnectionLimitFilter implements ReadFilter, ConnectionCallbacks {
  private readonly config: ConnectionLimitConfig
  private callbacks: ReadFilterCallbacks | undefined
  private counted = false
  private rejected = false
  private cancelDelay: (() => void) | undefined

  constructor(config: ConnectionLimitConfig) {
    this.config = config
  }

  // Network.ReadFilter
  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.callbacks = callbacks
  }

  onNewConnection(): FilterStatusValue {
    if (!this.config.enabled()) return FilterStatus.Continue
    const connection = this.callbacks!.connection()
    // Registered only once counted, so a close only gives back what this filter took.
    connection.addConnectionCallbacks(this)
    this.counted = true
    this.config.stats.active_connections.inc()
    if (this.config.incrementConnectionWithinLimit()) return FilterStatus.Continue

    this.config.stats.limited_connections.inc()
    this.rejected = true
    this.config.incrementConnection()
    if (this.config.delayMs > 0) {
      // Stop reading so a rejected peer cannot make us buffer while it waits.
      connection.readDisable(true)
      this.cancelDelay = this.config.timer(this.config.delayMs, () => {
        this.cancelDelay = undefined
        connection.close('NoFlush', OVER_CONNECTION_LIMIT)
      })
    } else {
      connection.close('NoFlush', OVER_CONNECTION_LIMIT)
    }
    return FilterStatus.StopIteration
  }

  onData(data: BufferInstance, endStream: boolean): FilterStatusValue {
    void data
    void endStream
    return this.rejected ? FilterStatus.StopIteration : FilterStatus.Continue
  }

  // Network.ConnectionCallbacks
  onEvent(event: ConnectionEvent): void {
    if (event !== 'RemoteClose' && event !== 'LocalClose') return
    if (this.cancelDelay !== undefined) {
      this.cancelDelay()
      this.cancelDelay = undefined
    }
    if (!this.counted) return
    this.counted = false
    this.config.decrementConnection()
    this.config.stats.active_connections.dec()
  }

  onAboveWriteBufferHighWatermark(): void {}

  onBelowWriteBufferLowWatermark(): void {}
}
