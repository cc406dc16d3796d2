import * as hdr from 'hdr-histogram-js'
import type { Histogram, HistogramUnit } from '../../envoy/stats/stats.js'

/**
 * Samples are kept as integers in thousandths of the stat's unit, so sub-millisecond latencies
 * keep three decimals while the output stays in Envoy's units.
 */
const SCALE = 1000

/** Envoy's default Prometheus bucket bounds, in the histogram's unit. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000,
]

/** The quantiles `/stats` prints, Envoy's set. */
export const SUPPORTED_QUANTILES: readonly number[] = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1]

/** One thread's samples for one histogram since its last drain, as `[value, count, ...]`. */
export interface HistogramSample {
  name: string
  unit: HistogramUnit
  pairs: number[]
  sum: number
  /** Exact extremes (the buckets keep three significant digits). */
  min: number
  max: number
}

function newHdr(bits: 32 | 64): hdr.JsHistogram {
  return hdr.build({
    bitBucketSize: bits,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  }) as unknown as hdr.JsHistogram
}

/** A histogram owned by one thread: it only records, and hands its samples to main on drain. */
export class ThreadHistogram implements Histogram {
  readonly name: string
  readonly unit: HistogramUnit
  private readonly hdr = newHdr(32)
  private sum = 0
  private min = Infinity
  private max = -Infinity
  private everUsed = false

  constructor(name: string, unit: HistogramUnit) {
    this.name = name
    this.unit = unit
  }

  recordValue(value: number): void {
    const scaled = Math.round(value * SCALE)
    this.hdr.recordValue(scaled < 0 ? 0 : scaled)
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
    this.everUsed = true
  }

  used(): boolean {
    return this.everUsed
  }

  /** Takes the samples recorded since the last drain, or undefined when there are none. */
  drain(): HistogramSample | undefined {
    if (this.hdr.totalCount === 0) return undefined
    const pairs: number[] = []
    const h = this.hdr
    for (let i = 0; i < h.countsArrayLength; i++) {
      const c = h.getCountAtIndex(i)
      if (c > 0) pairs.push(h.valueFromIndex(i), c)
    }
    const sample = { name: this.name, unit: this.unit, pairs, sum: this.sum, min: this.min, max: this.max }
    h.reset()
    this.sum = 0
    this.min = Infinity
    this.max = -Infinity
    return sample
  }
}

/** Main's view of a histogram: samples merged from every thread. */
export class MergedHistogram {
  readonly name: string
  readonly unit: HistogramUnit
  private readonly cumulative = newHdr(64)
  private cumulativeSum = 0
  private cumulativeRange = { min: Infinity, max: -Infinity }
  /** Samples since the last flush; becomes `interval` at the next flush. */
  private pending = newHdr(64)
  private pendingSum = 0
  private pendingRange = { min: Infinity, max: -Infinity }
  private interval = newHdr(64)
  private intervalSum = 0
  private intervalRange = { min: Infinity, max: -Infinity }

  constructor(name: string, unit: HistogramUnit) {
    this.name = name
    this.unit = unit
  }

  merge(sample: HistogramSample): void {
    for (let i = 0; i < sample.pairs.length; i += 2) {
      this.cumulative.recordValueWithCount(sample.pairs[i]!, sample.pairs[i + 1]!)
      this.pending.recordValueWithCount(sample.pairs[i]!, sample.pairs[i + 1]!)
    }
    this.cumulativeSum += sample.sum
    this.pendingSum += sample.sum
    for (const r of [this.cumulativeRange, this.pendingRange]) {
      r.min = Math.min(r.min, sample.min)
      r.max = Math.max(r.max, sample.max)
    }
  }

  /** Closes the current interval (at every stats flush). */
  flushInterval(): void {
    const done = this.pending
    this.pending = this.interval
    this.pending.reset()
    this.interval = done
    this.intervalSum = this.pendingSum
    this.pendingSum = 0
    this.intervalRange = this.pendingRange
    this.pendingRange = { min: Infinity, max: -Infinity }
  }

  cumulativeCount(): number {
    return this.cumulative.totalCount
  }

  cumulativeSumValue(): number {
    return this.cumulativeSum
  }

  intervalCount(): number {
    return this.interval.totalCount
  }

  intervalSumValue(): number {
    return this.intervalSum
  }

  /** Quantile `q` (0..1) of the cumulative or interval data, NaN when empty. */
  quantile(q: number, which: 'cumulative' | 'interval'): number {
    const h = which === 'cumulative' ? this.cumulative : this.interval
    if (h.totalCount === 0) return Number.NaN
    const range = which === 'cumulative' ? this.cumulativeRange : this.intervalRange
    if (q >= 1) return range.max
    if (q <= 0) return range.min
    return Math.min(range.max, Math.max(range.min, h.getValueAtPercentile(q * 100) / SCALE))
  }

  /** Count of cumulative samples at or below each bound (Prometheus `le` buckets). */
  bucketCounts(bounds: readonly number[], which: 'cumulative' | 'interval' = 'cumulative'): number[] {
    const h = which === 'cumulative' ? this.cumulative : this.interval
    const out = new Array<number>(bounds.length).fill(0)
    for (let i = 0; i < h.countsArrayLength; i++) {
      const c = h.getCountAtIndex(i)
      if (c === 0) continue
      const v = h.valueFromIndex(i) / SCALE
      for (let b = 0; b < bounds.length; b++) if (v <= bounds[b]!) out[b]! += c
    }
    return out
  }
}
