// chart.svg: one panel per measured case, one row per target, a bar for its rate (requests/s or
// MB/s) and a bar for its p99 latency (idle-conns: extra RSS and connections served). Plain SVG
// written here, no chart library; opens in any browser.
import { type BenchReport, type CaseReport, idleExtraBytes, type RoundResult } from './report.js'

const W = 960
const LABEL_W = 130
const GAP = 40
const BAR_W = (W - LABEL_W - 20 - GAP) / 2
const ROW_H = 18
const TITLE_H = 34
const PANEL_PAD = 14

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function color(target: string): string {
  if (target === 'envoy-ts') return '#d9480f'
  if (target === 'direct') return '#adb5bd'
  return '#4c6ef5'
}

interface Metric {
  label: string
  value(r: RoundResult): number | undefined
  format(v: number): string
}

function metrics(c: CaseReport): [Metric, Metric | undefined] {
  if (c.kind === 'idle') {
    return [
      { label: 'served connections', value: (r) => r.idle?.served, format: (v) => v.toFixed(0) },
      { label: 'extra RSS, MB (lower is better)', value: (r) => { const x = r.idle === undefined ? undefined : idleExtraBytes(r.idle); return x === undefined ? undefined : x / 1e6 }, format: (v) => v.toFixed(0) },
    ]
  }
  const rate: Metric = c.unit === 'MB/s'
    ? { label: 'MB/s', value: (r) => r.rate / 1e6, format: (v) => v.toFixed(1) }
    : { label: 'requests/s', value: (r) => r.rate, format: (v) => Math.round(v).toLocaleString('en-US') }
  const p99: Metric | undefined = c.latency
    ? { label: 'p99 latency, ms (lower is better)', value: (r) => (r.latency === undefined ? undefined : r.latency.p99Us / 1000), format: (v) => v.toFixed(2) }
    : undefined
  return [rate, p99]
}

function panel(c: CaseReport, y0: number): { svg: string[]; height: number } {
  const rows = c.results.filter((r) => r.median !== undefined)
  const [m1, m2] = metrics(c)
  const out: string[] = [`<text x="10" y="${y0 + 16}" font-weight="bold">${esc(c.title)}</text>`]
  const heads: Array<[Metric | undefined, number]> = [[m1, LABEL_W], [m2, LABEL_W + BAR_W + GAP]]
  for (const [m, x] of heads) if (m !== undefined) out.push(`<text x="${x}" y="${y0 + 30}" fill="#495057" font-size="11">${esc(m.label)}</text>`)
  heads.forEach(([m, x]) => {
    if (m === undefined) return
    const max = Math.max(1e-9, ...rows.map((r) => m.value(r.median!) ?? 0))
    rows.forEach((r, i) => {
      const v = m.value(r.median!)
      const y = y0 + TITLE_H + i * ROW_H
      if (v === undefined) return
      const w = Math.max(1, (v / max) * (BAR_W - 70))
      out.push(
        `<rect x="${x}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW_H - 6}" fill="${color(r.target)}"/>`,
        `<text x="${(x + w + 4).toFixed(1)}" y="${y + ROW_H - 5}" font-size="11">${esc(m.format(v))}</text>`,
      )
    })
  })
  rows.forEach((r, i) => {
    const y = y0 + TITLE_H + i * ROW_H
    out.push(`<text x="${LABEL_W - 8}" y="${y + ROW_H - 5}" text-anchor="end" font-size="12">${esc(r.target)}</text>`)
  })
  const skipped = c.results.filter((r) => r.median === undefined).map((r) => r.target)
  let h = TITLE_H + rows.length * ROW_H
  if (skipped.length > 0) {
    out.push(`<text x="${LABEL_W}" y="${y0 + h + 12}" fill="#868e96" font-size="11">skipped: ${esc(skipped.join(', '))}</text>`)
    h += 16
  }
  return { svg: out, height: h + PANEL_PAD }
}

/** The whole chart for a report. */
export function chartSvg(r: BenchReport): string {
  const m = r.machine
  const body: string[] = []
  let y = 58
  for (const c of r.cases) {
    const p = panel(c, y)
    body.push(...p.svg)
    y += p.height
  }
  const head = [
    `<text x="10" y="20" font-size="15" font-weight="bold">envoy-ts bench, ${esc(r.startedAt)}</text>`,
    `<text x="10" y="38" font-size="11" fill="#495057">${esc(`node ${m.node}, ${m.cpuModel}, ${m.cores} cores; git ${m.gitCommit ?? 'unknown'}${m.gitDirty === true ? ' (dirty)' : ''}; ${r.pin.note}`)}</text>`,
    `<text x="10" y="52" font-size="11" fill="#495057">${esc(`--concurrency ${r.options.concurrency}, ${r.options.connections} connections, load: ${r.options.load}`)}</text>`,
  ]
  const height = y + 10
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${height}" fill="#ffffff"/>`,
    ...head,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}
