/**
 * RANDOM (Envoy's RandomLoadBalancer): a uniformly random host of the chosen source. Host
 * weights are not used, as in Envoy.
 */
import type { Host } from '../../../envoy/upstream/host.js'
import { HostSourceLoadBalancerBase } from './priority-load.js'
import type { HostSource } from './priority-load.js'

export class RandomLoadBalancer extends HostSourceLoadBalancerBase {
  protected override pickHost(source: HostSource): Host | undefined {
    return source.hosts[Math.floor(this.random() * source.hosts.length)]
  }
}
