/**
 * LOGICAL_DNS clusters (Envoy's LogicalDnsCluster): one endpoint, one logical host whose address
 * is the first address the name resolves to, refreshed on a timer. Suited to large web services
 * whose DNS rotates through many addresses: connections follow the latest answer.
 */
import type { HostSnapshot } from '../../../envoy/upstream/cluster-snapshot.js'
import type { ClusterDiscovery, DiscoveryContext } from '../../../common/upstream/cluster-manager-impl.js'
import { endpointHostSnapshot } from '../../../common/upstream/host-impl.js'
import type { Cluster } from '../../../common/protobuf/generated/envoy/config/cluster/v3.js'
import { checkDnsCluster, DnsResolveTarget, logResolveFailure, type ResolveOutcome } from '../strict-dns/cluster.js'

export function checkLogicalDnsCluster(config: Cluster, path: string): string[] {
  const groups = config.load_assignment?.endpoints ?? []
  if (groups.length !== 1 || groups[0]!.lb_endpoints.length !== 1) {
    return [`${path}.load_assignment: LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint`]
  }
  return checkDnsCluster(config, path)
}

export class LogicalDnsCluster implements ClusterDiscovery {
  private readonly ctx: DiscoveryContext
  private readonly resolver: DnsResolveTarget

  /** The config has been checked: exactly one endpoint with a socket address. */
  constructor(ctx: DiscoveryContext) {
    this.ctx = ctx
    const sa = ctx.config.load_assignment!.endpoints[0]!.lb_endpoints[0]!.endpoint!.address!.socket_address!
    this.resolver = new DnsResolveTarget(ctx, sa.address, (r) => this.onResolved(r, sa.port_value ?? 0))
  }

  initialize(): Promise<void> {
    return this.resolver.start()
  }

  shutdown(): void {
    this.resolver.stop()
  }

  private onResolved(r: ResolveOutcome, port: number): void {
    const stats = this.ctx.stats
    // An empty answer must not take the cluster down to zero hosts: keep the last address.
    const first = r.ok ? r.addresses[0] : undefined
    if (first === undefined) {
      stats.update_failure.inc()
      logResolveFailure(this.ctx.log, this.ctx.config.name, this.resolver.hostname, r.ok ? 'no addresses' : r.error)
      return
    }
    stats.update_success.inc()
    const group = this.ctx.config.load_assignment!.endpoints[0]!
    const host: HostSnapshot = endpointHostSnapshot(group, group.lb_endpoints[0]!, { ip: first.address, port, family: first.family }, this.resolver.hostname)
    this.ctx.setHosts([host])
  }
}
