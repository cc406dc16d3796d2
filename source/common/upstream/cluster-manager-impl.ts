/**
 * The main thread's cluster manager (Envoy's ClusterManagerImpl, main side): owns cluster
 * definitions and host discovery (STATIC, STRICT_DNS, LOGICAL_DNS), keeps membership stats, and
 * publishes a ClusterSnapshot to the workers on init and on every membership change. Workers
 * turn snapshots into hosts, load balancers and connections (ThreadLocalClusterManagerImpl).
 */
import type { Logger } from 'pino'
import type { AccessLogManager } from '../../envoy/access-log/access-log.js'
import type { Counter, Scope } from '../../envoy/stats/stats.js'
import type { ClusterSnapshot, HostSnapshot } from '../../envoy/upstream/cluster-snapshot.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import type { Bootstrap } from '../protobuf/generated/envoy/config/bootstrap/v3.js'
import type { Cluster } from '../protobuf/generated/envoy/config/cluster/v3.js'
import { MAIN_SHARD, type StatMemory } from '../stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../stats/thread-local-store.js'
import { checkLogicalDnsCluster } from '../../extensions/clusters/logical-dns/cluster.js'
import { checkStaticCluster } from '../../extensions/clusters/static/cluster.js'
import { checkDnsCluster, systemLookup } from '../../extensions/clusters/strict-dns/cluster.js'
import { clustersJson, clustersText, type ClusterStatusSource } from './clusters-status.js'
import { OutlierEventLogger } from './event-loggers.js'
import { checkHealthChecks } from './health-checker/health-checker-factory.js'
import { checkLoadBalancerConfig } from './load-balancers/load-balancer-factory.js'
import { ManagedCluster } from './managed-cluster.js'
import { checkOutlierDetection } from './outlier-detection-impl.js'
import { realScheduler, type Scheduler } from './scheduler.js'

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** getaddrinfo-style lookup: every address of `hostname` in `family` (0 = both). Rejects with `err.code` set. */
export type DnsLookup = (hostname: string, family: 0 | 4 | 6) => Promise<ResolvedAddress[]>

/** Envoy's cluster update stats (`cluster.<name>.update_*`). */
export interface ClusterUpdateStats {
  readonly update_attempt: Counter
  readonly update_success: Counter
  readonly update_failure: Counter
  readonly update_empty: Counter
  readonly update_no_rebuild: Counter
}

/** What a cluster type's discovery gets from the manager. */
export interface DiscoveryContext {
  readonly config: Cluster
  readonly log: Logger
  readonly lookup: DnsLookup
  readonly stats: ClusterUpdateStats
  /** The cluster's complete host list, after every resolution (unchanged lists are fine). */
  setHosts(hosts: HostSnapshot[]): void
}

/** One cluster type's host discovery on main (Envoy's ClusterImplBase subclasses). */
export interface ClusterDiscovery {
  /** Starts discovery; settles once the first host list is known (or its resolution failed). */
  initialize(): Promise<void>
  /** Stops timers; no `setHosts` after this. */
  shutdown(): void
}

export interface ClusterManagerImplOptions {
  /** Main's stat store. */
  scope: Scope
  /** The stat memory holding per-host stats, read for `/clusters`. */
  hostStatMemory: StatMemory
  /** The `upstream` component logger. */
  log: Logger
  /** Sends snapshots to every worker. Called with all clusters after init, then with each changed one. */
  publish: (snapshots: ClusterSnapshot[]) => void
  /** Replaces the system resolver (tests). */
  dnsLookup?: DnsLookup
  /** Opens health check and outlier event logs (`event_log_path`); without it they are not written. */
  accessLogManager?: AccessLogManager
  /** Timers and clocks of health checking and outlier detection (tests). */
  scheduler?: Scheduler
  /** Uniform in [0, 1): jitter, enforcement percentages (tests). */
  random?: () => number
}

function clustersOf(bootstrap: Bootstrap): Cluster[] {
  return bootstrap.static_resources?.clusters ?? []
}

/**
 * Every problem with the bootstrap's clusters, each with its path, without doing DNS
 * (`--mode validate`, and the constructor's check).
 */
export function checkClusters(bootstrap: Bootstrap): string[] {
  const errors: string[] = []
  clustersOf(bootstrap).forEach((c, i) => {
    const path = `static_resources.clusters[${i}]`
    const type = c.type ?? 'STATIC'
    if (type === 'STATIC') errors.push(...checkStaticCluster(c, path))
    else if (type === 'STRICT_DNS') errors.push(...checkDnsCluster(c, path))
    else if (type === 'LOGICAL_DNS') errors.push(...checkLogicalDnsCluster(c, path))
    else errors.push(`${path}.type: ${type} clusters are not supported yet (use STATIC, STRICT_DNS or LOGICAL_DNS)`)
    try {
      checkLoadBalancerConfig(c)
    } catch (err) {
      errors.push(`${path}.lb_policy: ${(err as Error).message}`)
    }
    errors.push(...checkHealthChecks(c, path), ...checkOutlierDetection(c.outlier_detection, path))
  })
  return errors
}

