import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import {
  FilterStatus, type FilterStatusValue, type ReadFilter, type ReadFilterCallbacks,
} from '../../../../envoy/network/filter.js'
import type { RuntimeSnapshot } from '../../../../envoy/runtime/runtime.js'
import type { Counter, Scope } from '../../../../envoy/stats/stats.js'
import { ResponseFlag } from '../../../../envoy/stream-info/stream-info.js'
import type { SharedTokenBucket } from './shared-token-bucket.js'

/** Envoy's connection termination details for a rate-limited connection. */
export const LOCAL_RATELIMIT_CLOSE_OVER_LIMIT = 'local_ratelimit_close_over_limit'

/** `local_rate_limit.<stat_prefix>.*` (Envoy's LocalRateLimitStats). */
export interface LocalRateLimitStats {
  rate_limited: Counter
}

export function localRateLimitStats(scope: Scope, statPrefix: string): LocalRateLimitStats {
  return { rate_limited: scope.createScope(`local_rate_limit.${statPrefix}`).counter('rate_limited') }
}

/** One filter config's state, shared by every connection of this thread. */
export class LocalRateLimitConfig {
  readonly stats: LocalRateLimitStats
  private readonly bucket: SharedTokenBucket
  private readonly runtime: () => RuntimeSnapshot
  private readonly runtimeKey: string | undefined
  private readonly defaultEnabled: boolean

  constructor(opts: {
    bucket: SharedTokenBucket
    stats: LocalRateLimitStats
    runtime: () => RuntimeSnapshot
    runtimeEnabled?: { runtimeKey: string; defaultValue: boolean }
  }) {
    this.bucket = opts.bucket
    this.stats = opts.stats
    this.runtime = opts.runtime
    this.runtimeKey = opts.runtimeEnabled?.runtimeKey
    this.defaultEnabled = opts.runtimeEnabled?.defaultValue ?? true
  }

  /** Envoy's Runtime::FeatureFlag: on unless the runtime key (or its default) says false. */
  enabled(): boolean {
    if (this.runtimeKey === undefined) return this.defaultEnabled
    return this.runtime().getBoolean(this.runtimeKey, this.defaultEnabled)
  }

  canCreateConnection(): boolean {
    return this.bucket.consume()
  }
}

/**
 * Envoy's network local_ratelimit filter: each new connection takes a token from the
 * process-wide bucket; without one the connection is closed at once (NoFlush).
 */
export class LocalRateLimitFilter implements ReadFilter {
  private readonly config: LocalRateLimitConfig
  private callbacks: ReadFilterCallbacks | undefined

  constructor(config: LocalRateLimitConfig) {
    this.config = config
  }

  // Network.ReadFilter
  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.callbacks = callbacks
  }

  onNewConnection(): FilterStatusValue {
    if (!this.config.enabled()) return FilterStatus.Continue
    if (this.config.canCreateConnection()) return FilterStatus.Continue
    this.config.stats.rate_limited.inc()
    const connection = this.callbacks!.connection()
    // Envoy marks these URX (UpstreamRetryLimitExceeded); kept for access-log parity.
    connection.streamInfo.setResponseFlag(ResponseFlag.UpstreamRetryLimitExceeded)
    connection.close('NoFlush', LOCAL_RATELIMIT_CLOSE_OVER_LIMIT)
    return FilterStatus.StopIteration
  }

  onData(data: BufferInstance, endStream: boolean): FilterStatusValue {
    void data
    void endStream
    return FilterStatus.Continue
  }
}
