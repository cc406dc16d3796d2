/**
 * The main thread's cluster manager (Envoy's ClusterManagerImpl, main side): owns cluster
 * definitions and host discovery (STATIC, STRICT_DNS, LOGICAL_DNS), keeps membership stats, and
 * publishes a ClusterSnapshot to the workers on init and on every membership change. Workers
 * turn snapshots into hosts, load balancers and connections (ThreadLocalClusterManagerImpl).
 */
import type { Logger } from 'pino'
import type { Counter, Gauge, Scope } from '../../envoy/stats/stats.js'
import type { ClusterSnapshot, HostSnapshot } from '../../envoy/upstream/cluster-snapshot.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import type { Bootstrap } from '../protobuf/generated/envoy/config/bootstrap/v3.js'
import type { Cluster } from '../protobuf/generated/envoy/config/cluster/v3.js'
import { MAIN_SHARD, type StatMemory } from '../stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../stats/thread-local-store.js'
import { checkLogicalDnsCluster, LogicalDnsCluster } from '../../extensions/clusters/logical-dns/cluster.js'
import { checkStaticCluster, StaticCluster } from '../../extensions/clusters/static/cluster.js'
import { checkDnsCluster, StrictDnsCluster, systemLookup } from '../../extensions/clusters/strict-dns/cluster.js'
import { ClusterInfoImpl } from './cluster-info-impl.js'
import { clustersJson, clustersText, type ClusterStatusSource } from './clusters-status.js'
import { EXCLUDED_FLAGS, healthOf } from './host-impl.js'
import { checkLoadBalancerConfig } from './load-balancers/load-balancer-factory.js'
import { createResourcesBuffer } from './resource-manager-impl.js'

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
  })
  return errors
}

/** Order-insensitive identity of a host list: a DNS answer in a new order is not a change. */
function membershipKey(hosts: readonly HostSnapshot[]): string {
  return hosts.map((h) => JSON.stringify(h)).sort().join('\n')
}

class ManagedCluster implements DiscoveryContext {
  readonly config: Cluster
  readonly log: Logger
  readonly lookup: DnsLookup
  readonly info: ClusterInfoImpl
  readonly stats: ClusterUpdateStats & Record<'membership_change', Counter>
  readonly gauges: Record<'membership_total' | 'membership_healthy' | 'membership_degraded' | 'membership_excluded' | 'max_host_weight' | 'version', Gauge>
  readonly discovery: ClusterDiscovery
  snapshot: ClusterSnapshot
  private readonly onChange: (c: ManagedCluster) => void
  private key = ''

  constructor(config: Cluster, o: ClusterManagerImplOptions, log: Logger, onChange: (c: ManagedCluster) => void) {
    this.config = config
    this.log = log
    this.lookup = o.dnsLookup ?? systemLookup
    this.onChange = onChange
    const resources = createResourcesBuffer()
    this.info = new ClusterInfoImpl(config, { store: o.scope, resources, initializeGauges: true })
    const s = this.info.scope
    this.stats = {
      update_attempt: s.counter('update_attempt'), update_success: s.counter('update_success'),
      update_failure: s.counter('update_failure'), update_empty: s.counter('update_empty'),
      update_no_rebuild: s.counter('update_no_rebuild'), membership_change: s.counter('membership_change'),
    }
    const g = (n: string): Gauge => s.gauge(n, 'NeverImport')
    this.gauges = {
      membership_total: g('membership_total'), membership_healthy: g('membership_healthy'),
      membership_degraded: g('membership_degraded'), membership_excluded: g('membership_excluded'),
      max_host_weight: g('max_host_weight'), version: g('version'),
    }
    // `version` is Envoy's hash of the last xDS update: 0 for clusters from the bootstrap.
    this.gauges.version.set(0)
    const factor = config.load_assignment?.policy?.overprovisioning_factor
    this.snapshot = { name: config.name, config, hosts: [], version: 1, resources, overprovisioningFactor: factor === undefined ? 1.4 : factor / 100 }
    this.updateMembershipGauges()
    const type = config.type ?? 'STATIC'
    this.discovery = type === 'STRICT_DNS' ? new StrictDnsCluster(this) : type === 'LOGICAL_DNS' ? new LogicalDnsCluster(this) : new StaticCluster(this)
  }

  setHosts(hosts: HostSnapshot[]): void {
    const key = membershipKey(hosts)
    if (key === this.key) {
      this.stats.update_no_rebuild.inc()
      return
    }
    this.key = key
    this.snapshot = { ...this.snapshot, hosts, version: this.snapshot.version + 1 }
    this.stats.membership_change.inc()
    this.updateMembershipGauges()
    this.onChange(this)
  }

  private updateMembershipGauges(): void {
    const hosts = this.snapshot.hosts
    const excluded = (h: HostSnapshot): boolean => (h.healthFlags & EXCLUDED_FLAGS) !== 0
    this.gauges.membership_total.set(hosts.length)
    this.gauges.membership_healthy.set(hosts.filter((h) => !excluded(h) && healthOf(h.healthFlags) === 'Healthy').length)
    this.gauges.membership_degraded.set(hosts.filter((h) => !excluded(h) && healthOf(h.healthFlags) === 'Degraded').length)
    this.gauges.membership_excluded.set(hosts.filter(excluded).length)
    this.gauges.max_host_weight.set(hosts.reduce((m, h) => Math.max(m, h.weight), 0))
  }
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
    const log = options.log
    for (const config of clustersOf(bootstrap)) {
      this.clusters.push(new ManagedCluster(config, options, log, (c) => this.onMembershipChange(c)))
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
   * clusters: first resolution done, success or failure), after publishing all snapshots.
   */
  initialize(): Promise<void> {
    this.initializing ??= (async () => {
      await Promise.all(this.clusters.map((c) => c.discovery.initialize()))
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

  /** Stops DNS timers. Main thread, at shutdown. */
  shutdown(): void {
    this.stopped = true
    for (const c of this.clusters) c.discovery.shutdown()
  }

  private statusSources(): ClusterStatusSource[] {
    return this.clusters.map((c) => ({ info: c.info, snapshot: c.snapshot }))
  }

  private onMembershipChange(c: ManagedCluster): void {
    // Before init completes the changes ride along with the first publish.
    if (!this.initialized || this.stopped) return
    this.clusterUpdated.inc()
    this.options.publish([c.snapshot])
  }
}
