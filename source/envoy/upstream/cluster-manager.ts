import type { RequestEncoder, ResponseDecoder } from '../http/codec.js'
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

/** Outcome of opening one connection to a chosen host. */
export interface ConnectCallbacks {
  onConnected(connection: ClientConnection): void
  onFailed(reason: PoolFailureReason, details: string): void
}

export interface HttpPoolCallbacks {
  /** A request stream on an upstream connection; the caller encodes the request on it. */
  onPoolReady(encoder: RequestEncoder, host: Host, upstreamLocalAddress: string | undefined): void
  onPoolFailure(reason: PoolFailureReason, details: string, host: Host): void
}

/** How a stream wants its connection. */
export interface NewStreamOptions {
  /**
   * Skip idle keep-alive connections: the stream waits for a connection that has carried no
   * request yet (the router's one retry after a reused connection was closed under a request).
   * When `max_connections` allows no new connection, an idle one is used after all.
   */
  readonly freshConnection?: boolean
}

/**
 * One host's HTTP/1 connections on one worker (Envoy's Http::ConnectionPool::Instance): reuses
 * keep-alive connections, queues requests while connecting, and holds the cluster's
 * `max_pending_requests`, `max_requests` and `max_connections` across all workers. An idle
 * connection the upstream closes (FIN or RST) leaves the pool at once.
 */
export interface HttpConnPool {
  /** `decoder` receives the response. Exactly one callback fires unless cancelled. */
  newStream(decoder: ResponseDecoder, callbacks: HttpPoolCallbacks, options?: NewStreamOptions): Cancellable
  /** Closes idle connections now and busy ones once their response ends. */
  drainConnections(): void
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
  /** The HTTP/1 pool for `host` (one of this cluster's hosts) on this worker. */
  httpConnPool(host: Host): HttpConnPool
}

/** The worker's view of every cluster (Envoy's ClusterManager on a worker thread). */
export interface ClusterManager {
  getThreadLocalCluster(name: string): ThreadLocalCluster | undefined
  /** Names of all clusters currently known. */
  clusterNames(): string[]
  chooseHost?(cluster: string, context: LoadBalancerContext | undefined): Host | undefined
}
