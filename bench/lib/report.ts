import type { LatencySummary } from './latency.js'
import type { MachineInfo } from './machine.js'
import type { BenchOptions } from './options.js'
import type { PinPlan } from './pin.js'
import type { CpuUse } from './proc-stat.js'

/** One measured (or warm-up) round of one target in one case. */
export interface RoundResult {
  round: number
  /** Requests (rq/s cases) or bytes (MB/s cases) inside the window. */
  ops: number
  /** ops per second. */
  rate: number
  windowMs: number
  connected: number
  latency?: LatencySummary
  errors: Record<string, number>
  errorCount: number
  /** The proxy process (absent for `direct`). */
  proxy?: CpuUse
  upstream?: CpuUse
  /** This process: the load threads (plus an idle main thread). */
  load?: CpuUse
}

export interface TargetCaseResult {
  target: string
  kind: 'baseline' | 'proxy'
  rounds: RoundResult[]
  /** The round with the median rate; its latency and CPU are the ones reported. */
  median?: RoundResult
  /** (max − min) / median of the round rates, %. */
  spreadPct?: number
  /** median rate / direct's median rate. */
  vsDirect?: number
  /** median rate / envoy-ts's median rate. */
  vsEnvoyTs?: number
  skipped?: string
}

export interface CaseReport {
  scenario: string
  case: string
  title: string
  unit: 'rq/s' | 'MB/s'
  latency: boolean
  mode: 'timed' | 'fixed'
  /** Planned window per round (timed mode). */
  roundMs: number
  results: TargetCaseResult[]
}

export interface BenchReport {
  version: 1
  startedAt: string
  finishedAt: string
  elapsedMs: number
  /** The limit announced at the start; the run is cut off there. */
  announcedLimitMs: number
  expectedMs: number
  machine: MachineInfo
  options: BenchOptions
  loadThreads: number
  pin: PinPlan
  processes: Array<{ role: string; name: string; pid: number; command: string }>
  skipped: Array<{ target: string; reason: string }>
  cases: CaseReport[]
  /** One line per case comparing envoy-ts with node-net-pipe against the 5% target. */
  verdicts: string[]
  profiles: string[]
  outDir?: string
}

/** envoy-ts should be within this fraction of the plain pipe (the tcp_proxy issue's target). */
export const TARGET_RATIO = 0.95

// ---- formatting ----

const fmtInt = (n: number): string => Math.round(n).toString()
const fmtRate = (c: CaseReport, rate: number): string => (c.unit === 'MB/s' ? (rate / 1e6).toFixed(1) : fmtInt(rate))
const fmtMs = (us: number | undefined): string => (us === undefined ? '-' : (us / 1000).toFixed(3))
const fmtRatio = (r: number | undefined): string => (r === undefined ? '-' : r.toFixed(2))
const fmtPct = (c: CpuUse | undefined): string => (c === undefined ? '-' : `${Math.round(c.cpuPct)}`)

/** Proxy CPU per unit of work: µs per request, or seconds per GB. */
function cost(c: CaseReport, r: RoundResult): string {
  if (r.proxy === undefined || r.ops === 0) return '-'
  if (c.unit === 'MB/s') return (r.proxy.cpuSeconds / (r.ops / 1e9)).toFixed(2)
  return ((r.proxy.cpuSeconds * 1e6) / r.ops).toFixed(1)
}

interface Column {
  head: string
  /** Right-align (numbers). */
  right: boolean
  cell(c: CaseReport, t: TargetCaseResult, r: RoundResult): string
}

function columns(c: CaseReport): Column[] {
  const cols: Column[] = [{ head: 'target', right: false, cell: (_c, t) => t.target }]
  cols.push({ head: c.unit, right: true, cell: (cc, _t, r) => fmtRate(cc, r.rate) })
  if (c.latency) {
    cols.push(
      { head: 'p50 ms', right: true, cell: (_c, _t, r) => fmtMs(r.latency?.p50Us) },
      { head: 'p90 ms', right: true, cell: (_c, _t, r) => fmtMs(r.latency?.p90Us) },
      { head: 'p99 ms', right: true, cell: (_c, _t, r) => fmtMs(r.latency?.p99Us) },
      { head: 'p99.9 ms', right: true, cell: (_c, _t, r) => fmtMs(r.latency?.p999Us) },
    )
  }
  cols.push(
    { head: 'errors', right: true, cell: (_c, _t, r) => String(r.errorCount) },
    { head: 'vs direct', right: true, cell: (_c, t) => fmtRatio(t.vsDirect) },
    { head: 'vs envoy-ts', right: true, cell: (_c, t) => fmtRatio(t.vsEnvoyTs) },
    { head: 'proxy cpu%', right: true, cell: (_c, _t, r) => fmtPct(r.proxy) },
    { head: c.unit === 'MB/s' ? 'cpu s/GB' : 'cpu µs/rq', right: true, cell: (cc, _t, r) => cost(cc, r) },
    { head: 'rss MB', right: true, cell: (_c, _t, r) => (r.proxy === undefined ? '-' : fmtInt(r.proxy.rssBytes / 1e6)) },
    { head: 'upstr cpu%', right: true, cell: (_c, _t, r) => fmtPct(r.upstream) },
    { head: 'load cpu%', right: true, cell: (_c, _t, r) => fmtPct(r.load) },
    { head: 'spread', right: true, cell: (_c, t) => (t.spreadPct === undefined ? '-' : `${t.spreadPct.toFixed(1)}%`) },
  )
  return cols
}

function caseHeading(c: CaseReport): string {
  const how = c.mode === 'fixed' ? 'fixed request count' : `median of ${c.results[0]?.rounds.length ?? 0} rounds × ${(c.roundMs / 1000).toFixed(2)} s`
  return `${c.title} — ${c.unit}, ${how}`
}