export class ClusterManagerImpl {
  private readonly options: ClusterManagerImplOptions
  private readonly clusters: ManagedCluster[] = []
  private readonly hostStore: ThreadLocalStoreImpl
  private readonly clusterUpdated: Counter
  private initializing: Promise<void> | undefined
  private initialized = false
  private stopped = false

  /** Checks every cluster first and throws a ConfigError (ETS_ERR_CONFIG_INVALID) listing all problems. */
  constructor(bootstrap: Bootstrap, options: ClusterManagerImplOptions) {
    const errors = checkClusters(bootstrap)
    if (errors.length > 0) throw new ConfigError(ErrorCode.CONFIG_INVALID, errors)
    this.options = options
    this.hostStore = new ThreadLocalStoreImpl(options.hostStatMemory, MAIN_SHARD)
    const cm = options.scope.createScope('cluster_manager')
    this.clusterUpdated = cm.counter('cluster_updated')
    for (const n of ['cluster_modified', 'cluster_removed', 'cluster_updated_via_merge', 'update_merge_cancelled', 'update_out_of_merge_window']) cm.counter(n)
    cm.gauge('warming_clusters', 'NeverImport').set(0)
    const logs = options.accessLogManager
    const scheduler = options.scheduler ?? realScheduler
    const outlierLogPath = bootstrap.cluster_manager?.outlier_detection?.event_log_path ?? ''
    let outlierLog: OutlierEventLogger | undefined
    if (outlierLogPath !== '' && logs !== undefined) {
      // Opened on the first event, so `--mode validate` creates no files.
      let file: ReturnType<AccessLogManager['createAccessLogFile']> | undefined
      outlierLog = new OutlierEventLogger({ write: (e) => (file ??= logs.createAccessLogFile(outlierLogPath)).write(e) }, scheduler.now, scheduler.wallNow)
    }
    for (const config of clustersOf(bootstrap)) {
      this.clusters.push(new ManagedCluster(config, {
        scope: options.scope, log: options.log, lookup: options.dnsLookup ?? systemLookup, scheduler,
        random: options.random ?? Math.random, onChange: (c) => this.onMembershipChange(c),
        ...(logs !== undefined ? { openEventLog: (path: string) => logs.createAccessLogFile(path) } : {}),
        outlierEventLogger: () => outlierLog,
      }))
    }
    cm.counter('cluster_added').add(this.clusters.length)
    cm.gauge('active_clusters', 'NeverImport').set(this.clusters.length)
  }

  /** See checkClusters (the constructor runs it too and throws what it finds). */
  static checkClusters(bootstrap: Bootstrap): string[] {
    return checkClusters(bootstrap)
  }

  /**
   * Starts discovery for every cluster; resolves when each has its first host set (DNS
   * clusters: first resolution done, success or failure) and, with active health checks, every
   * initial host has had its first check (Envoy's cluster warming), after publishing all snapshots.
   */
  initialize(): Promise<void> {
    this.initializing ??= (async () => {
      await Promise.all(this.clusters.map((c) => c.initialize()))
      if (this.stopped) return
      this.initialized = true
      this.options.publish(this.snapshots())
    })()
    return this.initializing
  }

  /** The current snapshot of every cluster, in config order (start data for a new worker). */
  snapshots(): ClusterSnapshot[] {
    return this.clusters.map((c) => c.snapshot)
  }

  clusterNames(): string[] {
    return this.clusters.map((c) => c.config.name)
  }

  /** `/clusters` as text. */
  clustersText(): string {
    return clustersText(this.statusSources(), this.hostStore)
  }

  /** `/clusters?format=json`: Envoy's admin.v3.Clusters as JSON. */
  clustersJson(): Record<string, unknown> {
    return clustersJson(this.statusSources(), this.hostStore)
  }

  /** Stops DNS timers, health checks and outlier detection. Main thread, at shutdown. */
  shutdown(): void {
    this.stopped = true
    for (const c of this.clusters) c.shutdown()
  }

  private statusSources(): ClusterStatusSource[] {
    return this.clusters.map((c) => c.statusSource())
  }

  private onMembershipChange(c: ManagedCluster): void {
    // Before init completes the changes ride along with the first publish.
    if (!this.initialized || this.stopped) return
    this.clusterUpdated.inc()
    this.options.publish([c.snapshot])
  }
}
