/**
 * ROUND_ROBIN (Envoy's RoundRobinLoadBalancer). Per host source (priority × availability ×
 * locality): when every host has the same weight, plain rotation from a random starting offset;
 * otherwise an EDF schedule over the host weights, so a host of weight 3 gets three picks for
 * every one of a host of weight 1, interleaved.
 *
 * TODO: slow_start_config (weight ramp-up for new hosts) needs host creation times, which the
 * Host interface does not carry yet.
 */
import type { Host } from '../../../envoy/upstream/host.js'
import type { LoadBalancerFactoryParams } from '../../../envoy/upstream/load-balancer.js'
import { EdfScheduler } from './edf-scheduler.js'
import { HostSourceLoadBalancerBase } from './priority-load.js'
import type { HostSource } from './priority-load.js'

/** True when every host has the same weight (or there are fewer than two). */
export function hostWeightsAreEqual(hosts: readonly Host[]): boolean {
  for (let i = 1; i < hosts.length; i++) if (hosts[i]!.weight !== hosts[0]!.weight) return false
  return true
}

export class RoundRobinLoadBalancer extends HostSourceLoadBalancerBase {
  /** Next rotation index per source id (equal weights). */
  private readonly rrIndex: number[]
  /** EDF schedule per source id (unequal weights), else undefined. */
  private readonly schedulers: Array<EdfScheduler<Host> | undefined>

  constructor(params: LoadBalancerFactoryParams) {
    super(params)
    const sources = this.priorityLoad.sources
    this.rrIndex = new Array<number>(sources.length).fill(0)
    this.schedulers = new Array<EdfScheduler<Host> | undefined>(sources.length).fill(undefined)
    for (const source of sources) {
      const hosts = source.hosts
      if (hosts.length === 0) continue
      // Start each source at a random place so workers (and successive snapshots) spread out.
      const start = Math.floor(this.random() * hosts.length)
      if (hostWeightsAreEqual(hosts)) {
        this.rrIndex[source.id] = start
        continue
      }
      const scheduler = new EdfScheduler<Host>()
      for (const host of hosts) scheduler.add(host.weight, host)
      scheduler.warmUp(start)
      this.schedulers[source.id] = scheduler
    }
  }

  protected override pickHost(source: HostSource): Host | undefined {
    const scheduler = this.schedulers[source.id]
    if (scheduler !== undefined) return scheduler.pick()
    const hosts = source.hosts
    const i = this.rrIndex[source.id]!
    this.rrIndex[source.id] = i + 1 >= hosts.length ? 0 : i + 1
    return hosts[i]
  }
}
