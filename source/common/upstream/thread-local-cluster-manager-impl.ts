/**
 * A worker's view of the clusters (Envoy's ThreadLocalClusterManagerImpl): swaps in main's
 * snapshots, keeps Host objects stable by address, rebuilds each cluster's priority set and
 * load balancer, and opens TCP connections (and HTTP/1 pools) to the chosen hosts with cluster
 * and host stats.
 */
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { ConnectionEvent } from '../../envoy/network/connection.js'
import type { Scope } from '../../envoy/stats/stats.js'
import type {
  Cancellable, ClusterManager, ConnectCallbacks, TcpPoolCallbacks, ThreadLocalCluster,
} from '../../envoy/upstream/cluster-manager.js'
import type { ClusterSnapshot } from '../../envoy/upstream/cluster-snapshot.js'
import type { Host } from '../../envoy/upstream/host.js'
import type { LoadBalancer, LoadBalancerContext } from '../../envoy/upstream/load-balancer.js'
import { OutlierResult } from '../../envoy/upstream/outlier-detection.js'
import { Http1ConnPoolImpl } from '../http/http1/conn-pool-impl.js'
import { ClientConnectionImpl } from '../network/client-connection-impl.js'
import type { StatMemory } from '../stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../stats/thread-local-store.js'
import { ClusterInfoImpl } from './cluster-info-impl.js'
import { HostImpl, hostAttributesKey, PrioritySetImpl, snapshotAddressString } from './host-impl.js'
import { HostMonitor, HostMonitorMemory, NULL_HOST_MONITOR, outlierThresholds } from './host-monitor-memory.js'
import { createLoadBalancer } from './load-balancers/load-balancer-factory.js'

export interface ThreadLocalClusterManagerOptions {
  /** This worker's stat store. */
  scope: Scope
  /** The shared host stat memory; this worker writes `shard`. */
  hostStatMemory: StatMemory
  shard: number
  /** The `upstream` component logger. */
  log: Logger
  /** Randomness for the load balancers; injectable for tests. */
  random?: () => number
}

const NOOP_CANCEL: Cancellable = { cancel() {} }

export class ThreadLocalClusterImpl implements ThreadLocalCluster {
  readonly info: ClusterInfoImpl
  prioritySet: PrioritySetImpl
  loadBalancer: LoadBalancer
  /** The version of the snapshot this state was built from. */
  version: number
  private readonly log: Logger
  private readonly configKey: string
  private readonly resources: SharedArrayBuffer
  private readonly httpPools = new Map<Host, Http1ConnPoolImpl>()

  constructor(info: ClusterInfoImpl, snapshot: ClusterSnapshot, prioritySet: PrioritySetImpl, loadBalancer: LoadBalancer, log: Logger) {
    this.info = info
    this.prioritySet = prioritySet
    this.loadBalancer = loadBalancer
    this.version = snapshot.version
    this.log = log
    this.configKey = JSON.stringify(snapshot.config)
    this.resources = snapshot.resources
  }

  /** True when `snapshot` can reuse this cluster's ClusterInfo (same config and shared counters). */
  sameDefinition(snapshot: ClusterSnapshot): boolean {
    return snapshot.resources === this.resources && JSON.stringify(snapshot.config) === this.configKey
  }

