/**
 * One cluster on main: discovery (STATIC, STRICT_DNS, LOGICAL_DNS) feeds the host list; the
 * active health checker and the outlier detector set health flags on those hosts; every change
 * becomes a new ClusterSnapshot for the workers (Envoy's ClusterImplBase with its
 * reloadHealthyHosts). Membership stats are kept here.
 *
 * Host lifecycle (Envoy's rules): with `health_checks`, a new host starts FAILED_ACTIVE_HC (and
 * PENDING_ACTIVE_HC with `common_lb_config.ignore_new_hosts_until_first_hc`) until a check
 * passes; cluster initialization waits for the first check of every initial host. A host that
 * discovery drops while it still passes its checks stays, flagged PENDING_DYNAMIC_REMOVAL, until
 * a check fails, unless `ignore_health_on_host_removal`.
 */
import type { Logger } from 'pino'
import type { AccessLogFile } from '../../envoy/access-log/access-log.js'
import type { Counter, Gauge, Scope } from '../../envoy/stats/stats.js'
import type { ClusterSnapshot, HostSnapshot } from '../../envoy/upstream/cluster-snapshot.js'
import { HealthFlag } from '../../envoy/upstream/host.js'
import type { Cluster } from '../protobuf/generated/envoy/config/cluster/v3.js'
import { LogicalDnsCluster } from '../../extensions/clusters/logical-dns/cluster.js'
import { StaticCluster } from '../../extensions/clusters/static/cluster.js'
import { StrictDnsCluster } from '../../extensions/clusters/strict-dns/cluster.js'
import { ClusterInfoImpl } from './cluster-info-impl.js'
import type { ClusterDiscovery, ClusterUpdateStats, DiscoveryContext, DnsLookup } from './cluster-manager-impl.js'
import { ClusterHost } from './cluster-host.js'
import type { ClusterStatusSource } from './clusters-status.js'
import { HealthCheckEventLogger, type OutlierEventLogger } from './event-loggers.js'
import { createHealthChecker } from './health-checker/health-checker-factory.js'
import type { HealthCheckerImplBase, HealthState, HealthTransition } from './health-checker/health-checker-base.js'
import { EXCLUDED_FLAGS, healthOf, snapshotAddressString } from './host-impl.js'
import { Field, HostMonitorMemory, MonitorEvent } from './host-monitor-memory.js'
import { DetectorImpl } from './outlier-detection-impl.js'
import { createResourcesBuffer } from './resource-manager-impl.js'
import type { Scheduler } from './scheduler.js'

export interface ManagedClusterOptions {
  scope: Scope
  log: Logger
  lookup: DnsLookup
  scheduler: Scheduler
  random: () => number
  /** A snapshot changed (membership or health). */
  onChange: (c: ManagedCluster) => void
  /** Opens an event log file (`event_log_path`); absent: event logs are not written. */
  openEventLog?: (path: string) => AccessLogFile
  /** `cluster_manager.outlier_detection.event_log_path`, shared by every cluster. */
  outlierEventLogger?: () => OutlierEventLogger | undefined
}

/** Order-insensitive identity of a host list: a DNS answer in a new order is not a change. */
export function membershipKey(hosts: readonly HostSnapshot[]): string {
  return hosts.map((h) => JSON.stringify(h)).sort().join('\n')
}

type GaugeName = 'membership_total' | 'membership_healthy' | 'membership_degraded' | 'membership_excluded' | 'max_host_weight' | 'version'

export class ManagedCluster implements DiscoveryContext {
  readonly config: Cluster
  readonly log: Logger
  readonly lookup: DnsLookup
  readonly info: ClusterInfoImpl
  readonly stats: ClusterUpdateStats & Record<'membership_change', Counter>
  readonly gauges: Record<GaugeName, Gauge>
  readonly discovery: ClusterDiscovery
  snapshot: ClusterSnapshot
  private readonly o: ManagedClusterOptions
  private hosts: ClusterHost[] = []
  private discoveredKey = ''
  private publishedKey = ''
  private healthChecker: HealthCheckerImplBase | undefined
  private detector: DetectorImpl | undefined
  private memory: HostMonitorMemory | undefined
  private watched: HostMonitorMemory | undefined
  private bySlot: Array<ClusterHost | undefined> = []
  private checking = false
  private stopped = false
  /** Inside applyDiscovery: results of sessions being removed must not publish a half-updated list. */
  private applying = false
  private readonly pendingFirstChecks = new Set<ClusterHost>()
  private firstChecksDone: (() => void) | undefined