function rows(c: CaseReport): { cols: Column[]; body: Array<string[] | string> } {
  const cols = columns(c)
  const body: Array<string[] | string> = []
  for (const t of c.results) {
    if (t.skipped !== undefined || t.median === undefined) {
      body.push(`${t.target}: skipped — ${t.skipped ?? 'no measured round'}`)
      continue
    }
    body.push(cols.map((col) => col.cell(c, t, t.median!)))
  }
  return { cols, body }
}

/** A plain-text table for the terminal. */
export function textTable(c: CaseReport): string {
  const { cols, body } = rows(c)
  const widths = cols.map((col, i) => Math.max(col.head.length, ...body.map((r) => (typeof r === 'string' ? 0 : r[i]!.length))))
  const line = (cells: string[]): string => cells.map((s, i) => (cols[i]!.right ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ').trimEnd()
  const out = [caseHeading(c), line(cols.map((col) => col.head)), widths.map((w) => '-'.repeat(w)).join('  ')]
  for (const r of body) out.push(typeof r === 'string' ? r : line(r))
  return out.join('\n')
}

/** The same table in Markdown. */
export function markdownTable(c: CaseReport): string {
  const { cols, body } = rows(c)
  const out = [`### ${caseHeading(c)}`, '', `| ${cols.map((col) => col.head).join(' | ')} |`, `|${cols.map((col) => (col.right ? '---:' : ':---')).join('|')}|`]
  for (const r of body) out.push(typeof r === 'string' ? `| ${r} |${' |'.repeat(cols.length - 1)}` : `| ${r.join(' | ')} |`)
  return out.join('\n')
}

/** Header lines: machine, settings, plan. */
export function headerLines(r: Pick<BenchReport, 'machine' | 'options' | 'loadThreads' | 'pin'>): string[] {
  const m = r.machine
  const o = r.options
  return [
    `node ${m.node} (V8 ${m.v8}), ${m.platform}, kernel ${m.kernel}`,
    `cpu: ${m.cpuModel}; ${m.cores} cores available (${m.onlineCpus} online); ${(m.memTotalBytes / 2 ** 30).toFixed(1)} GiB`,
    `git: ${m.gitCommit === undefined ? 'unknown' : `${m.gitCommit}${m.gitDirty === true ? ' (dirty)' : ''}`}`,
    `load: ${r.loadThreads} load thread(s), ${o.connections} connections; proxy workers: envoy-ts --concurrency ${o.concurrency}, node-net-pipe 1` +
      (o.bufferLimit !== undefined ? `; per_connection_buffer_limit_bytes ${o.bufferLimit}` : '') +
      (o.envoyTsNodeFlags.length > 0 ? `; envoy-ts node flags: ${o.envoyTsNodeFlags.join(' ')}` : ''),
    `pin: ${r.pin.note}`,
  ]
}

function errorsDetail(c: CaseReport): string[] {
  const out: string[] = []
  for (const t of c.results) {
    const kinds: Record<string, number> = {}
    for (const r of t.rounds) for (const [k, v] of Object.entries(r.errors)) kinds[k] = (kinds[k] ?? 0) + v
    const parts = Object.entries(kinds).map(([k, v]) => `${k} ${v}`)
    if (parts.length > 0) out.push(`  ${t.target} errors over all rounds: ${parts.join(', ')}`)
  }
  return out
}

/** Everything after the header, for the terminal. */
export function textReport(r: BenchReport): string {
  const out: string[] = []
  for (const c of r.cases) {
    out.push('', textTable(c), ...errorsDetail(c))
  }
  if (r.skipped.length > 0) out.push('', ...r.skipped.map((s) => `skipped ${s.target}: ${s.reason}`))
  if (r.verdicts.length > 0) out.push('', ...r.verdicts)
  return out.join('\n')
}

export function markdownReport(r: BenchReport): string {
  const out: string[] = [`## envoy-ts bench, ${r.startedAt}`, '', ...headerLines(r).map((l) => `- ${l}`)]
  out.push(`- command: \`npm run bench -- ${commandLine(r.options)}\``, `- run time: ${(r.elapsedMs / 1000).toFixed(1)} s`)
  for (const c of r.cases) {
    out.push('', markdownTable(c))
    const e = errorsDetail(c)
    if (e.length > 0) out.push('', ...e.map((l) => `- ${l.trim()}`))
  }
  if (r.skipped.length > 0) out.push('', ...r.skipped.map((s) => `- skipped ${s.target}: ${s.reason}`))
  if (r.verdicts.length > 0) out.push('', ...r.verdicts.map((v) => `- ${v}`))
  out.push('', 'Columns: see bench/README.md. Rates are the median round; latency and CPU are from that round.', '')
  return out.join('\n')
}

/** The options as a command line (for the record). */
export function commandLine(o: BenchOptions): string {
  const parts = [
    `--scenario ${o.scenarios.join(',')}`,
    `--targets ${o.targets.join(',')}`,
    `--duration ${o.durationMs}ms`,
    `--rounds ${o.rounds}`,
    `--warmup ${o.warmupMs}ms`,
    `--connections ${o.connections}`,
    `--concurrency ${o.concurrency}`,
    `--load-threads ${o.loadThreads}`,
  ]
  if (o.requestsPerConnection !== undefined) parts.push(`--requests ${o.requestsPerConnection}`)
  if (o.bufferLimit !== undefined) parts.push(`--buffer-limit ${o.bufferLimit}`)
  if (o.envoyTsNodeFlags.length > 0) parts.push(`--envoy-ts-node-flags "${o.envoyTsNodeFlags.join(' ')}"`)
  if (o.pin) parts.push('--pin')
  if (o.profile) parts.push('--profile')
  return parts.join(' ')
}
