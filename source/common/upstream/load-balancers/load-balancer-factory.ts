/**
 * Builds the load balancer for a cluster's `lb_policy`. Called for every host-set snapshot (a
 * balancer precomputes its schedules, rings and tables from one snapshot), so call
 * `checkLoadBalancerConfig` once at config time to surface config errors on the main thread.
 */
import type { LoadBalancer, LoadBalancerFactoryParams } from '../../../envoy/upstream/load-balancer.js'
import type { Cluster } from '../../protobuf/generated/envoy/config/cluster/v3.js'
import { ErrorCode } from '../../errors/codes.js'
import { EnvoyTsError } from '../../errors/envoy-ts-error.js'
import { LeastRequestLoadBalancer } from './least-request.js'
import { MaglevLoadBalancer, maglevTableSize } from './maglev.js'
import { RandomLoadBalancer } from './random.js'
import { RingHashLoadBalancer, ringHashSettings } from './ring-hash.js'
import { RoundRobinLoadBalancer } from './round-robin.js'

function unsupported(config: Cluster, what: string): EnvoyTsError {
  return new EnvoyTsError(ErrorCode.CONFIG_INVALID, `cluster '${config.name}': ${what} is not supported`)
}

/** Throws (ETS_ERR_CONFIG_INVALID) when the cluster's load-balancing config cannot be served. */
export function checkLoadBalancerConfig(config: Cluster): void {
  switch (config.lb_policy) {
    case 'ROUND_ROBIN':
    case 'LEAST_REQUEST':
    case 'RANDOM':
      return
    case 'RING_HASH':
      ringHashSettings(config)
      return
    case 'MAGLEV':
      maglevTableSize(config)
      return
    case 'CLUSTER_PROVIDED':
      throw unsupported(config, 'lb_policy CLUSTER_PROVIDED (a cluster-provided load balancer)')
    case 'LOAD_BALANCING_POLICY_CONFIG':
      throw unsupported(config, 'lb_policy LOAD_BALANCING_POLICY_CONFIG (load_balancing_policy extensions)')
    default:
      throw unsupported(config, `lb_policy '${String(config.lb_policy)}'`)
  }
}

export function createLoadBalancer(params: LoadBalancerFactoryParams): LoadBalancer {
  const config = params.config
  switch (config.lb_policy) {
    case 'ROUND_ROBIN':
      return new RoundRobinLoadBalancer(params)
    case 'LEAST_REQUEST':
      return new LeastRequestLoadBalancer(params)
    case 'RANDOM':
      return new RandomLoadBalancer(params)
    case 'RING_HASH':
      return new RingHashLoadBalancer(params)
    case 'MAGLEV':
      return new MaglevLoadBalancer(params)
    default:
      checkLoadBalancerConfig(config)
      throw unsupported(config, `lb_policy '${String(config.lb_policy)}'`)
  }
}
