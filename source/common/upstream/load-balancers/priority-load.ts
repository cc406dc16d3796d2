/**
 * Priority, health and panic logic shared by every load balancer (Envoy's LoadBalancerBase and
 * the host-source half of ZoneAwareLoadBalancerBase). Everything here is computed once per
 * host-set snapshot; a pick only walks two short arrays.
 *
 * Per priority level P:
 *   health(P)   = min(100, ⌊OF × healthy(P) / total(P)⌋)   OF = overprovisioning factor in %
 *   degraded(P) = min(100, ⌊OF × degraded(P) / total(P)⌋)
 * The normalized total availability is min(100, Σ health + Σ degraded). Load (integer percent)
 * goes first to healthy hosts, highest priority first, each level taking
 * min(what is left, ⌊health × 100 / total availability⌋); what is left then goes to degraded
 * hosts the same way, and any rounding remainder to the first level with healthy hosts (else
 * the first with degraded ones).
 *
 * Panic: while the total availability is below 100, a level whose raw (healthy + degraded)
 * percentage is under `healthy_panic_threshold` balances over all of its hosts. When every level
 * panics, load is split by host count instead. A threshold of 0 disables panic.
 */
import type { Host, HostSet, PrioritySet } from '../../../envoy/upstream/host.js'
import type { LoadBalancer, LoadBalancerContext, LoadBalancerFactoryParams } from '../../../envoy/upstream/load-balancer.js'
import type { Cluster } from '../../protobuf/generated/envoy/config/cluster/v3.js'
import { EdfScheduler } from './edf-scheduler.js'

export type HostAvailability = 'Healthy' | 'Degraded'

/** A list of hosts to balance over, as picked by priority, availability and locality. */
export interface HostSource {
  /** Dense index into `PriorityLoad.sources`; load balancers key per-source state by it. */
  readonly id: number
  readonly hostSet: HostSet
  readonly priority: number
  readonly availability: HostAvailability
  /** Healthy or degraded hosts of the level (or of one locality), or all hosts when panicking. */
  readonly hosts: readonly Host[]
  readonly panic: boolean
  /** Index into the host set's per-locality arrays, or -1 for the whole level. */
  readonly localityIndex: number
}

export interface PriorityLoadOptions {
  /** `healthy_panic_threshold` as an integer percent; 0 disables panic mode. */
  readonly panicThreshold: number
  /** `common_lb_config.locality_weighted_lb_config` is set. */
  readonly localityWeighted: boolean
}

export const DEFAULT_PANIC_THRESHOLD = 50
export const DEFAULT_OVERPROVISIONING_FACTOR = 1.4

export function priorityLoadOptions(config: Cluster): PriorityLoadOptions {
  const common = config.common_lb_config
  const pct = common?.healthy_panic_threshold?.value
  return {
    panicThreshold: pct === undefined ? DEFAULT_PANIC_THRESHOLD : Math.min(100, Math.max(0, Math.round(pct))),
    localityWeighted: common?.locality_weighted_lb_config !== undefined,
  }
}

/** The overprovisioning factor of a host set as an integer percent (1.4 → 140). */
function overprovisioningPercent(hostSet: HostSet): number {
  const f = hostSet.overprovisioningFactor
  return Math.round((f > 0 ? f : DEFAULT_OVERPROVISIONING_FACTOR) * 100)
}

export class PriorityLoad {
  /** Percent of traffic to each level's healthy hosts. With `degradedLoad`, sums to 100. */
  readonly healthyLoad: number[]
  readonly degradedLoad: number[]
  readonly perPriorityHealth: number[]
  readonly perPriorityDegraded: number[]
  readonly perPriorityPanic: boolean[]
  /** Every source: first two per level (healthy, degraded), then per-locality ones. */
  readonly sources: HostSource[] = []
  /** Locality schedulers keyed by the id of a level source; undefined when not weighting. */
  private readonly localityPickers: Array<EdfScheduler<HostSource> | undefined> = []

