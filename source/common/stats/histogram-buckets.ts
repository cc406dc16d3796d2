import { compileStringMatcher } from '../matcher/string-matcher.js'
import type { StatsConfig } from '../protobuf/generated/envoy/config/metrics/v3.js'
import { DEFAULT_BUCKETS } from './histogram-impl.js'

/** `stats_config.histogram_bucket_settings`: the first matching setting's buckets win. */
export function bucketsResolver(config: StatsConfig | undefined): (name: string) => readonly number[] {
  const settings = (config?.histogram_bucket_settings ?? []).map((s) => ({
    match: s.match === undefined ? () => true : compileStringMatcher(s.match),
    buckets: [...s.buckets].sort((a, b) => a - b),
  }))
  return (name) => settings.find((s) => s.match(name))?.buckets ?? DEFAULT_BUCKETS
}
