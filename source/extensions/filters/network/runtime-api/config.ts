import type { RuntimeApi } from '../../../../common/protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import { createRuntimeApiContext, type RuntimeApiContext } from '../../../../common/runtime-api/handlers/context.js'
import { RuntimeGrpcServer } from '../../../../common/runtime-api/grpc/runtime-grpc-server.js'
import { type FactoryContext, NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../envoy/network/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import type { Counter, Gauge } from '../../../../envoy/stats/stats.js'
import { RuntimeApiFilter } from './runtime-api.js'

/**
 * A runtime_api config as one thread uses it: its components (built, on main, by the
 * RuntimeHost, which rejects unknown types and bad metadata with the field path), the handler
 * context, and, on workers, the gRPC server, made at the first connection.
 */
export class RuntimeApiFilterConfig {
  readonly context: RuntimeApiContext
  readonly stats: { cxTotal: Counter; cxActive: Gauge }
  private readonly apis: RuntimeApi['apis']
  private readonly drainDecision: FactoryContext['drainDecision']
  private readonly drainTimeMs: number
  private grpc: RuntimeGrpcServer | undefined

  constructor(config: RuntimeApi, ctx: FactoryContext, path: string) {
    const components = ctx.runtimeHost.components(config, path)
    this.context = createRuntimeApiContext({
      config,
      components,
      host: ctx.runtimeHost,
      invoker: ctx.serviceInvoker,
      log: ctx.log.child({ component: 'runtime_api' }),
    })
    this.apis = config.apis
    this.drainDecision = ctx.drainDecision
    this.drainTimeMs = ctx.serverOptions.drainTimeS * 1000
    const scope = ctx.scope.createScope(`runtime_api.${config.stat_prefix}`)
    this.stats = { cxTotal: scope.counter('downstream_cx_total'), cxActive: scope.gauge('downstream_cx_active') }
  }

  server(): RuntimeGrpcServer {
    if (this.grpc === undefined) {
      const grpc = new RuntimeGrpcServer(this.context, this.apis)
      this.grpc = grpc
      // A drain (shutdown, /drain_listeners) sends GOAWAY: sessions end once their calls do;
      // streams still open when the drain time is over are cancelled.
      this.drainDecision.onDrain(() => grpc.drain(this.drainTimeMs))
    }
    return this.grpc
  }
}

/** envoy-ts's runtime API filter: Layotto's and Dapr's gRPC APIs on a listener's connections. */
export const runtimeApiFilterFactory: NamedNetworkFilterConfigFactory = {
  name: 'envoy_ts.filters.network.runtime_api',
  configType: 'envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi',
  isTerminalFilter: true,
  createFilterFactory(config, ctx, path) {
    const shared = new RuntimeApiFilterConfig(config as RuntimeApi, ctx, path)
    return (fm) => fm.addReadFilter(new RuntimeApiFilter(shared))
  },
}

export function setup(r: Registry): void {
  r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS).register(runtimeApiFilterFactory)
}