  constructor(prioritySet: PrioritySet, options: PriorityLoadOptions, random: () => number) {
    const sets = prioritySet.hostSetsPerPriority
    const n = sets.length
    this.healthyLoad = new Array<number>(n).fill(0)
    this.degradedLoad = new Array<number>(n).fill(0)
    this.perPriorityHealth = new Array<number>(n).fill(0)
    this.perPriorityDegraded = new Array<number>(n).fill(0)
    this.perPriorityPanic = new Array<boolean>(n).fill(false)
    if (n === 0) return
    for (let p = 0; p < n; p++) {
      const set = sets[p]!
      const total = set.hosts.length
      if (total === 0) continue
      const of = overprovisioningPercent(set)
      this.perPriorityHealth[p] = Math.min(100, Math.floor((of * set.healthyHosts.length) / total))
      this.perPriorityDegraded[p] = Math.min(100, Math.floor((of * set.degradedHosts.length) / total))
    }
    const availability = this.normalizedTotalAvailability()
    if (availability > 0) this.distribute(availability)
    this.computePanic(sets, options.panicThreshold, availability)
    this.buildSources(sets, options.localityWeighted, random)
  }

  /** min(100, Σ health + Σ degraded). */
  normalizedTotalAvailability(): number {
    let sum = 0
    for (let p = 0; p < this.perPriorityHealth.length; p++) sum += this.perPriorityHealth[p]! + this.perPriorityDegraded[p]!
    return Math.min(100, sum)
  }

  /**
   * The level source for a bucket in [0, 100): the first level whose cumulative healthy load
   * exceeds it, then the same over degraded load. Hash-based balancers pass `hash % 100`.
   */
  sourceForBucket(bucket: number): HostSource | undefined {
    let aggregate = 0
    const n = this.healthyLoad.length
    for (let p = 0; p < n; p++) {
      aggregate += this.healthyLoad[p]!
      if (bucket < aggregate) return this.sources[2 * p]
    }
    for (let p = 0; p < n; p++) {
      aggregate += this.degradedLoad[p]!
      if (bucket < aggregate) return this.sources[2 * p + 1]
    }
    // Loads always add up to 100 (see the constructor); keep a defined answer anyway.
    return this.sources[0]
  }

  /** Picks the hosts to balance over for one request: priority, then locality when weighted. */
  choosePriority(random: () => number): HostSource | undefined {
    const source = this.sourceForBucket(Math.floor(random() * 100))
    if (source === undefined) return undefined
    const picker = this.localityPickers[source.id]
    return picker === undefined ? source : (picker.pick() ?? source)
  }

  private distribute(availability: number): void {
    let remaining = 100
    let firstHealthy = -1
    let firstDegraded = -1
    const n = this.healthyLoad.length
    for (let p = 0; p < n; p++) {
      const h = this.perPriorityHealth[p]!
      if (firstHealthy < 0 && h > 0) firstHealthy = p
      this.healthyLoad[p] = Math.min(remaining, Math.floor((h * 100) / availability))
      remaining -= this.healthyLoad[p]!
    }
    for (let p = 0; p < n; p++) {
      const d = this.perPriorityDegraded[p]!
      if (firstDegraded < 0 && d > 0) firstDegraded = p
      this.degradedLoad[p] = Math.min(remaining, Math.floor((d * 100) / availability))
      remaining -= this.degradedLoad[p]!
    }
    if (remaining > 0) {
      if (firstHealthy >= 0) this.healthyLoad[firstHealthy]! += remaining
      else this.degradedLoad[firstDegraded]! += remaining
    }
  }

  private computePanic(sets: readonly HostSet[], threshold: number, availability: number): void {
    if (threshold === 0 && availability === 0) {
      // Nothing is available and panic is off: loads must still add up to 100, so P0 gets it
      // all, and balancing over its (empty) healthy hosts finds no host.
      this.healthyLoad[0] = 100
      return
    }
    if (availability === 100) return
    let all = true
    for (let p = 0; p < sets.length; p++) {
      const set = sets[p]!
      const count = set.hosts.length
      const pct = count === 0 ? 0 : (100 * (set.healthyHosts.length + set.degradedHosts.length)) / count
      this.perPriorityPanic[p] = pct < threshold
      all &&= this.perPriorityPanic[p]!
    }
    if (!all) return
    // Total panic: split by host count, ignoring health.
    let totalHosts = 0
    for (const set of sets) totalHosts += set.hosts.length
    this.degradedLoad.fill(0)
    if (totalHosts === 0) {
      this.healthyLoad.fill(0)
      this.healthyLoad[0] = 100
      return
    }
    let remaining = 100
    let firstNonEmpty = -1
    for (let p = 0; p < sets.length; p++) {
      const count = sets[p]!.hosts.length
      if (firstNonEmpty < 0 && count > 0) firstNonEmpty = p
      this.healthyLoad[p] = Math.floor((100 * count) / totalHosts)
      remaining -= this.healthyLoad[p]!
    }
    this.healthyLoad[firstNonEmpty]! += remaining
  }

