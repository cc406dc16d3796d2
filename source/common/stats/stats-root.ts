import type { HistogramUnit } from '../../envoy/stats/stats.js'
import type { HistogramCollection } from '../../envoy/server/worker.js'
import { MergedHistogram } from './histogram-impl.js'
import { StatKind, type StatMemory } from './stat-memory.js'
import type { ThreadLocalStoreImpl } from './thread-local-store.js'

export interface CounterSnapshot {
  name: string
  value: number
  used: boolean
}

export interface GaugeSnapshot {
  name: string
  value: number
  used: boolean
}

export interface StatsSnapshot {
  counters: CounterSnapshot[]
  gauges: GaugeSnapshot[]
  histograms: MergedHistogram[]
}

/** Collects histogram samples from every other thread. */
export type HistogramCollector = () => Promise<HistogramCollection[]>

/**
 * Main's view of all stats: counters and gauges read straight from shared memory, histograms
 * merged from every thread on each flush and before each admin read. Main thread only.
 */
export class StatsRoot {
  readonly memory: StatMemory
  readonly store: ThreadLocalStoreImpl
  private readonly collector: HistogramCollector
  private readonly histograms = new Map<string, MergedHistogram>()

  constructor(memory: StatMemory, store: ThreadLocalStoreImpl, collector: HistogramCollector) {
    this.memory = memory
    this.store = store
    this.collector = collector
  }

  /** Pulls samples from every thread into the merged histograms. */
  async mergeHistograms(): Promise<void> {
    const collections = [{ samples: this.store.drainHistograms(), names: this.store.histogramNames() }]
    collections.push(...await this.collector())
    for (const c of collections) {
      for (const n of c.names) this.histogram(n.name, n.unit)
      for (const s of c.samples) this.histogram(s.name, s.unit).merge(s)
    }
  }

  /** A stats flush (every `stats_flush_interval`): merge, then close the interval. */
  async flush(): Promise<void> {
    await this.mergeHistograms()
    for (const h of this.histograms.values()) h.flushInterval()
  }

  /** Everything, sorted by name. Call `mergeHistograms()` first for fresh histograms. */
  snapshot(): StatsSnapshot {
    const counters: CounterSnapshot[] = []
    const gauges: GaugeSnapshot[] = []
    const m = this.memory
    const n = m.count()
    for (let slot = 0; slot < n; slot++) {
      const entry = { name: m.nameOf(slot), value: m.read(slot), used: m.usedFlags[slot] === 1 }
      if (m.kindOf(slot) === StatKind.Counter) counters.push(entry)
      else gauges.push(entry)
    }
    const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    counters.sort(byName)
    gauges.sort(byName)
    const histograms = [...this.histograms.values()].sort(byName)
    return { counters, gauges, histograms }
  }

  /** `/reset_counters`: counters read zero from now on. Gauges and histograms are kept (Envoy). */
  resetCounters(): void {
    this.memory.resetCounters()
  }

  private histogram(name: string, unit: HistogramUnit): MergedHistogram {
    let h = this.histograms.get(name)
    if (h === undefined) {
      h = new MergedHistogram(name, unit)
      this.histograms.set(name, h)
    }
    return h
  }
}
