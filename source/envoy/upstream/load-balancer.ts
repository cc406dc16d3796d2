import type { Connection } from '../network/connection.js'
import type { Host, PrioritySet } from './host.js'

/** What the caller knows about the request being balanced (Envoy's LoadBalancerContext). */
export interface LoadBalancerContext {
  /** A 64-bit hash for RING_HASH/MAGLEV as an unsigned bigint, or undefined to pick at random. */
  computeHashKey?(): bigint | undefined
  readonly downstreamConnection?: Connection
  /** Retry host predicates: a host to avoid on this attempt. */
  shouldSelectAnotherHost?(host: Host): boolean
  /** How many times to retry selection when `shouldSelectAnotherHost` says so. */
  readonly hostSelectionRetryCount?: number
}

/** Picks a host for one request or connection. Per worker; not shared. */
export interface LoadBalancer {
  chooseHost(context: LoadBalancerContext | undefined): Host | undefined
}

export interface LoadBalancerFactoryParams {
  prioritySet: PrioritySet
  /** The cluster's validated config (`lb_policy`, `*_lb_config`, `common_lb_config`). */
  config: import('../../common/protobuf/generated/envoy/config/cluster/v3.js').Cluster
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number
  /** Called for each pick made from a priority level in panic (counts `lb_healthy_panic`). */
  onPanic?: () => void
}