  private buildSources(sets: readonly HostSet[], localityWeighted: boolean, random: () => number): void {
    for (let p = 0; p < sets.length; p++) {
      const set = sets[p]!
      const panic = this.perPriorityPanic[p]!
      this.addSource(set, 'Healthy', panic ? set.hosts : set.healthyHosts, panic, -1)
      this.addSource(set, 'Degraded', panic ? set.hosts : set.degradedHosts, panic, -1)
    }
    if (!localityWeighted) return
    for (let p = 0; p < sets.length; p++) {
      const set = sets[p]!
      // In panic the level balances over all of its hosts; locality weights do not apply.
      if (this.perPriorityPanic[p]! || set.localityWeights.length === 0) continue
      this.localityPickers[2 * p] = this.localityScheduler(set, 'Healthy', random)
      this.localityPickers[2 * p + 1] = this.localityScheduler(set, 'Degraded', random)
    }
  }

  /**
   * An EDF scheduler over the level's localities, each weighted by
   * `load_balancing_weight × min(1, OF × eligible / total)` (Envoy's effective locality weight),
   * or undefined when no locality has weight.
   */
  private localityScheduler(set: HostSet, availability: HostAvailability, random: () => number): EdfScheduler<HostSource> | undefined {
    const of = overprovisioningPercent(set) / 100
    const scheduler = new EdfScheduler<HostSource>()
    for (let i = 0; i < set.localityWeights.length; i++) {
      const all = set.hostsPerLocality[i] ?? []
      const eligible = availability === 'Healthy' ? (set.healthyHostsPerLocality[i] ?? []) : all.filter((h) => h.health() === 'Degraded')
      const source = this.addSource(set, availability, eligible, false, i)
      if (all.length === 0) continue
      scheduler.add(set.localityWeights[i]! * Math.min(1, (of * eligible.length) / all.length), source)
    }
    if (scheduler.size === 0) return undefined
    scheduler.warmUp(Math.floor(random() * scheduler.size))
    return scheduler
  }

  private addSource(hostSet: HostSet, availability: HostAvailability, hosts: readonly Host[], panic: boolean, localityIndex: number): HostSource {
    const source: HostSource = { id: this.sources.length, hostSet, priority: hostSet.priority, availability, hosts, panic, localityIndex }
    this.sources.push(source)
    return source
  }
}

/**
 * Base of the per-request balancers (round robin, least request, random): choose the host
 * source, let the subclass pick from it, and retry while `shouldSelectAnotherHost` objects, up
 * to `hostSelectionRetryCount` extra times; the last pick stands if every try was rejected.
 */
export abstract class HostSourceLoadBalancerBase implements LoadBalancer {
  protected readonly priorityLoad: PriorityLoad
  protected readonly random: () => number
  private readonly onPanic: (() => void) | undefined

  constructor(params: LoadBalancerFactoryParams) {
    this.random = params.random ?? Math.random
    this.priorityLoad = new PriorityLoad(params.prioritySet, priorityLoadOptions(params.config), this.random)
    this.onPanic = params.onPanic
  }

  // LoadBalancer
  chooseHost(context: LoadBalancerContext | undefined): Host | undefined {
    const attempts = context?.shouldSelectAnotherHost === undefined ? 1 : (context.hostSelectionRetryCount ?? 0) + 1
    let host: Host | undefined
    for (let i = 0; i < attempts; i++) {
      const source = this.priorityLoad.choosePriority(this.random)
      if (source === undefined || source.hosts.length === 0) return undefined
      if (source.panic) this.onPanic?.()
      host = this.pickHost(source)
      if (host === undefined || context?.shouldSelectAnotherHost?.(host) !== true) return host
    }
    return host
  }

  /** Picks one of `source.hosts`, which is non-empty. */
  protected abstract pickHost(source: HostSource): Host | undefined
}
