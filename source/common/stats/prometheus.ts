import type { CompiledMatcher } from '../../envoy/common/regex.js'
import { DEFAULT_BUCKETS } from './histogram-impl.js'
import type { StatsSnapshot } from './stats-root.js'
import type { Tag, TagExtractor } from './tag-extractor.js'

/** `cluster.upstream_rq_total` → `envoy_cluster_upstream_rq_total` (Envoy's sanitizing). */
export function prometheusName(extracted: string): string {
  return `envoy_${extracted.replace(/[^a-zA-Z0-9_]/g, '_')}`
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function labels(tags: readonly Tag[], extra?: string): string {
  const parts = tags.map((t) => `${t.name.replace(/[^a-zA-Z0-9_]/g, '_')}="${escapeLabel(t.value)}"`)
  if (extra !== undefined) parts.push(extra)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

export interface PrometheusOptions {
  usedOnly?: boolean
  /** Keeps only stats whose name the pattern matches anywhere (RE2 partial match). */
  filter?: CompiledMatcher
  /** Bucket bounds per histogram name (`stats_config.histogram_bucket_settings`). */
  bucketsFor?: (name: string) => readonly number[]
}

/**
 * The Prometheus text exposition format 0.0.4: one `# TYPE` line per metric family, then its
 * series with the tags extracted from each stat name as labels.
 */
export function renderPrometheus(snap: StatsSnapshot, tagger: TagExtractor, opts: PrometheusOptions = {}): string {
  const keep = (name: string, used: boolean): boolean =>
    (opts.usedOnly !== true || used) && (opts.filter === undefined || opts.filter.search(name))
  const out: string[] = []
  const family = <S extends { name: string; used: boolean }>(type: string, stats: readonly S[], emit: (metric: string, tags: Tag[], s: S) => void): void => {
    const groups = new Map<string, Array<{ tags: Tag[]; s: S }>>()
    for (const s of stats) {
      if (!keep(s.name, s.used)) continue
      const t = tagger.extract(s.name)
      const metric = prometheusName(t.extracted)
      const list = groups.get(metric) ?? []
      list.push({ tags: t.tags, s })
      groups.set(metric, list)
    }
    for (const metric of [...groups.keys()].sort()) {
      out.push(`# TYPE ${metric} ${type}`)
      for (const { tags, s } of groups.get(metric)!) emit(metric, tags, s)
    }
  }
  family('counter', snap.counters, (metric, tags, s) => {
    out.push(`${metric}${labels(tags)} ${formatValue(s.value)}`)
  })
  family('gauge', snap.gauges, (metric, tags, s) => {
    out.push(`${metric}${labels(tags)} ${formatValue(s.value)}`)
  })
  const hists = snap.histograms.map((h) => ({ name: h.name, used: h.cumulativeCount() > 0, h }))
  family('histogram', hists, (metric, tags, s) => {
    const h = s.h
    const bounds = opts.bucketsFor?.(h.name) ?? DEFAULT_BUCKETS
    const counts = h.bucketCounts(bounds)
    bounds.forEach((b, i) => out.push(`${metric}_bucket${labels(tags, `le="${b}"`)} ${counts[i]}`))
    out.push(`${metric}_bucket${labels(tags, 'le="+Inf"')} ${h.cumulativeCount()}`)
    out.push(`${metric}_sum${labels(tags)} ${formatValue(h.cumulativeSumValue())}`)
    out.push(`${metric}_count${labels(tags)} ${h.cumulativeCount()}`)
  })
  return out.length === 0 ? '' : `${out.join('\n')}\n`
}
