import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import type { LocalRateLimit } from '../../../../common/protobuf/generated/envoy/extensions/filters/network/local_ratelimit/v3.js'
import { durationToMs } from '../../../../common/protobuf/duration.js'
import { sharedInt32 } from '../../../../common/shared/shared-counters.js'
import { NETWORK_FILTERS, type FactoryContext, type NamedNetworkFilterConfigFactory } from '../../../../envoy/network/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { LocalRateLimitConfig, LocalRateLimitFilter, localRateLimitStats } from './local-ratelimit.js'
import { SHARED_TOKEN_BUCKET_SLOTS, SharedTokenBucket, type Clock } from './shared-token-bucket.js'

/** Envoy rejects faster fill timers. */
export const MIN_FILL_INTERVAL_MS = 50

/** The shared-memory key of one filter config's bucket (one bucket per config, process-wide). */
export function localRateLimitKey(path: string): string {
  return `local_ratelimit/${path}`
}

function invalid(path: string, field: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.${field}: ${message}`])
}

/** Validates the config and builds the per-thread state; `now` is for tests. */
export function createLocalRateLimitConfig(
  c: LocalRateLimit, ctx: FactoryContext, path: string, now?: Clock,
): LocalRateLimitConfig {
  if (typeof c.stat_prefix !== 'string' || c.stat_prefix === '') throw invalid(path, 'stat_prefix', 'value must not be empty')
  if (c.share_key !== undefined && c.share_key !== '') throw invalid(path, 'share_key', 'not supported')
  const tb = c.token_bucket
  if (tb === undefined) throw invalid(path, 'token_bucket', 'value is required')
  const maxTokens = Number(tb.max_tokens)
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 0xffff_ffff) {
    throw invalid(path, 'token_bucket.max_tokens', 'value must be greater than 0')
  }
  const tokensPerFill = tb.tokens_per_fill === undefined ? 1 : Number(tb.tokens_per_fill)
  if (!Number.isInteger(tokensPerFill) || tokensPerFill < 1) {
    throw invalid(path, 'token_bucket.tokens_per_fill', 'value must be greater than 0')
  }
  const fillIntervalMs = durationToMs(tb.fill_interval)
  if (fillIntervalMs === undefined) throw invalid(path, 'token_bucket.fill_interval', 'value is required')
  if (fillIntervalMs < MIN_FILL_INTERVAL_MS) {
    throw invalid(path, 'token_bucket.fill_interval', `local rate limit token bucket fill timer must be >= ${MIN_FILL_INTERVAL_MS}ms`)
  }
  const flag = c.runtime_enabled
  if (flag !== undefined && (typeof flag.runtime_key !== 'string' || flag.runtime_key === '')) {
    throw invalid(path, 'runtime_enabled.runtime_key', 'value must not be empty')
  }
  const bucket = new SharedTokenBucket({
    memory: sharedInt32(localRateLimitKey(path), SHARED_TOKEN_BUCKET_SLOTS),
    maxTokens,
    tokensPerFill,
    fillIntervalMs,
    ...(now !== undefined ? { now } : {}),
  })
  return new LocalRateLimitConfig({
    bucket,
    stats: localRateLimitStats(ctx.scope, c.stat_prefix),
    runtime: ctx.runtime,
    ...(flag !== undefined ? { runtimeEnabled: { runtimeKey: flag.runtime_key, defaultValue: flag.default_value ?? true } } : {}),
  })
}

export const localRateLimitFilterFactory: NamedNetworkFilterConfigFactory = {
  name: 'envoy.filters.network.local_ratelimit',
  configType: 'envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit',
  isTerminalFilter: false,
  createFilterFactory(config, ctx, path) {
    const shared = createLocalRateLimitConfig(config as LocalRateLimit, ctx, path)
    return (fm) => fm.addReadFilter(new LocalRateLimitFilter(shared))
  },
}

export function setup(r: Registry): void {
  r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS).register(localRateLimitFilterFactory)
}
