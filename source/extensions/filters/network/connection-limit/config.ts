import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import type { ConnectionLimit } from '../../../../common/protobuf/generated/envoy/extensions/filters/network/connection_limit/v3.js'
import { durationToMs } from '../../../../common/protobuf/duration.js'
import { sharedInt32 } from '../../../../common/shared/shared-counters.js'
import { NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../envoy/network/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { ConnectionLimitConfig, ConnectionLimitFilter, connectionLimitStats } from './connection-limit.js'

/**
 * The shared-memory key of one filter config's connection count. Envoy keeps one count per
 * filter config (per filter chain), so the key is the config's path, which main and every
 * worker derive the same way from the same bootstrap.
 */
export function connectionLimitKey(path: string): string {
  return `connection_limit/${path}`
}

function invalid(path: string, field: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.${field}: ${message}`])
}

export const connectionLimitFilterFactory: NamedNetworkFilterConfigFactory = {
  name: 'envoy.filters.network.connection_limit',
  configType: 'envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit',
  isTerminalFilter: false,
  createFilterFactory(config, ctx, path) {
    const c = config as ConnectionLimit
    if (typeof c.stat_prefix !== 'string' || c.stat_prefix === '') throw invalid(path, 'stat_prefix', 'value must not be empty')
    if (c.max_connections === undefined) throw invalid(path, 'max_connections', 'value is required')
    // UInt64Value: a number, or a string in proto3 JSON.
    const max = Number(c.max_connections)
    if (!Number.isSafeInteger(max) || max < 1) throw invalid(path, 'max_connections', 'value must be greater than or equal to 1')
    const delayMs = durationToMs(c.delay, 0)
    if (!(delayMs >= 0)) throw invalid(path, 'delay', 'value must not be negative')
    const flag = c.runtime_enabled
    if (flag !== undefined && (typeof flag.runtime_key !== 'string' || flag.runtime_key === '')) {
      throw invalid(path, 'runtime_enabled.runtime_key', 'value must not be empty')
    }
    const shared = new ConnectionLimitConfig({
      counts: sharedInt32(connectionLimitKey(path), 1),
      stats: connectionLimitStats(ctx.scope, c.stat_prefix),
      maxConnections: max,
      delayMs,
      runtime: ctx.runtime,
      ...(flag !== undefined ? { runtimeEnabled: { runtimeKey: flag.runtime_key, defaultValue: flag.default_value ?? true } } : {}),
    })
    return (fm) => fm.addReadFilter(new ConnectionLimitFilter(shared))
  },
}

export function setup(r: Registry): void {
  r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS).register(connectionLimitFilterFactory)
}
