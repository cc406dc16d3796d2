import type { LatencySummary } from './latency.js'
import type { MachineInfo } from './machine.js'
import type { BenchOptions } from './options.js'
import type { PinPlan } from './pin.js'
import type { CpuUse } from './proc-stat.js'

/** idle-conns: what one target did with the held connections. */
export interface IdleResult {
  /** Connections asked for. */
  attempted: number
  opened: number
  /** Answered 200 with the whole body in the serve phase. */
  served: number
  /** Still open when the bench closed them (none closed by the target while idle or after). */
  stillOpen: number
  openMs: number
  serveMs: number
  /** Proxy RSS (all its processes) before opening, once all were open and idle, after serving. */
  rssBeforeBytes?: number
  rssIdleBytes?: number
  rssServedBytes?: number
}

/** One measured (or warm-up) round of one target in one case. */
export interface RoundResult {
  round: number
  /** Requests (rq/s cases) or bytes (MB/s cases) inside the window. */
  ops: number
  /** ops per second. */
  rate: number
  /** Bytes the client read and wrote per second (HTTP cases; heads included). */
  bytesRate: number
  windowMs: number
  connected: number
  /** Who generated the load: the bench's own generator or wrk. */
  loadGen: 'own' | 'wrk'
  latency?: LatencySummary
  errors: Record<string, number>
  errorCount: number
  /** The proxy process group (absent for `direct`). */
  proxy?: CpuUse
  upstream?: CpuUse
  /** This process (the load threads), or wrk with --load wrk. */
  load?: CpuUse
  idle?: IdleResult
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
  kind: 'rate' | 'idle'
  unit: 'rq/s' | 'MB/s'
  showBytes: boolean
  latency: boolean
  mode: 'timed' | 'fixed'
  /** Planned window per round (timed mode). */
  roundMs: number
  results: TargetCaseResult[]
  /** Targets of the run that cannot front this case's protocol. */
  notApplicable: string[]
}

export interface BenchReport {
  version: 2
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
  /** Limits targets hit in this run, and the like (see RunningTarget.notes). */
  notes: string[]
  cases: CaseReport[]
  /** The issue's targets for envoy-ts, one line each, with MET / MISSED. */
  targetLines: string[]
  /** Runtime API figures (no target to meet, but the numbers are asked for). */
  figureLines: string[]
  profiles: string[]
  /** Top self-time functions of envoy-ts's profiles (with --profile). */
  profileSummaries: Array<{ file: string; text: string }>
  /** Set when the run was cut off at its limit (or interrupted): the cases after it are missing. */
  truncated?: string
  outDir?: string
}

// ---- the issue's targets ----

export const TARGETS = {
  /** http-small: envoy-ts ≥ 2× the plain Node http + undici proxy. */
  vsNodeUndici: 2,
  /** http-small: envoy-ts ≥ 0.5× nginx with one worker. */
  vsNginx: 0.5,
  /** tcp_proxy within 5% of a plain Node net pipe. */
  vsNetPipe: 0.95,
  /** p99 under 2× nginx's. */
  p99VsNginx: 2,
  /** 10,000 idle connections under 150 MB of extra RSS. */
  idleExtraBytes: 150e6,
} as const

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US')
const fmtRate = (c: CaseReport, rate: number): string => (c.unit === 'MB/s' ? (rate / 1e6).toFixed(1) : Math.round(rate).toString())
const fmtMs = (us: number | undefined): string => (us === undefined ? '-' : (us / 1000).toFixed(3))
const fmtRatio = (r: number | undefined): string => (r === undefined ? '-' : r.toFixed(2))
const fmtPct = (c: CpuUse | undefined): string => (c === undefined ? '-' : `${Math.round(c.cpuPct)}`)
const fmtMB = (b: number | undefined): string => (b === undefined ? '-' : (b / 1e6).toFixed(0))

/** Proxy CPU per unit of work: µs per request, or seconds per GB. */
function cost(c: CaseReport, r: RoundResult): string {
  if (r.proxy === undefined || r.ops === 0) return '-'
  if (c.unit === 'MB/s') return (r.proxy.cpuSeconds / (r.ops / 1e9)).toFixed(2)
  return ((r.proxy.cpuSeconds * 1e6) / r.ops).toFixed(1)
}

