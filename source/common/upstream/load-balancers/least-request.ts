/**
 * LEAST_REQUEST (Envoy's LeastRequestLoadBalancer).
 *
 * Equal weights: sample `choice_count` hosts at random (default 2, "power of two choices") and
 * take the one with the fewest active requests; when there are no more hosts than choices, scan
 * them all instead, starting at a random host so that ties spread out.
 *
 * Unequal weights: an EDF schedule in which a host, each time it is picked, is re-weighted to
 * `weight / (active + 1) ^ active_request_bias` (bias default 1.0; 0 means plain weighted round
 * robin). Busy hosts drift back in the schedule, idle ones forward.
 *
 * TODO: slow_start_config, as for round robin.
 */
import type { Host } from '../../../envoy/upstream/host.js'
import type { LoadBalancerFactoryParams } from '../../../envoy/upstream/load-balancer.js'
import { EdfScheduler } from './edf-scheduler.js'
import { HostSourceLoadBalancerBase } from './priority-load.js'
import type { HostSource } from './priority-load.js'
import { hostWeightsAreEqual } from './round-robin.js'

export const DEFAULT_CHOICE_COUNT = 2
export const DEFAULT_ACTIVE_REQUEST_BIAS = 1.0

export class LeastRequestLoadBalancer extends HostSourceLoadBalancerBase {
  private readonly choiceCount: number
  private readonly activeRequestBias: number
  private readonly schedulers: Array<EdfScheduler<Host> | undefined>
  /** Bound once so that `pickAndAdd` does not allocate a closure per pick. */
  private readonly hostWeight = (host: Host): number => this.effectiveWeight(host)

  constructor(params: LoadBalancerFactoryParams) {
    super(params)
    const cfg = params.config.least_request_lb_config
    this.choiceCount = Math.max(DEFAULT_CHOICE_COUNT, cfg?.choice_count ?? DEFAULT_CHOICE_COUNT)
    const bias = cfg?.active_request_bias?.default_value
    // Envoy falls back to the default for a negative or non-finite bias.
    this.activeRequestBias = bias !== undefined && bias >= 0 && Number.isFinite(bias) ? bias : DEFAULT_ACTIVE_REQUEST_BIAS
    const sources = this.priorityLoad.sources
    this.schedulers = new Array<EdfScheduler<Host> | undefined>(sources.length).fill(undefined)
    for (const source of sources) {
      const hosts = source.hosts
      if (hosts.length === 0 || hostWeightsAreEqual(hosts)) continue
      const scheduler = new EdfScheduler<Host>()
      for (const host of hosts) scheduler.add(this.effectiveWeight(host), host)
      scheduler.warmUp(Math.floor(this.random() * hosts.length))
      this.schedulers[source.id] = scheduler
    }
  }

  /** `weight / (active + 1) ^ bias`. */
  effectiveWeight(host: Host): number {
    const bias = this.activeRequestBias
    if (bias === 0) return host.weight
    const active = host.stats.rq_active.value() + 1
    return bias === 1 ? host.weight / active : host.weight / Math.pow(active, bias)
  }

  protected override pickHost(source: HostSource): Host | undefined {
    const scheduler = this.schedulers[source.id]
    if (scheduler !== undefined) return scheduler.pickAndAdd(this.hostWeight)
    const hosts = source.hosts
    const n = hosts.length
    let best: Host | undefined
    let bestActive = Infinity
    if (n <= this.choiceCount) {
      const start = Math.floor(this.random() * n)
      for (let k = 0; k < n; k++) {
        const host = hosts[(start + k) % n]!
        const active = host.stats.rq_active.value()
        if (active < bestActive) {
          best = host
          bestActive = active
        }
      }
      return best
    }
    for (let k = 0; k < this.choiceCount; k++) {
      const host = hosts[Math.floor(this.random() * n)]!
      const active = host.stats.rq_active.value()
      if (active < bestActive) {
        best = host
        bestActive = active
      }
    }
    return best
  }
}
