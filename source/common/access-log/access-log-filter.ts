import { performance } from 'node:perf_hooks'
import type { AccessLogFilter, ComparisonFilter, RuntimeFilter } from '../protobuf/generated/envoy/config/accesslog/v3.js'
import type { HeaderMatcher } from '../protobuf/generated/envoy/config/route/v3.js'
import type { FractionalPercent } from '../protobuf/generated/envoy/type/v3.js'
import type { RuntimeSnapshot } from '../../envoy/runtime/runtime.js'
import type { AccessLogType, HeaderMapView, StreamInfo } from '../../envoy/stream-info/stream-info.js'
import { RESPONSE_FLAG_NAMES } from '../../envoy/stream-info/stream-info.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { compileRegex, compileStringMatcher } from '../matcher/string-matcher.js'

/**
 * Access log filters (Envoy's AccessLog::Filter): compiled once from `AccessLogFilter`,
 * evaluated per entry before the entry is formatted.
 */
export type CompiledAccessLogFilter = (info: StreamInfo, type: AccessLogType) => boolean

export interface AccessLogFilterOptions {
  /** Current runtime snapshot, for `runtime_key` overrides; defaults apply without one. */
  runtime?: () => RuntimeSnapshot | undefined
  /** Uniform random in [0, 1); Math.random by default (tests pass their own). */
  random?: () => number
}

const DENOMINATORS: Record<FractionalPercent['denominator'], number> = { HUNDRED: 100, TEN_THOUSAND: 10000, MILLION: 1000000 }

const FLAG_BITS = new Map<string, number>(RESPONSE_FLAG_NAMES.map(([bit, short]) => [short, bit]))