  tcpConnect(context: LoadBalancerContext | undefined, callbacks: TcpPoolCallbacks): Cancellable {
    const stats = this.info.stats
    const host = this.loadBalancer.chooseHost(context)
    if (host === undefined) {
      stats.upstream_cx_none_healthy.inc()
      callbacks.onPoolFailure('NoHealthyUpstream', 'no healthy upstream', undefined)
      return NOOP_CANCEL
    }
    // Envoy's TCP pool: the connect is a pending request until it is attached to a connection.
    stats.upstream_rq_pending_total.inc()
    stats.upstream_rq_pending_active.inc()
    let attached = false
    const pending = this.connectHost(host, {
      onConnected: (conn) => {
        attached = true
        // tcp_proxy reports nothing more about this attempt (Envoy's LocalOriginConnectSuccessFinal).
        host.outlierDetector.putResult(OutlierResult.LocalOriginConnectSuccessFinal)
        stats.upstream_rq_pending_active.dec()
        stats.upstream_rq_total.inc()
        stats.upstream_rq_active.inc()
        host.stats.rq_total.inc()
        host.stats.rq_active.inc()
        conn.addConnectionCallbacks({
          onEvent: (e) => {
            if (e === 'Connected') return
            stats.upstream_rq_active.dec()
            host.stats.rq_active.dec()
          },
          onAboveWriteBufferHighWatermark: () => {},
          onBelowWriteBufferLowWatermark: () => {},
        })
        callbacks.onPoolReady(conn, host)
      },
      onFailed: (reason, details) => {
        stats.upstream_rq_pending_active.dec()
        // As Envoy's tcp_proxy: a connect timeout or a refused/reset connect counts against the host.
        if (reason === 'Timeout') host.outlierDetector.putResult(OutlierResult.LocalOriginTimeout)
        else if (reason === 'RemoteConnectionFailure') host.outlierDetector.putResult(OutlierResult.LocalOriginConnectFailed)
        callbacks.onPoolFailure(reason, details, host)
      },
    })
    let cancelled = false
    return {
      cancel: () => {
        // Idempotent: a second cancel must not count the pending request out twice.
        if (attached || cancelled) return
        cancelled = true
        pending.cancel()
        stats.upstream_rq_pending_active.dec()
      },
    }
  }

  /** The HTTP/1 connection pool of `host` on this worker, made on first use. */
  httpConnPool(host: Host): Http1ConnPoolImpl {
    let pool = this.httpPools.get(host)
    if (pool === undefined) {
      pool = new Http1ConnPoolImpl(host, this.info, (h, cb) => this.connectHost(h, cb), this.log)
      this.httpPools.set(host, pool)
    }
    return pool
  }

  /** Pools of hosts that left the host set drain and go away. */
  dropPoolsNotIn(hosts: ReadonlySet<Host>): void {
    for (const [host, pool] of this.httpPools) {
      if (hosts.has(host)) continue
      pool.drainConnections()
      this.httpPools.delete(host)
    }
  }

  /**
   * Opens a connection to `host`, counting the cluster's and host's connection stats and holding
   * a `max_connections` unit for its life. Exactly one callback fires unless cancelled.
   */
  connectHost(host: Host, cb: ConnectCallbacks): Cancellable {
    const stats = this.info.stats
    const breaker = this.info.resourceManager('default').connections
    if (!breaker.tryAcquire()) {
      stats.upstream_cx_overflow.inc()
      cb.onFailed('Overflow', 'upstream_cx_overflow')
      return NOOP_CANCEL
    }
    const conn = new ClientConnectionImpl({
      remote: host.address,
      connectTimeoutMs: this.info.connectTimeoutMs,
      bufferLimit: this.info.perConnectionBufferLimitBytes,
      log: this.log,
    })
    conn.setConnectionStats({ rxTotal: stats.upstream_cx_rx_bytes_total, txTotal: stats.upstream_cx_tx_bytes_total })
    const started = performance.now()
    let connected = false
    let cancelled = false
    stats.upstream_cx_total.inc()
    stats.upstream_cx_active.inc()
    host.stats.cx_total.inc()
    host.stats.cx_active.inc()
    conn.addConnectionCallbacks({
      onEvent: (event: ConnectionEvent) => {
        if (event === 'Connected') {
          connected = true
          stats.upstream_cx_connect_ms.recordValue(performance.now() - started)
          if (!cancelled) cb.onConnected(conn)
          return
        }
        this.onClosed(conn, host, event, connected, cancelled, started)
        breaker.release()
        if (!connected && !cancelled) {
          const reason = conn.connectFailureReason() ?? 'connection closed'
          cb.onFailed(reason === 'connect timeout' ? 'Timeout' : 'RemoteConnectionFailure', reason)
        }
      },
      onAboveWriteBufferHighWatermark: () => {},
      onBelowWriteBufferLowWatermark: () => {},
    })
    conn.connect()
    return {
      cancel: () => {
        if (connected || cancelled) return
        cancelled = true
        conn.close('NoFlush')
      },
    }
  }

