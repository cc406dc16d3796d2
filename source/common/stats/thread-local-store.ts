import type {
  Counter, Gauge, GaugeImportMode, Histogram, HistogramUnit, Scope, Store,
} from '../../envoy/stats/stats.js'
import { type HistogramSample, ThreadHistogram } from './histogram-impl.js'
import { StatKind, type StatMemory } from './stat-memory.js'

class SharedCounter implements Counter {
  readonly name: string
  private readonly memory: StatMemory
  private readonly values: Float64Array
  private readonly slot: number
  private readonly index: number
  private marked = false

  constructor(name: string, memory: StatMemory, slot: number, shard: number) {
    this.name = name
    this.memory = memory
    this.values = memory.values
    this.slot = slot
    this.index = shard * memory.stride + slot
  }

  inc(): void {
    this.values[this.index]! += 1
    if (!this.marked) this.mark()
  }

  add(amount: number): void {
    this.values[this.index]! += amount
    if (!this.marked) this.mark()
  }

  value(): number {
    return this.memory.read(this.slot)
  }

  used(): boolean {
    return this.marked || this.memory.usedFlags[this.slot] === 1
  }

  private mark(): void {
    this.marked = true
    this.memory.usedFlags[this.slot] = 1
  }
}

class SharedGauge implements Gauge {
  readonly name: string
  readonly importMode: GaugeImportMode
  private readonly memory: StatMemory
  private readonly values: Float64Array
  private readonly slot: number
  private readonly index: number
  private marked = false

  constructor(name: string, importMode: GaugeImportMode, memory: StatMemory, slot: number, shard: number) {
    this.name = name
    this.importMode = importMode
    this.memory = memory
    this.values = memory.values
    this.slot = slot
    this.index = shard * memory.stride + slot
  }

  inc(): void {
    this.add(1)
  }

  dec(): void {
    this.add(-1)
  }

  add(amount: number): void {
    this.values[this.index]! += amount
    if (!this.marked) this.mark()
  }

  sub(amount: number): void {
    this.add(-amount)
  }

  set(value: number): void {
    this.values[this.index] = value
    if (!this.marked) this.mark()
  }

  value(): number {
    return this.memory.read(this.slot)
  }

  used(): boolean {
    return this.marked || this.memory.usedFlags[this.slot] === 1
  }

  private mark(): void {
    this.marked = true
    this.memory.usedFlags[this.slot] = 1
  }
}

/** A stat rejected by `stats_config.stats_matcher`: it works locally and is never listed. */
class NullStat implements Counter, Gauge {
  readonly name: string
  readonly importMode: GaugeImportMode = 'Accumulate'
  private v = 0

  constructor(name: string) {
    this.name = name
  }

  inc(): void { this.v++ }
  dec(): void { this.v-- }
  add(amount: number): void { this.v += amount }
  sub(amount: number): void { this.v -= amount }
  set(value: number): void { this.v = value }
  value(): number { return this.v }
  used(): boolean { return false }
}

class NullHistogram implements Histogram {
  readonly name: string
  readonly unit: HistogramUnit

  constructor(name: string, unit: HistogramUnit) {
    this.name = name
    this.unit = unit
  }

  recordValue(): void {}
  used(): boolean { return false }
}

/** Decides whether a stat name is kept (`stats_config.stats_matcher`). */
export type StatNameFilter = (name: string) => boolean

class ScopeImpl implements Scope {
  readonly prefix: string
  private readonly store: ThreadLocalStoreImpl

  constructor(store: ThreadLocalStoreImpl, prefix: string) {
    this.store = store
    this.prefix = prefix
  }

  counter(name: string): Counter {
    return this.store.counterFromName(this.prefix + name)
  }

  gauge(name: string, importMode: GaugeImportMode = 'Accumulate'): Gauge {
    return this.store.gaugeFromName(this.prefix + name, importMode)
  }

  histogram(name: string, unit: HistogramUnit): Histogram {
    return this.store.histogramFromName(this.prefix + name, unit)
  }

  createScope(name: string): Scope {
    return new ScopeImpl(this.store, `${this.prefix}${name}.`)
  }
}

/**
 * One thread's store. Stats are cached by full name, so asking twice returns the same object;
 * the first ask of a name by any thread allocates its shared slot.
 */
export class ThreadLocalStoreImpl implements Store {
  readonly shard: number
  readonly prefix = ''
  readonly memory: StatMemory
  private readonly filter: StatNameFilter
  private readonly counters = new Map<string, Counter>()
  private readonly gauges = new Map<string, Gauge>()
  private readonly histograms = new Map<string, Histogram>()
  private readonly root: ScopeImpl

  constructor(memory: StatMemory, shard: number, filter: StatNameFilter = () => true) {
    this.memory = memory
    this.shard = shard
    this.filter = filter
    this.root = new ScopeImpl(this, '')
  }

  counter(name: string): Counter {
    return this.counterFromName(name)
  }

  gauge(name: string, importMode: GaugeImportMode = 'Accumulate'): Gauge {
    return this.gaugeFromName(name, importMode)
  }

  histogram(name: string, unit: HistogramUnit): Histogram {
    return this.histogramFromName(name, unit)
  }

  createScope(name: string): Scope {
    return this.root.createScope(name)
  }

  counterFromName(name: string): Counter {
    let c = this.counters.get(name)
    if (c === undefined) {
      c = this.filter(name)
        ? new SharedCounter(name, this.memory, this.memory.slotFor(name, StatKind.Counter), this.shard)
        : new NullStat(name)
      this.counters.set(name, c)
    }
    return c
  }

  gaugeFromName(name: string, importMode: GaugeImportMode): Gauge {
    let g = this.gauges.get(name)
    if (g === undefined) {
      const kind = importMode === 'Accumulate' ? StatKind.GaugeAccumulate : StatKind.GaugeNeverImport
      g = this.filter(name)
        ? new SharedGauge(name, importMode, this.memory, this.memory.slotFor(name, kind), this.shard)
        : new NullStat(name)
      this.gauges.set(name, g)
    }
    return g
  }

  histogramFromName(name: string, unit: HistogramUnit): Histogram {
    let h = this.histograms.get(name)
    if (h === undefined) {
      h = this.filter(name) ? new ThreadHistogram(name, unit) : new NullHistogram(name, unit)
      this.histograms.set(name, h)
    }
    return h
  }

  /** Samples recorded on this thread since the last call (sent to main on request). */
  drainHistograms(): HistogramSample[] {
    const out: HistogramSample[] = []
    for (const h of this.histograms.values()) {
      if (h instanceof ThreadHistogram) {
        const s = h.drain()
        if (s !== undefined) out.push(s)
      }
    }
    return out
  }

  /** Names of histograms this thread has created, used or not (so admin can list them). */
  histogramNames(): Array<{ name: string; unit: HistogramUnit }> {
    const out: Array<{ name: string; unit: HistogramUnit }> = []
    for (const h of this.histograms.values()) if (h instanceof ThreadHistogram) out.push({ name: h.name, unit: h.unit })
    return out
  }
}
