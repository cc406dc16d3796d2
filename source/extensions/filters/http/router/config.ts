import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import { connectionManagerStats } from '../../../../common/http/conn-manager-stats.js'
import type { Router } from '../../../../common/protobuf/generated/envoy/extensions/filters/http/router/v3.js'
import { type RouterConfig, RouterFilter } from '../../../../common/router/router-filter.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../envoy/http/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'

export const routerFactory: NamedHttpFilterConfigFactory = {
  name: 'envoy.filters.http.router',
  configType: 'envoy.extensions.filters.http.router.v3.Router',
  isTerminalFilter: true,
  createFilterFactory(config, ctx, path) {
    const c = config as Router
    const errors: string[] = []
    if (c.upstream_http_filters.length > 0) errors.push(`${path}.upstream_http_filters: upstream HTTP filters are not supported yet`)
    if (c.upstream_log.length > 0) errors.push(`${path}.upstream_log: upstream access logs are not supported yet`)
    if (c.strict_check_headers.length > 0) errors.push(`${path}.strict_check_headers: not supported yet`)
    if (errors.length > 0) throw new ConfigError(ErrorCode.CONFIG_INVALID, errors)
    const routerConfig: RouterConfig = {
      clusterManager: ctx.clusterManager,
      stats: connectionManagerStats(ctx.httpScope),
      suppressEnvoyHeaders: c.suppress_envoy_headers,
      respectExpectedRqTimeout: c.respect_expected_rq_timeout,
    }
    return (cb) => cb.addStreamDecoderFilter(new RouterFilter(routerConfig))
  },
}

export function setup(r: Registry): void {
  r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS).register(routerFactory)
}
