import type { DownstreamConnectionsConfig } from '../../../common/protobuf/generated/envoy/extensions/resource_monitors/downstream_connections/v3.js'
import { ErrorCode } from '../../../common/errors/codes.js'
import { ConfigError } from '../../../common/errors/envoy-ts-error.js'
import type { Registry } from '../../../envoy/registry/registry.js'
import {
  ProactiveResources, RESOURCE_MONITORS, type ResourceMonitor, type ResourceMonitorContext, type ResourceMonitorFactory,
} from '../../../envoy/server/overload.js'

/** Int32 slots hold the count; a larger configured limit behaves as this one. */
const MAX_LIMIT = 0x7fffffff

/**
 * Envoy's global downstream connections monitor: one count of open downstream connections in
 * memory shared by every worker, raised with a compare-and-swap at accept so that the limit is
 * exact across workers, lowered when the connection closes. Pressure = count / limit.
 */
export class DownstreamConnectionsMonitor implements ResourceMonitor {
  readonly proactiveResource = ProactiveResources.DownstreamConnections
  private readonly count: Int32Array
  private readonly max: number

  constructor(count: Int32Array, max: number) {
    this.count = count
    this.max = max
  }

  // Server.ResourceMonitor
  pressure(): number {
    return Atomics.load(this.count, 0) / this.max
  }

  tryAllocate(n: number): boolean {
    for (;;) {
      const cur = Atomics.load(this.count, 0)
      if (cur + n > this.max) return false
      if (Atomics.compareExchange(this.count, 0, cur, cur + n) === cur) return true
    }
  }

  deallocate(n: number): void {
    Atomics.sub(this.count, 0, n)
  }
}

export const downstreamConnectionsFactory: ResourceMonitorFactory<DownstreamConnectionsConfig> = {
  name: 'envoy.resource_monitors.global_downstream_max_connections',
  configType: 'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
  createResourceMonitor(config: DownstreamConnectionsConfig, ctx: ResourceMonitorContext): ResourceMonitor {
    const max = Number(config.max_active_downstream_connections)
    if (!Number.isFinite(max) || max <= 0) {
      throw new ConfigError(ErrorCode.CONFIG_INVALID, ['max_active_downstream_connections: must be greater than 0'])
    }
    return new DownstreamConnectionsMonitor(ctx.sharedInt32('resource_monitors/global_downstream_max_connections', 1), Math.min(max, MAX_LIMIT))
  },
}

export function setup(r: Registry): void {
  r.category<ResourceMonitorFactory>(RESOURCE_MONITORS).register(downstreamConnectionsFactory as ResourceMonitorFactory)
}
