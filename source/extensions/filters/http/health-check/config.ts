import { compileHeaderMatcher } from '../../../../common/access-log/access-log-filter.js'
import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import { durationToMs } from '../../../../common/protobuf/duration.js'
import type { HealthCheck } from '../../../../common/protobuf/generated/envoy/extensions/filters/http/health_check/v3.js'
import { sharedInt32 } from '../../../../common/shared/shared-counters.js'
import {
  HTTP_FILTERS, type HttpFilterFactoryContext, type NamedHttpFilterConfigFactory,
} from '../../../../envoy/http/filter.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import {
  HEALTH_CHECK_CACHE_SLOTS, HealthCheckCacheManager, HealthCheckFilter, type HealthCheckFilterConfig,
} from './health-check.js'

/** The shared-memory key of one filter config's cached answer (process-wide, like Envoy's). */
export function healthCheckCacheKey(path: string): string {
  return `health_check/${path}`
}

function invalid(path: string, field: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.${field}: ${message}`])
}

/** Validates the config and builds the per-thread state; `now` is for tests. */
export function createHealthCheckConfig(
  c: HealthCheck, ctx: HttpFilterFactoryContext, path: string, now?: () => number,
): HealthCheckFilterConfig {
  if (typeof c.pass_through_mode !== 'boolean') throw invalid(path, 'pass_through_mode', 'value is required')
  const cacheTimeMs = durationToMs(c.cache_time, 0)
  if (!(cacheTimeMs >= 0)) throw invalid(path, 'cache_time', 'value must not be negative')
  // Envoy's own wording (sic) for a cache that could never be filled.
  if (!c.pass_through_mode && cacheTimeMs > 0) throw invalid(path, 'cache_time', 'cache_time_ms must not be set when path_through_mode is disabled')
  const matchers = (c.headers ?? []).map((m, i) => {
    try {
      const match = compileHeaderMatcher(m)
      return (h: HeaderMap): boolean => match(h)
    } catch (err) {
      throw invalid(path, `headers[${i}]`, (err as Error).message)
    }
  })
  const percentages = Object.entries(c.cluster_min_healthy_percentages ?? {})
    .map(([name, p]) => {
      const v = Number(p?.value ?? 0)
      if (!(v >= 0 && v <= 100)) throw invalid(path, `cluster_min_healthy_percentages["${name}"].value`, 'value must be inside range [0, 100]')
      // Envoy compares against the whole-number part.
      return [name, Math.floor(v)] as const
    })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const cache = c.pass_through_mode && cacheTimeMs > 0
    ? new HealthCheckCacheManager(sharedInt32(healthCheckCacheKey(path), HEALTH_CHECK_CACHE_SLOTS), cacheTimeMs, now)
    : undefined
  return {
    passThroughMode: c.pass_through_mode,
    matchers,
    cache,
    clusterMinHealthyPercentages: percentages,
    healthCheckFailed: ctx.healthCheckFailed,
    clusterManager: ctx.clusterManager,
  }
}

export const healthCheckFilterFactory: NamedHttpFilterConfigFactory = {
  name: 'envoy.filters.http.health_check',
  configType: 'envoy.extensions.filters.http.health_check.v3.HealthCheck',
  isTerminalFilter: false,
  createFilterFactory(config, ctx, path) {
    const shared = createHealthCheckConfig(config as HealthCheck, ctx, path)
    return (cb) => cb.addStreamFilter(new HealthCheckFilter(shared))
  },
}

export function setup(r: Registry): void {
  r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS).register(healthCheckFilterFactory)
}
