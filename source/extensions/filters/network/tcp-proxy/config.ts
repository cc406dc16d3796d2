import type { TcpProxy } from '../../../../common/protobuf/generated/envoy/extensions/filters/network/tcp_proxy/v3.js'
import { NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../envoy/network/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { TcpProxyFilter } from './tcp-proxy.js'
import { TcpProxyConfig } from './tcp-proxy-config.js'

export const tcpProxyFactory: NamedNetworkFilterConfigFactory = {
  name: 'envoy.filters.network.tcp_proxy',
  configType: 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  isTerminalFilter: true,
  createFilterFactory(config, ctx, path) {
    const shared = new TcpProxyConfig(config as TcpProxy, ctx, path)
    const log = ctx.log.child({ component: 'filter' })
    return (fm) => fm.addReadFilter(new TcpProxyFilter(shared, ctx.clusterManager, log))
  },
}

export function setup(r: Registry): void {
  r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS).register(tcpProxyFactory)
}
