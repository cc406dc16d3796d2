import { NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../envoy/network/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { EchoFilter } from './echo.js'

/** Echo's config (`envoy.extensions.filters.network.echo.v3.Echo`) has no fields. */
export const echoFilterFactory: NamedNetworkFilterConfigFactory = {
  name: 'envoy.filters.network.echo',
  configType: 'envoy.extensions.filters.network.echo.v3.Echo',
  isTerminalFilter: true,
  createFilterFactory() {
    return (fm) => fm.addReadFilter(new EchoFilter())
  },
}

export function setup(r: Registry): void {
  r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS).register(echoFilterFactory)
}
