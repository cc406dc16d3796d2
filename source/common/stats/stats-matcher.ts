import { ConfigError } from '../errors/envoy-ts-error.js'
import { ErrorCode } from '../errors/codes.js'
import { compileListStringMatcher, type StringMatch } from '../matcher/string-matcher.js'
import type { ListStringMatcher } from '../protobuf/generated/envoy/type/matcher/v3.js'
import type { StatsConfig } from '../protobuf/generated/envoy/config/metrics/v3.js'
import type { StatNameFilter } from './thread-local-store.js'

/** Compiles a list, naming the field when a regex in it is refused (program size). */
function compileList(m: ListStringMatcher, field: string): StringMatch {
  try {
    return compileListStringMatcher(m)
  } catch (err) {
    throw new ConfigError(ErrorCode.CONFIG_INVALID, [`stats_config.stats_matcher.${field}: ${(err as Error).message}`])
  }
}

/** `stats_config.stats_matcher`: which stat names are kept. Everything when unset. */
export function statsMatcherFilter(config: StatsConfig | undefined): StatNameFilter {
  const m = config?.stats_matcher
  if (m === undefined) return () => true
  if (m.reject_all !== undefined) return m.reject_all ? () => false : () => true
  if (m.exclusion_list !== undefined) {
    const excluded = compileList(m.exclusion_list, 'exclusion_list')
    return (name) => !excluded(name)
  }
  if (m.inclusion_list !== undefined) return compileList(m.inclusion_list, 'inclusion_list')
  return () => true
}