/** The extra RSS a target needed to hold (and serve) the idle connections. */
export function idleExtraBytes(i: IdleResult): number | undefined {
  if (i.rssBeforeBytes === undefined) return undefined
  const peak = Math.max(i.rssIdleBytes ?? 0, i.rssServedBytes ?? 0)
  return peak - i.rssBeforeBytes
}

interface Column {
  head: string
  /** Right-align (numbers). */
  right: boolean
  cell(c: CaseReport, t: TargetCaseResult, r: RoundResult): string
}

function rateColumns(c: CaseReport): Column[] {
  const cols: Column[] = [{ head: 'target', right: false, cell: (_c, t) => t.target }]
  cols.push({ head: c.unit, right: true, cell: (cc, _t, r) => fmtRate(cc, r.rate) })
  if (c.showBytes) cols.push({ head: 'MB/s', right: true, cell: (_c, _t, r) => (r.bytesRate / 1e6).toFixed(1) })
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
    { head: 'rss MB', right: true, cell: (_c, _t, r) => (r.proxy === undefined ? '-' : fmtMB(r.proxy.rssBytes)) },
    { head: 'upstr cpu%', right: true, cell: (_c, _t, r) => fmtPct(r.upstream) },
    { head: r0(c) === 'wrk' ? 'wrk cpu%' : 'load cpu%', right: true, cell: (_c, _t, r) => fmtPct(r.load) },
    { head: 'spread', right: true, cell: (_c, t) => (t.spreadPct === undefined ? '-' : `${t.spreadPct.toFixed(1)}%`) },
  )
  return cols
}

function r0(c: CaseReport): 'own' | 'wrk' {
  return c.results.find((t) => t.median !== undefined)?.median?.loadGen ?? 'own'
}

function idleColumns(): Column[] {
  const i = (r: RoundResult): IdleResult => r.idle!
  return [
    { head: 'target', right: false, cell: (_c, t) => t.target },
    { head: 'opened', right: true, cell: (_c, _t, r) => String(i(r).opened) },
    { head: 'served', right: true, cell: (_c, _t, r) => String(i(r).served) },
    { head: 'still open', right: true, cell: (_c, _t, r) => String(i(r).stillOpen) },
    { head: 'open s', right: true, cell: (_c, _t, r) => (i(r).openMs / 1000).toFixed(1) },
    { head: 'serve s', right: true, cell: (_c, _t, r) => (i(r).serveMs / 1000).toFixed(1) },
    { head: 'rss before MB', right: true, cell: (_c, _t, r) => fmtMB(i(r).rssBeforeBytes) },
    { head: 'rss idle MB', right: true, cell: (_c, _t, r) => fmtMB(i(r).rssIdleBytes) },
    { head: 'rss served MB', right: true, cell: (_c, _t, r) => fmtMB(i(r).rssServedBytes) },
    { head: 'extra MB', right: true, cell: (_c, _t, r) => fmtMB(idleExtraBytes(i(r))) },
    {
      head: 'KB/conn', right: true,
      cell: (_c, _t, r) => {
        const x = idleExtraBytes(i(r))
        return x === undefined || i(r).opened === 0 ? '-' : (x / i(r).opened / 1000).toFixed(1)
      },
    },
    { head: 'errors', right: true, cell: (_c, _t, r) => String(r.errorCount) },
  ]
}

function caseHeading(c: CaseReport): string {
  if (c.kind === 'idle') return `${c.title} — one round per target`
  const how = c.mode === 'fixed' ? 'fixed request count' : `median of ${c.results.find((r) => r.rounds.length > 0)?.rounds.length ?? 0} rounds × ${(c.roundMs / 1000).toFixed(2)} s`
  const gen = r0(c) === 'wrk' ? ', load: wrk' : ''
  return `${c.title} — ${c.unit}, ${how}${gen}`
}

