import type { CompiledMatcher } from '../../../envoy/common/regex.js'
import type { Instance } from '../../../envoy/server/instance.js'
import { compileRe2 } from '../../../common/common/regex.js'
import { renderPrometheus } from '../../../common/stats/prometheus.js'
import { type MergedHistogram, SUPPORTED_QUANTILES } from '../../../common/stats/histogram-impl.js'
import type { StatsSnapshot } from '../../../common/stats/stats-root.js'
import { type AdminEndpoint, type AdminRequest, type AdminResponse, badRequest, json, ok } from '../admin-endpoint.js'
import { bucketsResolver } from '../../../common/stats/histogram-buckets.js'

interface Query {
  usedOnly: boolean
  filter: CompiledMatcher | undefined
}

function parseQuery(req: AdminRequest): Query | AdminResponse {
  const usedOnly = req.query.has('usedonly')
  const f = req.query.get('filter')
  if (f === null || f === '') return { usedOnly, filter: undefined }
  // RE2, as Envoy: linear in the stat name whatever the client sends, so a crafted filter
  // cannot stall main. A pattern RE2 rejects is a 400, as in Envoy ("Invalid re2 regex").
  try {
    return { usedOnly, filter: compileRe2(f) }
  } catch (err) {
    return badRequest(`Invalid re2 regex: ${(err as Error).message}`)
  }
}

function quantileValue(v: number): string {
  if (Number.isNaN(v)) return 'nan'
  return String(Number(v.toPrecision(6)))
}

function histogramLine(h: MergedHistogram): string {
  if (h.cumulativeCount() === 0) return `${h.name}: No recorded values`
  const parts = SUPPORTED_QUANTILES.map((q) => {
    const label = `P${Number((q * 100).toFixed(1))}`
    return `${label}(${quantileValue(h.quantile(q, 'interval'))},${quantileValue(h.quantile(q, 'cumulative'))})`
  })
  return `${h.name}: ${parts.join(' ')}`
}

function keep(q: Query, name: string, used: boolean): boolean {
  return (!q.usedOnly || used) && (q.filter === undefined || q.filter.search(name))
}

function textStats(snap: StatsSnapshot, q: Query): string {
  const scalars = [...snap.counters, ...snap.gauges].filter((s) => keep(q, s.name, s.used))
  scalars.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const lines = scalars.map((s) => `${s.name}: ${s.value}`)
  for (const h of snap.histograms) if (keep(q, h.name, h.cumulativeCount() > 0)) lines.push(histogramLine(h))
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}

function jsonStats(snap: StatsSnapshot, q: Query): unknown {
  const stats: unknown[] = []
  const scalars = [...snap.counters, ...snap.gauges].filter((s) => keep(q, s.name, s.used))
  scalars.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const s of scalars) stats.push({ name: s.name, value: s.value })
  const hists = snap.histograms.filter((h) => keep(q, h.name, h.cumulativeCount() > 0))
  if (hists.length > 0) {
    const num = (v: number): number | null => (Number.isNaN(v) ? null : Number(v.toPrecision(6)))
    stats.push({
      histograms: {
        supported_quantiles: SUPPORTED_QUANTILES.map((x) => Number((x * 100).toFixed(1))),
        computed_quantiles: hists.map((h) => ({
          name: h.name,
          values: SUPPORTED_QUANTILES.map((x) => ({ interval: num(h.quantile(x, 'interval')), cumulative: num(h.quantile(x, 'cumulative')) })),
        })),
      },
    })
  }
  return { stats }
}

async function snapshot(server: Instance): Promise<StatsSnapshot> {
  await server.stats.mergeHistograms()
  return server.stats.snapshot()
}

export function statsEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/stats',
      help: 'Print server stats',
      mutatesState: false,
      params: [
        { name: 'usedonly', help: 'Only list stats that have been written' },
        { name: 'filter', help: 'RE2 regular expression the stat name must match (anywhere in the name)' },
        { name: 'format', help: 'json, prometheus or text (default)' },
      ],
      async handler(req, server) {
        const q = parseQuery(req)
        if ('status' in q) return q
        const format = req.query.get('format') ?? 'text'
        const snap = await snapshot(server)
        if (format === 'json') return json(jsonStats(snap, q))
        if (format === 'prometheus') return prometheus(server, snap, q)
        if (format !== 'text') return badRequest(`unknown format "${format}" (json, prometheus or text)`)
        return { status: 200, body: textStats(snap, q) }
      },
    },
    {
      path: '/stats/prometheus',
      help: 'Print server stats in prometheus format',
      mutatesState: false,
      params: [
        { name: 'usedonly', help: 'Only list stats that have been written' },
        { name: 'filter', help: 'RE2 regular expression the stat name must match (anywhere in the name)' },
      ],
      async handler(req, server) {
        const q = parseQuery(req)
        if ('status' in q) return q
        return prometheus(server, await snapshot(server), q)
      },
    },
    {
      path: '/reset_counters',
      help: 'Reset all counters to zero',
      mutatesState: true,
      handler(_req, server) {
        server.stats.resetCounters()
        return ok()
      },
    },
  ]
}

function prometheus(server: Instance, snap: StatsSnapshot, q: Query): AdminResponse {
  return {
    status: 200,
    contentType: 'text/plain; version=0.0.4; charset=UTF-8',
    body: renderPrometheus(snap, server.tagExtractor, {
      usedOnly: q.usedOnly,
      filter: q.filter,
      bucketsFor: bucketsResolver(server.bootstrap.stats_config),
    }),
  }
}
