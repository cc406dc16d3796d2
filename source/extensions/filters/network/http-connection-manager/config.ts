import { ConnectionManagerConfig } from '../../../../common/http/conn-manager-config.js'
import { ConnectionManagerImpl } from '../../../../common/http/conn-manager-impl.js'
import { http1CodecStats } from '../../../../common/http/http1/codec-stats.js'
import type { HttpConnectionManager } from '../../../../common/protobuf/generated/envoy/extensions/filters/network/http_connection_manager/v3.js'
import { NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../envoy/network/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'

export const httpConnectionManagerFactory: NamedNetworkFilterConfigFactory = {
  name: 'envoy.filters.network.http_connection_manager',
  configType: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  isTerminalFilter: true,
  createFilterFactory(config, ctx, path) {
    const shared = new ConnectionManagerConfig(config as HttpConnectionManager, ctx, path)
    const codecStats = http1CodecStats(ctx.scope)
    const envoyBugs = ctx.scope.counter('server.envoy_bug_failures')
    const log = ctx.log.child({ component: 'http' })
    return (fm) => {
      const hcm = new ConnectionManagerImpl(shared, ctx.drainDecision, codecStats, envoyBugs, log)
      fm.addReadFilter(hcm)
      fm.addWriteFilter(hcm)
    }
  },
}

export function setup(r: Registry): void {
  r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS).register(httpConnectionManagerFactory)
}