function rows(c: CaseReport): { cols: Column[]; body: Array<string[] | string> } {
  const cols = c.kind === 'idle' ? idleColumns() : rateColumns(c)
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

function notApplicableLine(c: CaseReport): string[] {
  return c.notApplicable.length > 0 ? [`  not applicable here: ${c.notApplicable.join(', ')}`] : []
}

function cpuCount(list: string | undefined): number {
  return list === undefined ? 0 : list.split(',').reduce((a, part) => {
    const [x, y] = part.split('-').map(Number) as [number, number | undefined]
    return a + (y === undefined ? 1 : y - x + 1)
  }, 0)
}

/**
 * Rows whose load side was (nearly) saturated: there the figure says as much about the client
 * and the upstream as about the target. Checked: the load generator alone (a busy thread per load
 * thread), the upstream alone (one thread), and under --pin both together on their CPU(s).
 */
function saturationLines(c: CaseReport, r: Pick<BenchReport, 'loadThreads' | 'pin'>): string[] {
  if (c.kind !== 'rate') return []
  const load: string[] = []
  const upstream: string[] = []
  const shared: string[] = []
  const others = r.pin.enabled ? cpuCount(r.pin.otherCpus) : 0
  for (const t of c.results) {
    const m = t.median
    if (m === undefined) continue
    if (m.load !== undefined && m.load.cpuPct >= 90 * r.loadThreads) load.push(t.target)
    else if (m.upstream !== undefined && m.upstream.cpuPct >= 90) upstream.push(t.target)
    else if (others > 0 && m.load !== undefined && m.upstream !== undefined && m.load.cpuPct + m.upstream.cpuPct >= 90 * others) shared.push(t.target)
  }
  const out: string[] = []
  if (load.length > 0) out.push(`  load generator at its limit (load cpu% ≥ ${90 * r.loadThreads}) for: ${load.join(', ')}; those rows are bounded by the client`)
  if (upstream.length > 0) out.push(`  upstream at its limit (upstr cpu% ≥ 90) for: ${upstream.join(', ')}`)
  if (shared.length > 0) {
    out.push(`  load side at its limit (load + upstream ≥ ${90 * others}% of CPU ${r.pin.otherCpus}) for: ${shared.join(', ')}; those rows are bounded by the client side, compare their cpu µs/rq (or rerun with --load wrk)`)
  }
  return out
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
    `load: ${o.load === 'wrk' ? 'wrk for HTTP cases, own generator for the rest' : 'own generator'}, ${r.loadThreads} load thread(s), ${o.connections} connections` +
      `; workers: --concurrency ${o.concurrency} (envoy-ts threads, nginx worker_processes, haproxy nbthread, node peers' processes)` +
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
    if (parts.length > 0) out.push(`  ${t.target} errors${c.kind === 'idle' ? '' : ' over all rounds'}: ${parts.join(', ')}`)
  }
  return out
}

/** Everything after the header, for the terminal. */
export function textReport(r: BenchReport): string {
  const out: string[] = []
  for (const c of r.cases) out.push('', textTable(c), ...notApplicableLine(c), ...saturationLines(c, r), ...errorsDetail(c))
  if (r.truncated !== undefined) out.push('', `STOPPED EARLY: ${r.truncated}`)
  if (r.skipped.length > 0) out.push('', ...r.skipped.map((s) => `skipped ${s.target}: ${s.reason}`))
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `note: ${n}`))
  if (r.figureLines.length > 0) out.push('', ...r.figureLines)
  if (r.targetLines.length > 0) out.push('', ...r.targetLines)
  for (const p of r.profileSummaries) out.push('', `profile ${p.file}:`, p.text)
  return out.join('\n')
}

