import { ConfigError } from '../errors/envoy-ts-error.js'
import { ErrorCode } from '../errors/codes.js'
import { compileStringMatcher, type StringMatch } from '../matcher/string-matcher.js'
import type { StringMatcher } from '../protobuf/generated/envoy/type/matcher/v3.js'
import type { StatsConfig } from '../protobuf/generated/envoy/config/metrics/v3.js'
import { DEFAULT_BUCKETS } from './histogram-impl.js'

function compileMatch(m: StringMatcher, i: number): StringMatch {
  try {
    return compileStringMatcher(m)
  } catch (err) {
    throw new ConfigError(ErrorCode.CONFIG_INVALID, [`stats_config.histogram_bucket_settings[${i}].match: ${(err as Error).message}`])
  }
}

/** `stats_config.histogram_bucket_settings`: the first matching setting's buckets win. */
export function bucketsResolver(config: StatsConfig | undefined): (name: string) => readonly number[] {
  const settings = (config?.histogram_bucket_settings ?? []).map((s, i) => ({
    match: s.match === undefined ? () => true : compileMatch(s.match, i),
    buckets: [...s.buckets].sort((a, b) => a - b),
  }))
  return (name) => settings.find((s) => s.match(name))?.buckets ?? DEFAULT_BUCKETS
}