  constructor(config: Cluster, o: ManagedClusterOptions) {
    this.config = config
    this.o = o
    this.log = o.log
    this.lookup = o.lookup
    const resources = createResourcesBuffer()
    this.info = new ClusterInfoImpl(config, { store: o.scope, resources, initializeGauges: true })
    const s = this.info.scope
    this.stats = {
      update_attempt: s.counter('update_attempt'), update_success: s.counter('update_success'),
      update_failure: s.counter('update_failure'), update_empty: s.counter('update_empty'),
      update_no_rebuild: s.counter('update_no_rebuild'), membership_change: s.counter('membership_change'),
    }
    const g = (n: GaugeName): Gauge => s.gauge(n, 'NeverImport')
    this.gauges = {
      membership_total: g('membership_total'), membership_healthy: g('membership_healthy'), membership_degraded: g('membership_degraded'),
      membership_excluded: g('membership_excluded'), max_host_weight: g('max_host_weight'), version: g('version'),
    }
    // `version` is Envoy's hash of the last xDS update: 0 for clusters from the bootstrap.
    this.gauges.version.set(0)
    const factor = config.load_assignment?.policy?.overprovisioning_factor
    this.snapshot = { name: config.name, config, hosts: [], version: 1, resources, overprovisioningFactor: factor === undefined ? 1.4 : factor / 100 }
    this.updateMembershipGauges()
    const hc = config.health_checks[0]
    if (hc !== undefined) {
      const path = hc.event_log_path
      const open = o.openEventLog
      // Opened on the first event, so `--mode validate` creates no files.
      let opened: AccessLogFile | undefined
      const file: AccessLogFile | undefined = path !== '' && open !== undefined ? { write: (e) => (opened ??= open(path)).write(e) } : undefined
      this.healthChecker = createHealthChecker(hc, {
        clusterName: config.name, scope: s, log: o.log, scheduler: o.scheduler, random: o.random,
        hasTraffic: () => {
          const t = this.info.stats
          return t.upstream_cx_total.used() || t.upstream_cx_tx_bytes_total.used() || t.upstream_cx_rx_bytes_total.used()
        },
        onHostCheckComplete: (h, t, state) => this.onHostCheckComplete(h, t, state),
        ...(file !== undefined ? { eventLogger: new HealthCheckEventLogger(file, config.name, hc.http_health_check !== undefined ? 'HTTP' : 'TCP', o.scheduler.wallNow) } : {}),
      })
    }
    if (config.outlier_detection !== undefined) {
      const logger = o.outlierEventLogger?.()
      this.detector = new DetectorImpl(config.outlier_detection, {
        clusterName: config.name, scope: s, scheduler: o.scheduler, random: o.random, log: o.log,
        memory: () => this.memory, onChange: () => this.rebuild(),
        ...(logger !== undefined ? { eventLogger: logger } : {}),
      })
    }
    const type = config.type ?? 'STATIC'
    this.discovery = type === 'STRICT_DNS' ? new StrictDnsCluster(this) : type === 'LOGICAL_DNS' ? new LogicalDnsCluster(this) : new StaticCluster(this)
  }

  /** Discovery, then (with health checks) the first check of every host; then the detector. */
  async initialize(): Promise<void> {
    await this.discovery.initialize()
    if (this.stopped) return
    this.checking = true
    if (this.healthChecker !== undefined) {
      for (const h of this.hosts) if (!h.disableActiveHealthCheck()) this.pendingFirstChecks.add(h)
      const done = new Promise<void>((resolve) => { this.firstChecksDone = resolve })
      this.healthChecker.addHosts(this.hosts)
      if (this.pendingFirstChecks.size > 0) await done
    }
    this.firstChecksDone = undefined
    if (this.stopped) return
    this.detector?.start()
    if (this.memory !== undefined) this.startWatching(this.memory)
  }

  shutdown(): void {
    this.stopped = true
    this.discovery.shutdown()
    this.healthChecker?.stop()
    this.detector?.stop()
    this.memory?.wake()
    this.firstChecksDone?.()
  }

  /** DiscoveryContext: the complete host list after a resolution. */
  setHosts(list: HostSnapshot[]): void {
    const key = membershipKey(list)
    if (key === this.discoveredKey) {
      this.stats.update_no_rebuild.inc()
      return
    }
    this.discoveredKey = key
    this.applying = true
    try {
      if (this.applyDiscovery(list)) this.stats.membership_change.inc()
    } finally {
      this.applying = false
    }
    this.rebuild()
  }

  /** What `/clusters` shows for this cluster. */
  statusSource(): ClusterStatusSource {
    const d = this.detector
    const byAddress = new Map(this.hosts.map((h) => [h.key, h]))
    return {
      info: this.info,
      snapshot: this.snapshot,
      ...(d !== undefined ? {
        outlier: {
          successRateAverage: (t) => d.successRateAverage(t),
          successRateEjectionThreshold: (t) => d.successRateEjectionThreshold(t),
          hostSuccessRate: (address, t) => {
            const h = byAddress.get(address)
            return h === undefined ? -1 : d.successRate(h, t)
          },
        },
      } : {}),
    }
  }

