import { compileListStringMatcher } from '../matcher/string-matcher.js'
import type { StatsConfig } from '../protobuf/generated/envoy/config/metrics/v3.js'
import type { StatNameFilter } from './thread-local-store.js'

/** `stats_config.stats_matcher`: which stat names are kept. Everything when unset. */
export function statsMatcherFilter(config: StatsConfig | undefined): StatNameFilter {
  const m = config?.stats_matcher
  if (m === undefined) return () => true
  if (m.reject_all !== undefined) return m.reject_all ? () => false : () => true
  if (m.exclusion_list !== undefined) {
    const excluded = compileListStringMatcher(m.exclusion_list)
    return (name) => !excluded(name)
  }
  if (m.inclusion_list !== undefined) return compileListStringMatcher(m.inclusion_list)
  return () => true
}