function invalid(path: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}: ${message}`])
}

function compileComparison(c: ComparisonFilter | undefined, path: string, opts: AccessLogFilterOptions): (actual: number) => boolean {
  if (c === undefined) throw invalid(path, 'comparison is required')
  const fallback = c.value?.default_value ?? 0
  const key = c.value?.runtime_key ?? ''
  const value = (): number => (key === '' ? fallback : opts.runtime?.()?.getInteger(key, fallback) ?? fallback)
  switch (c.op) {
    case 'EQ': return (actual) => actual === value()
    case 'GE': return (actual) => actual >= value()
    case 'LE': return (actual) => actual <= value()
  }
}

/** Envoy's UUID request-id modulo: the first 8 hex digits of x-request-id. */
function requestIdValue(headers: HeaderMapView | undefined): number | undefined {
  const id = headers?.get('x-request-id')
  if (id === undefined || id.length < 8) return undefined
  const v = Number.parseInt(id.slice(0, 8), 16)
  return Number.isNaN(v) ? undefined : v
}

function compileRuntime(f: RuntimeFilter, opts: AccessLogFilterOptions): CompiledAccessLogFilter {
  // Unset percent_sampled is 0% (Envoy's default), so only a runtime value turns it on.
  const numerator = f.percent_sampled?.numerator ?? 0
  const denominator = DENOMINATORS[f.percent_sampled?.denominator ?? 'HUNDRED']
  const random = opts.random ?? Math.random
  return (info) => {
    const n = opts.runtime?.()?.getInteger(f.runtime_key, numerator) ?? numerator
    // Sampling on the request id keeps every logger's decision for one request the same.
    const byId = f.use_independent_randomness ? undefined : requestIdValue(info.requestHeaders)
    const draw = byId ?? Math.floor(random() * 0x100000000)
    return draw % denominator < n
  }
}

/** A compiled `config.route.v3.HeaderMatcher` (Envoy's HeaderUtility::matchHeaders). */
export function compileHeaderMatcher(m: HeaderMatcher): (headers: HeaderMapView | undefined) => boolean {
  const name = m.name.toLowerCase()
  let present = true
  let test: ((v: string) => boolean) | undefined
  if (m.exact_match !== undefined) {
    const want = m.exact_match
    test = (v) => v === want
  } else if (m.safe_regex_match !== undefined) {
    const re = compileRegex(m.safe_regex_match)
    test = (v) => re.match(v)
  } else if (m.range_match !== undefined) {
    const { start, end } = m.range_match
    test = (v) => /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end
  } else if (m.present_match !== undefined) {
    present = m.present_match
  } else if (m.prefix_match !== undefined) {
    const want = m.prefix_match
    test = (v) => v.startsWith(want)
  } else if (m.suffix_match !== undefined) {
    const want = m.suffix_match
    test = (v) => v.endsWith(want)
  } else if (m.contains_match !== undefined) {
    const want = m.contains_match
    test = (v) => v.includes(want)
  } else if (m.string_match !== undefined) {
    test = compileStringMatcher(m.string_match)
  }
  const isPresentMatch = test === undefined
  return (headers) => {
    let v = headers?.get(name)
    if (v === undefined) {
      if (!m.treat_missing_header_as_empty) {
        // A missing header only satisfies "must be absent" (or an inverted "must be present").
        return isPresentMatch && (m.invert_match ? present : !present)
      }
      v = ''
    }
    const matched = test === undefined ? present : test(v)
    return matched !== m.invert_match
  }
}

/**
 * Compiles one `AccessLogFilter`. Throws ConfigError(CONFIG_INVALID) naming `path` for a filter
 * envoy-ts does not implement (the schema already rejects grpc_status, extension and metadata
 * filters) or one with no filter set.
 */
export function compileAccessLogFilter(f: AccessLogFilter, path: string, opts: AccessLogFilterOptions = {}): CompiledAccessLogFilter {
  if (f.status_code_filter !== undefined) {
    const cmp = compileComparison(f.status_code_filter.comparison, `${path}.status_code_filter.comparison`, opts)
    return (info) => cmp(info.responseCode ?? 0)
  }
  if (f.duration_filter !== undefined) {
    const cmp = compileComparison(f.duration_filter.comparison, `${path}.duration_filter.comparison`, opts)
    return (info) => cmp(Math.trunc((info.endTimeMonotonic ?? performance.now()) - info.startTimeMonotonic))
  }
  if (f.not_health_check_filter !== undefined) return (info) => !info.healthCheck
  // envoy-ts has no tracing, so no request is traceable.
  if (f.traceable_filter !== undefined) return () => false
  if (f.runtime_filter !== undefined) return compileRuntime(f.runtime_filter, opts)
  if (f.and_filter !== undefined) {
    const all = f.and_filter.filters.map((x, i) => compileAccessLogFilter(x, `${path}.and_filter.filters[${i}]`, opts))
    return (info, type) => all.every((g) => g(info, type))
  }
  if (f.or_filter !== undefined) {
    const any = f.or_filter.filters.map((x, i) => compileAccessLogFilter(x, `${path}.or_filter.filters[${i}]`, opts))
    return (info, type) => any.some((g) => g(info, type))
  }
  if (f.header_filter !== undefined) {
    if (f.header_filter.header === undefined) throw invalid(`${path}.header_filter`, 'header is required')
    let match: ReturnType<typeof compileHeaderMatcher>
    try {
      match = compileHeaderMatcher(f.header_filter.header)
    } catch (err) {
      throw invalid(`${path}.header_filter.header`, (err as Error).message)
    }
    return (info) => match(info.requestHeaders)
  }
  if (f.response_flag_filter !== undefined) {
    const flags = f.response_flag_filter.flags
    if (flags.length === 0) return (info) => info.responseFlags !== 0
    // Flags Envoy knows but envoy-ts never sets contribute no bit.
    let mask = 0
    for (const name of flags) mask |= FLAG_BITS.get(name) ?? 0
    return (info) => (info.responseFlags & mask) !== 0
  }
  if (f.log_type_filter !== undefined) {
    const types = new Set<string>(f.log_type_filter.types)
    const exclude = f.log_type_filter.exclude
    return (_info, type) => types.has(type) !== exclude
  }
  for (const name of ['grpc_status_filter', 'extension_filter', 'metadata_filter'] as const) {
    if (f[name] !== undefined) throw invalid(`${path}.${name}`, `${name} is not implemented in envoy-ts`)
  }
  throw invalid(path, 'an access log filter must set exactly one filter type')
}