  /** Matches the new list to the current hosts by address; true when hosts were added or removed. */
  private applyDiscovery(list: readonly HostSnapshot[]): boolean {
    const current = new Map(this.hosts.map((h) => [h.key, h]))
    const seen = new Map<string, number>()
    const next: ClusterHost[] = []
    const added: ClusterHost[] = []
    for (const snap of list) {
      const address = snapshotAddressString(snap)
      const n = seen.get(address) ?? 0
      seen.set(address, n + 1)
      const key = n === 0 ? address : `${address}#${n}`
      let host = current.get(key)
      if (host !== undefined) {
        current.delete(key)
        host.snapshot = snap
        host.healthFlagClear(HealthFlag.PENDING_DYNAMIC_REMOVAL)
      } else {
        host = new ClusterHost(snap, key)
        if (this.healthChecker !== undefined && !host.disableActiveHealthCheck()) {
          host.healthFlagSet(HealthFlag.FAILED_ACTIVE_HC)
          if (this.config.common_lb_config?.ignore_new_hosts_until_first_hc === true) host.healthFlagSet(HealthFlag.PENDING_ACTIVE_HC)
        }
        added.push(host)
      }
      next.push(host)
    }
    let removed = 0
    for (const host of current.values()) {
      const keep = this.healthChecker?.hasSession(host) === true && !this.config.ignore_health_on_host_removal
        && !host.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC)
      if (keep) {
        host.healthFlagSet(HealthFlag.PENDING_DYNAMIC_REMOVAL)
        next.push(host)
      } else {
        this.dropHost(host)
        removed++
      }
    }
    this.hosts = next
    this.attachMonitors(added)
    for (const h of added) this.detector?.addHost(h)
    if (this.checking) this.healthChecker?.addHosts(added)
    return added.length > 0 || removed > 0
  }

  private dropHost(host: ClusterHost): void {
    this.healthChecker?.removeHost(host)
    this.detector?.removeHost(host)
    if (host.monitorSlot >= 0) this.bySlot[host.monitorSlot] = undefined
    this.pendingFirstChecks.delete(host)
  }

  /**
   * Gives new hosts a monitor slot. Slots are never reused (a worker may still count into a
   * removed host's slot); when the memory is full, a larger one replaces it and every host is
   * renumbered. Streaks in flight during that swap are lost, which only delays an ejection.
   */
  private attachMonitors(added: readonly ClusterHost[]): void {
    if (this.healthChecker === undefined && this.detector === undefined) return
    if (this.memory === undefined || this.bySlot.length + added.length > this.memory.capacity) {
      const old = this.memory
      this.memory = HostMonitorMemory.create(Math.max(16, 2 * this.hosts.length))
      this.bySlot = []
      for (const h of this.hosts) h.monitorSlot = -1
      old?.wake()
      if (this.checking) this.startWatching(this.memory)
      added = this.hosts
    }
    for (const h of added) {
      h.monitorSlot = this.bySlot.length
      this.bySlot.push(h)
    }
  }

  private startWatching(memory: HostMonitorMemory): void {
    if (this.watched === memory) return
    this.watched = memory
    this.watch(memory)
  }

  /** Waits on the doorbell of `memory` and handles the events workers raise, until replaced or stopped. */
  private watch(memory: HostMonitorMemory): void {
    if (this.stopped || memory !== this.memory) return
    const seen = memory.doorbell()
    for (let slot = 0; slot < this.bySlot.length; slot++) {
      const bits = memory.take(slot, Field.EVENTS)
      const host = this.bySlot[slot]
      if (bits === 0 || host === undefined) continue
      if ((bits & MonitorEvent.IMMEDIATE_HEALTH_CHECK_FAIL) !== 0) this.healthChecker?.setUnhealthyCrossThread(host)
      const rest = bits & ~MonitorEvent.IMMEDIATE_HEALTH_CHECK_FAIL
      if (rest !== 0) this.detector?.onConsecutiveEvents(host, rest)
    }
    void memory.waitForDoorbell(seen).then(() => this.watch(memory))
  }

  private onHostCheckComplete(host: ClusterHost, _transition: HealthTransition, state: HealthState): void {
    if (this.stopped) return
    if (this.pendingFirstChecks.delete(host) && this.pendingFirstChecks.size === 0) this.firstChecksDone?.()
    if (this.applying) return
    if (state === 'Healthy') this.detector?.onHealthCheckSuccess(host)
    if (host.healthFlagGet(HealthFlag.PENDING_DYNAMIC_REMOVAL) && host.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC)) {
      this.hosts = this.hosts.filter((h) => h !== host)
      this.dropHost(host)
      this.stats.membership_change.inc()
    }
    this.rebuild()
  }

  /** Publishes a new snapshot when any host's attributes or health bits changed. */
  private rebuild(): void {
    const hosts = this.hosts.map((h) => h.toSnapshot())
    const key = membershipKey(hosts)
    if (key === this.publishedKey && this.snapshot.hostMonitors === this.memory?.buffer) return
    this.publishedKey = key
    const next: ClusterSnapshot = { ...this.snapshot, hosts, version: this.snapshot.version + 1 }
    if (this.memory !== undefined) next.hostMonitors = this.memory.buffer
    this.snapshot = next
    this.updateMembershipGauges()
    this.o.onChange(this)
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