export function markdownReport(r: BenchReport): string {
  const out: string[] = [`## envoy-ts bench, ${r.startedAt}`, '', ...headerLines(r).map((l) => `- ${l}`)]
  out.push(`- command: \`npm run bench -- ${commandLine(r.options)}\``, `- run time: ${(r.elapsedMs / 1000).toFixed(1)} s (limit ${Math.round(r.announcedLimitMs / 1000)} s)`)
  for (const c of r.cases) {
    out.push('', markdownTable(c))
    const extra = [...notApplicableLine(c), ...saturationLines(c, r), ...errorsDetail(c)]
    if (extra.length > 0) out.push('', ...extra.map((l) => `- ${l.trim()}`))
  }
  if (r.truncated !== undefined) out.push('', `**Stopped early:** ${r.truncated}`)
  if (r.skipped.length > 0) out.push('', ...r.skipped.map((s) => `- skipped ${s.target}: ${s.reason}`))
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `- note: ${n}`))
  if (r.figureLines.length > 0) out.push('', ...r.figureLines.map((v) => `- ${v}`))
  if (r.targetLines.length > 0) out.push('', ...r.targetLines.map((v) => (v.startsWith('  ') ? `  - ${v.trim()}` : `- ${v}`)))
  for (const p of r.profileSummaries) out.push('', `Profile \`${p.file}\`:`, '', '```', p.text, '```')
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
  if (o.scenarios.includes('idle-conns')) parts.push(`--idle-connections ${o.idleConnections}`)
  if (o.load !== 'own') parts.push(`--load ${o.load}`)
  if (o.requestsPerConnection !== undefined) parts.push(`--requests ${o.requestsPerConnection}`)
  if (o.bufferLimit !== undefined) parts.push(`--buffer-limit ${o.bufferLimit}`)
  if (o.envoyTsNodeFlags.length > 0) parts.push(`--envoy-ts-node-flags "${o.envoyTsNodeFlags.join(' ')}"`)
  if (o.pin) parts.push('--pin')
  if (o.profile) parts.push('--profile')
  return parts.join(' ')
}

// ---- target lines ----

function median(c: CaseReport | undefined, target: string): RoundResult | undefined {
  return c?.results.find((r) => r.target === target)?.median
}

function whyMissing(c: CaseReport | undefined, target: string): string {
  const r = c?.results.find((x) => x.target === target)
  if (r?.skipped !== undefined) return `${target} skipped: ${r.skipped}`
  return `${target} not in this run (add it with --peers / --targets)`
}

const verdict = (ok: boolean): string => (ok ? 'MET' : 'MISSED')

/**
 * The issue's targets for envoy-ts, from ratios within this run. They are defined for one
 * worker pinned to one core; other runs get a note that they are informative only.
 */
