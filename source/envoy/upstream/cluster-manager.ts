import type { ClientConnection } from '../network/client-connection.js'
import type { ClusterInfo } from './cluster-info.js'
import type { Host, PrioritySet } from './host.js'
import type { LoadBalancer, LoadBalancerContext } from './load-balancer.js'

/** Why a TCP pool could not hand out a connection. */
export type PoolFailureReason = 'Overflow' | 'LocalConnectionFailure' | 'RemoteConnectionFailure' | 'Timeout' | 'NoHealthyUpstream'

export interface TcpPoolCallbacks {
  /** The upstream connection is open; the caller owns it from now on. */
  onPoolReady(connection: ClientConnection, host: Host): void
  onPoolFailure(reason: PoolFailureReason, details: string, host: Host | undefined): void
}

/** An in-flight connect that can be abandoned. */
export interface Cancellable {
  cancel(): void
}

/**
 * A cluster as one worker uses it (Envoy's ThreadLocalCluster): its hosts, a load balancer
 * over them, and TCP connections to them.
 */
export interface ThreadLocalCluster {
  readonly info: ClusterInfo
  readonly prioritySet: PrioritySet
  readonly loadBalancer: LoadBalancer
  /**
   * Picks a host and connects to it, counting cluster and host stats and honouring
   * `max_connections` and `connect_timeout`. Exactly one callback fires, unless cancelled.
   */
  tcpConnect(context: LoadBalancerContext | undefined, callbacks: TcpPoolCallbacks): Cancellable
}

/** The worker's view of every cluster (Envoy's ClusterManager on a worker thread). */
export interface ClusterManager {
  getThreadLocalCluster(name: string): ThreadLocalCluster | undefined
  /** Names of all clusters currently known. */
  clusterNames(): string[]
  chooseHost?(cluster: string, context: LoadBalancerContext | undefined): Host | undefined
}
