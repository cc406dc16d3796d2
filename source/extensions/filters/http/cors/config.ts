import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import { compileStringMatcher } from '../../../../common/matcher/string-matcher.js'
import type { RuntimeFractionalPercent } from '../../../../common/protobuf/generated/envoy/config/core/v3.js'
import type { Cors, CorsPolicy } from '../../../../common/protobuf/generated/envoy/extensions/filters/http/cors/v3.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../envoy/http/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import {
  CORS_FILTER_NAME, CorsFilter, type CorsFilterConfig, type CorsPolicyConfig, type RuntimeFraction, corsStats, makeCorsPolicy,
} from './cors.js'

function invalid(path: string, field: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.${field}: ${message}`])
}

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }

function runtimeFraction(f: RuntimeFractionalPercent | undefined, path: string, field: string): RuntimeFraction | undefined {
  if (f === undefined) return undefined
  const denominator = DENOMINATORS[f.default_value?.denominator ?? 'HUNDRED']
  if (denominator === undefined) throw invalid(path, `${field}.default_value.denominator`, 'unknown denominator')
  const numerator = Number(f.default_value?.numerator ?? 0)
  if (!Number.isInteger(numerator) || numerator < 0) throw invalid(path, `${field}.default_value.numerator`, 'value must be a non-negative integer')
  return { runtimeKey: f.runtime_key ?? '', numerator, denominator }
}

/** Compiles a per-route `CorsPolicy`; throws ConfigError naming `path`. */
export function createCorsPolicy(c: CorsPolicy, path: string): CorsPolicyConfig {
  const allowOrigins = (c.allow_origin_string_match ?? []).map((m, i) => {
    try {
      return compileStringMatcher(m)
    } catch (err) {
      throw invalid(path, `allow_origin_string_match[${i}]`, (err as Error).message)
    }
  })
  return makeCorsPolicy({
    allowOrigins,
    allowMethods: c.allow_methods ?? '',
    allowHeaders: c.allow_headers ?? '',
    exposeHeaders: c.expose_headers ?? '',
    maxAge: c.max_age ?? '',
    allowCredentials: c.allow_credentials,
    allowPrivateNetworkAccess: c.allow_private_network_access,
    forwardNotMatchingPreflights: c.forward_not_matching_preflights,
    filterEnabled: runtimeFraction(c.filter_enabled, path, 'filter_enabled'),
    shadowEnabled: runtimeFraction(c.shadow_enabled, path, 'shadow_enabled'),
  })
}

/** Uniform random integer in [0, 2^32). */
export const randomUint32 = (): number => Math.floor(Math.random() * 0x1_0000_0000)

export const corsFilterFactory: NamedHttpFilterConfigFactory = {
  name: CORS_FILTER_NAME,
  configType: 'envoy.extensions.filters.http.cors.v3.Cors',
  isTerminalFilter: false,
  perRouteConfigType: 'envoy.extensions.filters.http.cors.v3.CorsPolicy',
  createFilterFactory(config, ctx) {
    // The filter-level `Cors` message has no fields: policies live on routes and virtual hosts.
    void (config as Cors)
    const shared: CorsFilterConfig = { stats: corsStats(ctx.httpScope), runtime: ctx.runtime, random: randomUint32 }
    return (cb) => cb.addStreamFilter(new CorsFilter(shared))
  },
  createRouteSpecificFilterConfig(config, ctx, path) {
    void ctx
    return createCorsPolicy(config as CorsPolicy, path)
  },
}

export function setup(r: Registry): void {
  r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS).register(corsFilterFactory)
}
