import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import type { DaprApi } from '../../../../common/protobuf/generated/envoy_ts/extensions/filters/http/dapr_api/v1.js'
import { createRuntimeApiContext } from '../../../../common/runtime-api/handlers/context.js'
import { HTTP_FILTERS, type HttpFilterFactoryContext, type NamedHttpFilterConfigFactory } from '../../../../envoy/http/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import type { Counter } from '../../../../envoy/stats/stats.js'
import { HttpAppChannel } from './app-channel.js'
import { DaprApiFilter, type DaprApiFilterShared, type DaprApiStats } from './dapr-api.js'
import { API_NAMES, type ApiName } from './api-types.js'
import { DaprHttpApi } from './dapr-http-api.js'
import { effectiveApiToken } from '../../../../common/runtime-api/api-token.js'

export const DAPR_API_FILTER_NAME = 'envoy_ts.filters.http.dapr_api'

/**
 * Builds one filter config's per-thread state: the runtime's components (through the
 * RuntimeHost, which rejects unknown types and bad metadata with the field path, and shares
 * components with every other runtime config of the same name and settings), the handler
 * context, the stats (`dapr_api.<runtime.stat_prefix>.`) and the app channel.
 */
export function createDaprApiShared(config: DaprApi, ctx: HttpFilterFactoryContext, path: string): DaprApiFilterShared {
  const runtime = config.runtime
  if (runtime === undefined) throw new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.runtime: value is required`])
  const log = ctx.log.child({ component: 'dapr_api' })
  const components = ctx.runtimeHost.components(runtime, `${path}.runtime`)
  const context = createRuntimeApiContext({ config: runtime, components, host: ctx.runtimeHost, invoker: ctx.serviceInvoker, log })
  const scope = ctx.scope.createScope(`dapr_api.${runtime.stat_prefix}`)
  const perApi = {} as Record<ApiName, Counter>
  for (const name of API_NAMES) perApi[name] = scope.counter(`${name}.rq_total`)
  const stats: DaprApiStats = {
    rqTotal: scope.counter('rq_total'),
    rq2xx: scope.counter('rq_2xx'),
    rq4xx: scope.counter('rq_4xx'),
    rq5xx: scope.counter('rq_5xx'),
    unauthorized: scope.counter('rq_unauthorized'),
    perApi,
  }
  const app = runtime.app
  // Configuration updates of HTTP subscriptions go to an HTTP app's callback server (workers only).
  const appChannel = ctx.workerIndex >= 0 && app !== undefined && app.app_port > 0 && app.app_protocol !== 'GRPC'
    ? new HttpAppChannel(app.app_host !== '' ? app.app_host : '127.0.0.1', app.app_port)
    : undefined
  const api = new DaprHttpApi({
    ctx: context,
    appChannel,
    log,
    stats: { configurationDelivered: scope.counter('configuration.updates_delivered'), configurationFailed: scope.counter('configuration.updates_failed') },
  })
  const token = effectiveApiToken(runtime.api_token)
  return { api, token: token === '' ? undefined : Buffer.from(token), stats }
}

/** envoy-ts's Dapr HTTP API filter: Dapr's `/v1.0/...` API on an HTTP connection manager. */
export const daprApiFilterFactory: NamedHttpFilterConfigFactory = {
  name: DAPR_API_FILTER_NAME,
  configType: 'envoy_ts.extensions.filters.http.dapr_api.v1.DaprApi',
  isTerminalFilter: false,
  createFilterFactory(config, ctx, path) {
    const shared = createDaprApiShared(config as DaprApi, ctx, path)
    return (cb) => cb.addStreamDecoderFilter(new DaprApiFilter(shared))
  },
}

export function setup(r: Registry): void {
  r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS).register(daprApiFilterFactory)
}
