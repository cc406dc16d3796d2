import * as hdr from 'hdr-histogram-js'

/** Latency percentiles of a round, in µs (the load generator records µs). */
export interface LatencySummary {
  count: number
  meanUs: number
  p50Us: number
  p90Us: number
  p99Us: number
  p999Us: number
  maxUs: number
}

/** Decodes the load threads' histograms (hdr `encodeIntoCompressedBase64`) and merges them. */
export function mergeHistograms(encoded: readonly string[]): LatencySummary | undefined {
  if (encoded.length === 0) return undefined
  const total = hdr.build({ bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 2, numberOfSignificantValueDigits: 3, useWebAssembly: false })
  for (const e of encoded) {
    const h = hdr.decodeFromCompressedBase64(e, 32, false)
    total.add(h)
    h.destroy()
  }
  const summary: LatencySummary = {
    count: total.totalCount,
    meanUs: total.mean,
    p50Us: total.getValueAtPercentile(50),
    p90Us: total.getValueAtPercentile(90),
    p99Us: total.getValueAtPercentile(99),
    p999Us: total.getValueAtPercentile(99.9),
    maxUs: total.maxValue,
  }
  total.destroy()
  return summary
}

/** The median element by `key` (the lower middle for an even count, so it is a real round). */
export function medianBy<T>(items: readonly T[], key: (t: T) => number): T | undefined {
  if (items.length === 0) return undefined
  const sorted = [...items].sort((a, b) => key(a) - key(b))
  return sorted[Math.floor((sorted.length - 1) / 2)]
}
