/**
 * STATIC clusters (Envoy's StaticClusterImpl): the hosts are the IP (or pipe) addresses listed
 * in `load_assignment`, fixed for the life of the cluster.
 */
import net from 'node:net'
import type { HostSnapshot } from '../../../envoy/upstream/cluster-snapshot.js'
import type { ClusterDiscovery, DiscoveryContext } from '../../../common/upstream/cluster-manager-impl.js'
import { endpointHostSnapshot } from '../../../common/upstream/host-impl.js'
import type { Cluster } from '../../../common/protobuf/generated/envoy/config/cluster/v3.js'

/** Every problem with a STATIC cluster's endpoints, each prefixed by its path under `path`. */
export function checkStaticCluster(config: Cluster, path: string): string[] {
  const errors: string[] = []
  config.load_assignment?.endpoints.forEach((group, g) => {
    group.lb_endpoints.forEach((lb, e) => {
      const p = `${path}.load_assignment.endpoints[${g}].lb_endpoints[${e}].endpoint.address`
      const a = lb.endpoint?.address
      if (a === undefined) {
        errors.push(`${p}: value is required`)
      } else if (a.socket_address !== undefined) {
        const sa = a.socket_address
        if (sa.resolver_name !== '') {
          errors.push(`${p}.socket_address.resolver_name: custom resolvers are not supported ("${sa.resolver_name}")`)
        } else if (net.isIP(sa.address) === 0) {
          errors.push(`${p}.socket_address.address: malformed IP address: ${sa.address}. Consider setting resolver_name or setting cluster type to 'STRICT_DNS' or 'LOGICAL_DNS'`)
        }
        if (sa.named_port !== undefined) errors.push(`${p}.socket_address.named_port: named ports are not supported; use port_value`)
      } else if (a.envoy_internal_address !== undefined) {
        errors.push(`${p}.envoy_internal_address: internal upstream addresses are not supported yet`)
      } else if (a.pipe === undefined) {
        errors.push(`${p}: one of socket_address or pipe is required`)
      }
    })
  })
  return errors
}

/** The fixed host list of a STATIC cluster (config already checked). */
export function staticHosts(config: Cluster): HostSnapshot[] {
  const hosts: HostSnapshot[] = []
  for (const group of config.load_assignment?.endpoints ?? []) {
    for (const lb of group.lb_endpoints) {
      const a = lb.endpoint?.address
      const hostname = lb.endpoint?.hostname ?? ''
      if (a?.socket_address !== undefined) {
        const ip = a.socket_address.address
        const family = net.isIP(ip) === 6 ? 6 : 4
        hosts.push(endpointHostSnapshot(group, lb, { ip, port: a.socket_address.port_value ?? 0, family }, hostname))
      } else if (a?.pipe !== undefined) {
        hosts.push(endpointHostSnapshot(group, lb, { ip: a.pipe.path, port: 0, family: 0 }, hostname))
      }
    }
  }
  return hosts
}

export class StaticCluster implements ClusterDiscovery {
  private readonly ctx: DiscoveryContext

  constructor(ctx: DiscoveryContext) {
    this.ctx = ctx
  }

  initialize(): Promise<void> {
    const hosts = staticHosts(this.ctx.config)
    if (hosts.length > 0) this.ctx.setHosts(hosts)
    return Promise.resolve()
  }

  shutdown(): void {}
}
