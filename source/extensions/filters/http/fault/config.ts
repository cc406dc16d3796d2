import { compileHeaderMatcher } from '../../../../common/access-log/access-log-filter.js'
import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import { durationToMs } from '../../../../common/protobuf/duration.js'
import type { HTTPFault } from '../../../../common/protobuf/generated/envoy/extensions/filters/http/fault/v3.js'
import type { FractionalPercent } from '../../../../common/protobuf/generated/envoy/type/v3.js'
import { sharedInt32 } from '../../../../common/shared/shared-counters.js'
import { HTTP_FILTERS, type HttpFilterFactoryContext, type NamedHttpFilterConfigFactory } from '../../../../envoy/http/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import {
  DEFAULT_RUNTIME_KEYS, FAULT_FILTER_NAME, FaultFilter, type FaultFilterConfig, type FaultSettings, type Fraction,
  faultStats, makeFaultSettings,
} from './fault.js'
import { type FaultTimers, systemTimers } from './stream-rate-limiter.js'

/** The shared-memory key of one filter config's active-fault count (process-wide, like Envoy's gauge). */
export function faultActiveKey(path: string): string {
  return `fault/${path}`
}

function invalid(path: string, field: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.${field}: ${message}`])
}

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }

/** An unset percentage is 0% (the proto default): only the runtime can turn such a fault on. */
function fraction(p: FractionalPercent | undefined, path: string, field: string): Fraction {
  const denominator = DENOMINATORS[p?.denominator ?? 'HUNDRED']
  if (denominator === undefined) throw invalid(path, `${field}.denominator`, 'unknown denominator')
  const numerator = Number(p?.numerator ?? 0)
  if (!Number.isInteger(numerator) || numerator < 0) throw invalid(path, `${field}.numerator`, 'value must be a non-negative integer')
  return { numerator, denominator }
}

/** Compiles an `HTTPFault` (filter level or per route); throws ConfigError naming `path`. */
export function createFaultSettings(c: HTTPFault, path: string): FaultSettings {
  let delay: FaultSettings['delay']
  if (c.delay !== undefined) {
    const percentage = fraction(c.delay.percentage, path, 'delay.percentage')
    if (c.delay.fixed_delay !== undefined) {
      const ms = durationToMs(c.delay.fixed_delay)
      if (ms === undefined || !(ms > 0)) throw invalid(path, 'delay.fixed_delay', 'value must be greater than 0s')
      delay = { fixedMs: ms, percentage }
    } else if (c.delay.header_delay !== undefined) {
      delay = { fixedMs: undefined, percentage }
    } else {
      throw invalid(path, 'delay', 'one of fixed_delay or header_delay is required')
    }
  }

  let abort: FaultSettings['abort']
  if (c.abort !== undefined) {
    const percentage = fraction(c.abort.percentage, path, 'abort.percentage')
    const a = c.abort
    if (a.http_status !== undefined) {
      if (!Number.isInteger(a.http_status) || a.http_status < 200 || a.http_status >= 600) {
        throw invalid(path, 'abort.http_status', 'value must be inside range [200, 600)')
      }
      abort = { httpStatus: a.http_status, grpcStatus: undefined, header: false, percentage }
    } else if (a.grpc_status !== undefined) {
      if (!Number.isInteger(a.grpc_status) || a.grpc_status < 0) throw invalid(path, 'abort.grpc_status', 'value must be a non-negative integer')
      abort = { httpStatus: undefined, grpcStatus: a.grpc_status, header: false, percentage }
    } else if (a.header_abort !== undefined) {
      abort = { httpStatus: undefined, grpcStatus: undefined, header: true, percentage }
    } else {
      throw invalid(path, 'abort', 'one of http_status, grpc_status or header_abort is required')
    }
  }

  let responseRateLimit: FaultSettings['responseRateLimit']
  const rl = c.response_rate_limit
  if (rl !== undefined) {
    const percentage = fraction(rl.percentage, path, 'response_rate_limit.percentage')
    if (rl.fixed_limit !== undefined) {
      const kbps = Number(rl.fixed_limit.limit_kbps)
      if (!Number.isSafeInteger(kbps) || kbps < 1) throw invalid(path, 'response_rate_limit.fixed_limit.limit_kbps', 'value must be greater than or equal to 1')
      responseRateLimit = { fixedKbps: kbps, percentage }
    } else if (rl.header_limit !== undefined) {
      responseRateLimit = { fixedKbps: undefined, percentage }
    } else {
      throw invalid(path, 'response_rate_limit', 'one of fixed_limit or header_limit is required')
    }
  }

  const matchers = (c.headers ?? []).map((m, i) => {
    try {
      return compileHeaderMatcher(m)
    } catch (err) {
      throw invalid(path, `headers[${i}]`, (err as Error).message)
    }
  })
  const key = (v: string | undefined, d: string): string => (v === undefined || v === '' ? d : v)
  return makeFaultSettings({
    delay,
    abort,
    responseRateLimit,
    upstreamCluster: c.upstream_cluster ?? '',
    matchers,
    downstreamNodes: new Set(c.downstream_nodes ?? []),
    maxActiveFaults: c.max_active_faults,
    runtimeKeys: {
      delayPercent: key(c.delay_percent_runtime, DEFAULT_RUNTIME_KEYS.delayPercent),
      abortPercent: key(c.abort_percent_runtime, DEFAULT_RUNTIME_KEYS.abortPercent),
      delayDuration: key(c.delay_duration_runtime, DEFAULT_RUNTIME_KEYS.delayDuration),
      abortHttpStatus: key(c.abort_http_status_runtime, DEFAULT_RUNTIME_KEYS.abortHttpStatus),
      abortGrpcStatus: key(c.abort_grpc_status_runtime, DEFAULT_RUNTIME_KEYS.abortGrpcStatus),
      maxActiveFaults: key(c.max_active_faults_runtime, DEFAULT_RUNTIME_KEYS.maxActiveFaults),
      responseRateLimitPercent: key(c.response_rate_limit_percent_runtime, DEFAULT_RUNTIME_KEYS.responseRateLimitPercent),
    },
    disableDownstreamClusterStats: c.disable_downstream_cluster_stats ?? false,
    filterMetadata: c.filter_metadata,
  })
}

/** Uniform random integer in [0, 2^32). */
const randomUint32 = (): number => Math.floor(Math.random() * 0x1_0000_0000)

/** Validates the config and builds the per-thread state; `timers` and `random` are for tests. */
export function createFaultFilterConfig(
  c: HTTPFault, ctx: HttpFilterFactoryContext, path: string, opts: { timers?: FaultTimers; random?: () => number } = {},
): FaultFilterConfig {
  const settings = createFaultSettings(c, path)
  const statsScope = ctx.httpScope.createScope('fault')
  return {
    settings,
    stats: faultStats(statsScope),
    statsScope,
    activeFaults: sharedInt32(faultActiveKey(path), 1),
    runtime: ctx.runtime,
    random: opts.random ?? randomUint32,
    timers: opts.timers ?? systemTimers,
  }
}

export const faultFilterFactory: NamedHttpFilterConfigFactory = {
  name: FAULT_FILTER_NAME,
  configType: 'envoy.extensions.filters.http.fault.v3.HTTPFault',
  isTerminalFilter: false,
  perRouteConfigType: 'envoy.extensions.filters.http.fault.v3.HTTPFault',
  createFilterFactory(config, ctx, path) {
    const shared = createFaultFilterConfig(config as HTTPFault, ctx, path)
    return (cb) => cb.addStreamFilter(new FaultFilter(shared))
  },
  createRouteSpecificFilterConfig(config, ctx, path) {
    void ctx
    return createFaultSettings(config as HTTPFault, path)
  },
}

export function setup(r: Registry): void {
  r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS).register(faultFilterFactory)
}