  private onClosed(conn: ClientConnectionImpl, host: Host, event: ConnectionEvent, connected: boolean, cancelled: boolean, started: number): void {
    const stats = this.info.stats
    stats.upstream_cx_active.dec()
    host.stats.cx_active.dec()
    stats.upstream_cx_destroy.inc()
    if (event === 'LocalClose') stats.upstream_cx_destroy_local.inc()
    else stats.upstream_cx_destroy_remote.inc()
    stats.upstream_cx_length_ms.recordValue(performance.now() - started)
    if (connected || cancelled) return
    stats.upstream_cx_connect_fail.inc()
    host.stats.cx_connect_fail.inc()
    if (conn.connectFailureReason() === 'connect timeout') stats.upstream_cx_connect_timeout.inc()
    this.log.debug({ cluster: this.info.name, host: host.addressString, reason: conn.connectFailureReason() }, 'upstream connect failed')
  }
}

export class ThreadLocalClusterManagerImpl implements ClusterManager {
  private readonly options: ThreadLocalClusterManagerOptions
  private readonly hostStore: ThreadLocalStoreImpl
  private readonly log: Logger
  private readonly clusters = new Map<string, ThreadLocalClusterImpl>()

  constructor(options: ThreadLocalClusterManagerOptions) {
    this.options = options
    this.hostStore = new ThreadLocalStoreImpl(options.hostStatMemory, options.shard)
    this.log = options.log
  }

  /** Swaps in newer snapshots; a snapshot not newer than the one held is ignored. Worker thread. */
  update(snapshots: readonly ClusterSnapshot[]): void {
    for (const s of snapshots) {
      const current = this.clusters.get(s.name)
      if (current !== undefined && s.version <= current.version) continue
      try {
        this.apply(s, current)
      } catch (err) {
        // Main checked the config; a failure here is a bug, not a reason to take the worker down.
        this.log.error({ cluster: s.name, err }, 'cannot apply cluster snapshot')
      }
    }
  }

  /** Forgets clusters main removed. Connections already open keep running. */
  remove(names: readonly string[]): void {
    for (const n of names) this.clusters.delete(n)
  }

  getThreadLocalCluster(name: string): ThreadLocalClusterImpl | undefined {
    return this.clusters.get(name)
  }

  clusterNames(): string[] {
    return [...this.clusters.keys()]
  }

  chooseHost(cluster: string, context: LoadBalancerContext | undefined): Host | undefined {
    return this.clusters.get(cluster)?.loadBalancer.chooseHost(context)
  }

  private apply(s: ClusterSnapshot, current: ThreadLocalClusterImpl | undefined): void {
    const reuse = current !== undefined && current.sameDefinition(s) ? current : undefined
    const info = reuse?.info ?? new ClusterInfoImpl(s.config, { store: this.options.scope, resources: s.resources })
    // Same address and attributes → same Host object; only its health flags move.
    const previous = new Map<string, HostImpl[]>()
    for (const h of reuse?.prioritySet.allHosts() ?? []) {
      const list = previous.get(h.addressString) ?? []
      list.push(h)
      previous.set(h.addressString, list)
    }
    const memory = s.hostMonitors !== undefined ? new HostMonitorMemory(s.hostMonitors) : undefined
    const thresholds = outlierThresholds(s.config)
    const activeHealthChecks = s.config.health_checks.length > 0
    const hosts = s.hosts.map((snap) => {
      const list = previous.get(snapshotAddressString(snap))
      const key = hostAttributesKey(snap)
      const i = list?.findIndex((h) => h.attributesKey === key) ?? -1
      let host: HostImpl
      if (list !== undefined && i >= 0) {
        host = list.splice(i, 1)[0]!
        host.setHealthFlags(snap.healthFlags)
      } else {
        host = new HostImpl(snap, info, this.hostStore)
      }
      // Slots may be renumbered when main replaces the memory, so rebind on every snapshot.
      host.setMonitor(memory !== undefined && snap.monitorSlot !== undefined
        ? new HostMonitor(memory, snap.monitorSlot, thresholds, activeHealthChecks) : NULL_HOST_MONITOR)
      return host
    })
    const prioritySet = new PrioritySetImpl(hosts, s.overprovisioningFactor)
    const lb = createLoadBalancer({
      prioritySet, config: s.config, onPanic: () => info.stats.lb_healthy_panic.inc(),
      ...(this.options.random !== undefined ? { random: this.options.random } : {}),
    })
    if (reuse !== undefined) {
      reuse.prioritySet = prioritySet
      reuse.loadBalancer = lb
      reuse.version = s.version
      reuse.dropPoolsNotIn(new Set(hosts))
    } else {
      this.clusters.set(s.name, new ThreadLocalClusterImpl(info, s, prioritySet, lb, this.log))
    }
  }
}