export function targetLines(cases: readonly CaseReport[], o: BenchOptions, pin: PinPlan): string[] {
  const out: string[] = []
  if (!o.targets.includes('envoy-ts')) return out
  const find = (scenario: string, kase?: string): CaseReport | undefined => cases.find((c) => c.scenario === scenario && (kase === undefined || c.case === kase))
  const ratioLine = (c: CaseReport | undefined, label: string, peer: string, want: number): void => {
    if (c === undefined) return
    const e = median(c, 'envoy-ts')
    const p = median(c, peer)
    if (e === undefined) {
      out.push(`  ${label}: envoy-ts ≥ ${want}× ${peer}: not measured (${whyMissing(c, 'envoy-ts')})`)
      return
    }
    if (p === undefined || p.rate === 0) {
      out.push(`  ${label}: envoy-ts ≥ ${want}× ${peer}: not measured (${whyMissing(c, peer)})`)
      return
    }
    const ratio = e.rate / p.rate
    const unit = c.unit === 'MB/s' ? ` ${(e.rate / 1e6).toFixed(1)} MB/s vs ${(p.rate / 1e6).toFixed(1)}` : ` ${fmtInt(e.rate)} rq/s vs ${fmtInt(p.rate)}`
    out.push(`  ${label}: envoy-ts ${ratio.toFixed(2)}× ${peer} (${unit.trim()}; target ≥ ${want}×): ${verdict(ratio >= want)}`)
    // A peer that did not use its CPU was held back by the load side: its rate is a floor, and
    // the cost per request is the fairer comparison.
    // What the peer could have used: one core for the single-threaded pipe, else its workers'
    // cores (at most the proxy's CPUs under --pin).
    const cores = peer === 'node-net-pipe' ? 1 : Math.min(o.concurrency, pin.enabled ? cpuCount(pin.proxyCpus) : Number.POSITIVE_INFINITY)
    const cap = 85 * cores
    if (p.proxy !== undefined && e.proxy !== undefined && p.proxy.cpuPct < cap && e.ops > 0 && p.ops > 0) {
      const eff = (p.proxy.cpuSeconds / p.ops) / (e.proxy.cpuSeconds / e.ops)
      out.push(`    (${peer} used ${Math.round(p.proxy.cpuPct)}% CPU, so the load side held it back; by proxy CPU per ${c.unit === 'MB/s' ? 'byte' : 'request'} envoy-ts is ${eff.toFixed(2)}× ${peer}: ${verdict(eff >= want)} on that measure)`)
    }
  }
  ratioLine(find('http-small'), 'http-small', 'node-undici', TARGETS.vsNodeUndici)
  ratioLine(find('http-small'), 'http-small', 'nginx', TARGETS.vsNginx)
  ratioLine(find('tcp-rr'), 'tcp-rr', 'node-net-pipe', TARGETS.vsNetPipe)
  for (const c of cases.filter((x) => x.scenario === 'tcp-stream')) ratioLine(c, `tcp-stream ${c.case}`, 'node-net-pipe', TARGETS.vsNetPipe)
  for (const c of cases.filter((x) => x.latency && x.kind === 'rate')) {
    const e = median(c, 'envoy-ts')
    const n = median(c, 'nginx')
    if (e?.latency === undefined || n?.latency === undefined) continue
    const ratio = e.latency.p99Us / n.latency.p99Us
    out.push(`  ${c.title.replace(/ \(.*$/, '')} p99: envoy-ts ${fmtMs(e.latency.p99Us)} ms, nginx ${fmtMs(n.latency.p99Us)} ms = ${ratio.toFixed(2)}× (target < ${TARGETS.p99VsNginx}×): ${verdict(ratio < TARGETS.p99VsNginx)}`)
  }
  const idle = find('idle-conns')
  if (idle !== undefined) {
    const r = idle.results.find((x) => x.target === 'envoy-ts')
    const i = r?.median?.idle
    if (i === undefined) out.push(`  idle-conns: not measured (${whyMissing(idle, 'envoy-ts')})`)
    else {
      const extra = idleExtraBytes(i)
      // The target is for 10,000 connections; other counts scale it.
      const allowed = (TARGETS.idleExtraBytes * i.attempted) / 10_000
      const ok = extra !== undefined && extra < allowed && i.served === i.attempted && i.opened === i.attempted
      out.push(`  idle-conns: envoy-ts opened ${i.opened}/${i.attempted}, served ${i.served}, extra RSS ${fmtMB(extra)} MB (target: all served, < ${fmtMB(allowed)} MB${i.attempted !== 10_000 ? ` (150 MB per 10,000)` : ''}): ${verdict(ok)}`)
    }
  }
  if (out.length === 0) return out
  const asDefined = pin.enabled && o.concurrency === 1
  return [
    `targets for envoy-ts (ratios from this run${asDefined ? ', one worker pinned to one core' : ''}):`,
    ...out,
    ...(asDefined ? [] : [`  (the targets are defined for --concurrency 1 --pin; this run is ${pin.enabled ? '' : 'unpinned'}${pin.enabled ? '' : ', '}--concurrency ${o.concurrency}: informative only)`]),
  ]
}

/** Runtime API figures: calls/s and p99 of envoy-ts, next to the bare Node baseline. */
export function figureLines(cases: readonly CaseReport[]): string[] {
  const out: string[] = []
  for (const c of cases.filter((x) => x.scenario.startsWith('runtime-'))) {
    const e = median(c, 'envoy-ts')
    if (e === undefined) continue
    const d = median(c, 'direct')
    out.push(`${c.title}: envoy-ts ${fmtInt(e.rate)} calls/s, p99 ${fmtMs(e.latency?.p99Us)} ms` +
      (d !== undefined ? ` (bare Node baseline: ${fmtInt(d.rate)} calls/s, p99 ${fmtMs(d.latency?.p99Us)} ms)` : ''))
  }
  return out
}
