import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { MessageChannel } from 'node:worker_threads'
import { Piscina } from 'piscina'
import type { IdleLoadResult, IdleReport, LoadResult, LoadTask } from '../load/types.js'
import { findScenario } from '../scenarios/index.js'
import type { CaseSpec, IdleCase, LoadSettings, RateCase, Scenario } from '../scenarios/types.js'
import { findTarget } from '../targets/index.js'
import type { RunningTarget, ServiceSpec, Target, TargetContext } from '../targets/types.js'
import { chartSvg } from './chart.js'
import { BenchChild, findCommand, Unavailable, startedProcesses, stopAll } from './child.js'
import { formatSummary, summarizeProfile } from './cpuprofile.js'
import { mergeHistograms, medianBy } from './latency.js'
import { machineInfo } from './machine.js'
import type { BenchOptions } from './options.js'
import { UsageError, validateOptions } from './options.js'
import { benchScript, RESULTS_DIR } from './paths.js'
import { planPinning, pinSelf } from './pin.js'
import { cpuBetween, groupMembers, type ProcSample, sampleGroup, sampleProc } from './proc-stat.js'
import {
  type BenchReport, type CaseReport, figureLines, headerLines, type IdleResult, markdownReport, type RoundResult, targetLines,
  type TargetCaseResult,
} from './report.js'
import { parseWrkOutput, wrkScript } from './wrk.js'

const HOST = '127.0.0.1'
/** Fixed mode: a round gives up this long after it starts. */
const FIXED_ROUND_TIMEOUT_MS = 60_000
/** Per-round cost besides the window: dispatch, connect, teardown, the gap between rounds. */
const ROUND_OVERHEAD_MS = 200
const ROUND_GAP_MS = 50
/** Starting the upstream and the targets. */
const STARTUP_ALLOWANCE_MS = 6000
/** idle-conns per target: open, idle, serve, close (the estimate; the phases have their own limits). */
const IDLE_ESTIMATE_BASE_MS = 2500
const IDLE_ESTIMATE_PER_CONN_MS = 0.5
const IDLE_HOLD_MS = 1000
const IDLE_OPEN_TIMEOUT_MS = 15_000
const IDLE_SERVE_TIMEOUT_MS = 10_000

export interface RunInput {
  options: BenchOptions
  /** Targets beyond the built-in ones (tests use this to simulate a missing peer). */
  extraTargets?: readonly Target[]
  /** Progress and header lines; default: stderr. */
  log?: (line: string) => void
  /** Aborts the run (Ctrl-C); everything started is stopped before runBench rejects. */
  signal?: AbortSignal
  /** Overrides the hard limit derived from the plan (tests of the cut-off). */
  limitMs?: number
}

export class BenchTimeout extends Error {
  readonly code = 'BENCH_TIMEOUT'
}

function rateCases(s: Scenario): RateCase[] {
  return s.cases.filter((c): c is RateCase => c.kind === 'rate')
}

/** How long a case's round window is. */
function roundMs(o: BenchOptions, s: Scenario): number {
  return Math.max(1, Math.floor(o.durationMs / o.rounds / Math.max(1, rateCases(s).length)))
}

function isFixed(o: BenchOptions, c: RateCase): boolean {
  return o.requestsPerConnection !== undefined && c.fixedCount
}

function usesWrk(o: BenchOptions, c: RateCase): boolean {
  return o.load === 'wrk' && c.wrk !== undefined && !isFixed(o, c)
}

/** wrk takes whole seconds. */
function wrkWindowMs(window: number): number {
  return Math.max(1, Math.round(window / 1000)) * 1000
}

function serviceOf(s: Scenario, c: CaseSpec): { name: string; protocol: string } {
  return s.services.find((x) => x.name === c.service)!
}

/** Targets (of the run) that speak a case's protocol. */
function applicable(s: Scenario, c: CaseSpec, targets: readonly Target[]): Target[] {
  const p = serviceOf(s, c).protocol
  return targets.filter((t) => (t.protocols as readonly string[]).includes(p))
}

/** Expected run time from the plan; the announced hard limit is derived from it. */
export function estimateMs(o: BenchOptions, targets: readonly Target[] = o.targets.flatMap((n) => findTarget(n) ?? [])): number {
  let total = STARTUP_ALLOWANCE_MS
  for (const name of o.scenarios) {
    const s = findScenario(name)!
    for (const c of s.cases) {
      const n = applicable(s, c, targets).length
      if (c.kind === 'idle') {
        total += n * (IDLE_ESTIMATE_BASE_MS + IDLE_ESTIMATE_PER_CONN_MS * o.idleConnections)
        continue
      }
      let window = isFixed(o, c) ? 1000 : roundMs(o, s)
      if (usesWrk(o, c)) window = wrkWindowMs(window)
      const warm = o.warmupMs > 0 ? (usesWrk(o, c) ? wrkWindowMs(o.warmupMs) : o.warmupMs) + c.prerollMs + ROUND_OVERHEAD_MS : 0
      total += n * (warm + o.rounds * (window + c.prerollMs + ROUND_OVERHEAD_MS))
    }
  }
  return total
}

export function hardLimitMs(expected: number): number {
  return Math.round(expected * 1.25 + 15_000)
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)))
}

interface Samples { proxy?: ProcSample; upstream?: ProcSample; load?: ProcSample }

function sampleNow(pids: { proxy?: number; upstream: number; load?: number }): Samples {
  return {
    ...(pids.proxy !== undefined ? { proxy: sampleGroup(pids.proxy) } : {}),
    upstream: sampleGroup(pids.upstream),
    load: pids.load !== undefined ? sampleGroup(pids.load) : sampleProc(process.pid),
  }
}

function sampleAt(at: number, pids: { proxy?: number; upstream: number; load?: number }): Promise<Samples> {
  return new Promise((resolve) => setTimeout(() => resolve(sampleNow(pids)), Math.max(0, at - Date.now())))
}

interface RunState {
  o: BenchOptions
  pool: Piscina<LoadTask, LoadResult | IdleLoadResult>
  loadThreads: number
  upstream: BenchChild
  abort: AbortController
  workDir: string
  log: (line: string) => void
}

interface Live { name: string; running: RunningTarget }

function settingsOf(o: BenchOptions, c: RateCase): LoadSettings {
  return {
    requestSize: o.requestSize,
    responseSize: o.responseSize,
    chunkSize: o.chunkSize,
    idleConnections: o.idleConnections,
    ...(isFixed(o, c) ? { requestsPerConnection: o.requestsPerConnection! } : {}),
  }
}

function sumErrors(all: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const errors: Record<string, number> = {}
  for (const e of all) for (const [k, v] of Object.entries(e)) errors[k] = (errors[k] ?? 0) + v
  return errors
}

/** One round of one case against one target: fan the connections out over the load threads. */
async function runRound(st: RunState, c: RateCase, t: Live, windowMs: number, round: number, fixed: boolean): Promise<RoundResult> {
  if (st.abort.signal.aborted) throw st.abort.signal.reason as Error
  const o = st.o
  const threads = Math.min(st.loadThreads, o.connections)
  const settings = settingsOf(o, c)
  const startAt = Date.now() + c.prerollMs + 20
  const tasks: LoadTask[] = []
  for (let i = 0; i < threads; i++) {
    const share = Math.floor(o.connections / threads) + (i < o.connections % threads ? 1 : 0)
    const shape = c.task(settings)
    tasks.push({
      ...shape,
      host: t.running.host,
      port: t.running.ports[c.service]!,
      connections: share,
      startAt,
      durationMs: windowMs,
      timeoutMs: FIXED_ROUND_TIMEOUT_MS,
      ...(fixed ? { requestsPerConnection: o.requestsPerConnection! } : {}),
    } as LoadTask)
  }
  const pids = { ...(t.running.pid !== undefined ? { proxy: t.running.pid } : {}), upstream: st.upstream.pid }
  const before = sampleAt(startAt, pids)
  const afterTimed = fixed ? undefined : sampleAt(startAt + windowMs, pids)
  // A task that overruns its window by this much is stuck: abort it (piscina ends the worker).
  const taskSignal = AbortSignal.any([st.abort.signal, AbortSignal.timeout((fixed ? FIXED_ROUND_TIMEOUT_MS : windowMs) + c.prerollMs + 15_000)])
  const results = (await Promise.all(tasks.map((task) => st.pool.run(task, { signal: taskSignal })))) as LoadResult[]
  const s0 = await before
  const s1 = afterTimed !== undefined ? await afterTimed : sampleNow(pids)

  const ops = results.reduce((a, r) => a + r.ops, 0)
  const windowMax = Math.max(...results.map((r) => r.windowMs))
  // Timed: every thread had (almost) the same window, so rates add. Fixed: all ops over the longest.
  const rate = fixed ? (ops / windowMax) * 1000 : results.reduce((a, r) => a + (r.ops / r.windowMs) * 1000, 0)
  const bytesRate = fixed ? (results.reduce((a, r) => a + r.bytes, 0) / windowMax) * 1000 : results.reduce((a, r) => a + (r.bytes / r.windowMs) * 1000, 0)
  const errors = sumErrors(results.map((r) => r.errors))
  const latency = c.latency ? mergeHistograms(results.flatMap((r) => (r.histogram !== undefined ? [r.histogram] : []))) : undefined
  const proxy = cpuBetween(s0.proxy, s1.proxy)
  const upstream = cpuBetween(s0.upstream, s1.upstream)
  const load = cpuBetween(s0.load, s1.load)
  await sleep(ROUND_GAP_MS)
  return {
    round,
    ops,
    rate,
    bytesRate,
    windowMs: windowMax,
    connected: results.reduce((a, r) => a + r.connected, 0),
    loadGen: 'own',
    ...(latency !== undefined ? { latency } : {}),
    errors,
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
    ...(proxy !== undefined ? { proxy } : {}),
    ...(upstream !== undefined ? { upstream } : {}),
    ...(load !== undefined ? { load } : {}),
  }
}

/** The same round with wrk as the load generator (`--load wrk`). */
async function runWrkRound(st: RunState, c: RateCase, t: Live, windowMs: number, round: number): Promise<RoundResult> {
  if (st.abort.signal.aborted) throw st.abort.signal.reason as Error
  const o = st.o
  const req = c.wrk!(settingsOf(o, c))
  const script = path.join(st.workDir, `wrk-${c.name}.lua`)
  fs.writeFileSync(script, wrkScript(req))
  const seconds = wrkWindowMs(windowMs) / 1000
  const threads = Math.min(st.loadThreads, o.connections)
  const child = await BenchChild.start({
    role: 'load',
    name: 'wrk',
    command: o.wrkBin,
    args: ['-t', String(threads), '-c', String(o.connections), '-d', `${seconds}s`, '--latency', '--timeout', '10s', '-s', script, `http://${t.running.host}:${t.running.ports[c.service]}${req.path}`],
    collectStdout: true,
  })
  const t0 = Date.now()
  const pids = { ...(t.running.pid !== undefined ? { proxy: t.running.pid } : {}), upstream: st.upstream.pid, load: child.pid }
  // wrk opens its connections first, then runs for `seconds`: sample inside that.
  const before = sampleAt(t0 + 100, pids)
  const after = sampleAt(t0 + seconds * 1000 - 50, pids)
  const onAbort = (): void => { void child.stop(500) }
  st.abort.signal.addEventListener('abort', onAbort, { once: true })
  const exit = await child.exited
  st.abort.signal.removeEventListener('abort', onAbort)
  await child.stop()
  if (st.abort.signal.aborted) throw st.abort.signal.reason as Error
  if (exit.code !== 0) throw new Error(`wrk exited with code ${exit.code}: ${child.stderrTail.slice(-1000)}`)
  const out = parseWrkOutput(child.stdoutText)
  const [s0, s1] = await Promise.all([before, after])
  const ex = out.exact
  const requests = ex?.requests ?? out.requests
  const statusErrors = ex?.errors.status ?? out.errors['non-2xx'] ?? 0
  const durationMs = ex !== undefined ? ex.durationUs / 1000 : out.durationSec * 1000
  const ok = requests - statusErrors
  const errors: Record<string, number> = ex !== undefined
    ? Object.fromEntries(Object.entries({ connect: ex.errors.connect, read: ex.errors.read, write: ex.errors.write, timeout: ex.errors.timeout, 'non-2xx': ex.errors.status }).filter(([, v]) => v > 0))
    : out.errors
  const proxy = cpuBetween(s0.proxy, s1.proxy)
  const upstream = cpuBetween(s0.upstream, s1.upstream)
  const load = cpuBetween(s0.load, s1.load)
  await sleep(ROUND_GAP_MS)
  return {
    round,
    ops: ok,
    rate: durationMs > 0 ? (ok / durationMs) * 1000 : out.requestsPerSec,
    // wrk counts what it reads; what it writes is its requests.
    bytesRate: out.transferPerSec + (durationMs > 0 ? (requests / durationMs) * 1000 : out.requestsPerSec) * (req.bodySize ?? 0),
    windowMs: durationMs,
    connected: o.connections,
    loadGen: 'wrk',
    latency: ex !== undefined
      ? { count: ok, meanUs: ex.mean, p50Us: ex.p50, p90Us: ex.p90, p99Us: ex.p99, p999Us: ex.p999, maxUs: ex.max }
      : { count: ok, meanUs: 0, p50Us: out.latency.p50, p90Us: out.latency.p90, p99Us: out.latency.p99, p999Us: out.latency.p99, maxUs: 0 },
    errors,
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
    ...(proxy !== undefined ? { proxy } : {}),
    ...(upstream !== undefined ? { upstream } : {}),
    ...(load !== undefined ? { load } : {}),
  }
}

/**
 * idle-conns against one target: every load thread opens its share and holds it; once all are
 * open the proxy's RSS is sampled, then every connection sends one request, RSS again, close.
 */
async function runIdleRound(st: RunState, c: IdleCase, t: Live): Promise<RoundResult> {
  if (st.abort.signal.aborted) throw st.abort.signal.reason as Error
  const o = st.o
  const threads = Math.min(st.loadThreads, o.idleConnections)
  const proxyPid = t.running.pid
  const rss = (): number | undefined => (proxyPid !== undefined ? sampleGroup(proxyPid)?.rssBytes : undefined)
  const rssBeforeBytes = rss()
  const channels = Array.from({ length: threads }, () => new MessageChannel())
  const reports: IdleReport[][] = channels.map(() => [])
  let notify: (() => void) | undefined
  channels.forEach((ch, i) => ch.port1.on('message', (m: IdleReport) => {
    reports[i]!.push(m)
    notify?.()
  }))
  const waitPhase = async (phase: IdleReport['phase'], timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    while (!reports.every((r) => r.some((m) => m.phase === phase))) {
      if (st.abort.signal.aborted) throw st.abort.signal.reason as Error
      if (Date.now() > deadline) throw new Error(`idle-conns: the load threads did not report "${phase}" in time`)
      await new Promise<void>((resolve) => {
        notify = resolve
        setTimeout(resolve, 200)
      })
    }
  }
  const taskSignal = AbortSignal.any([st.abort.signal, AbortSignal.timeout(IDLE_OPEN_TIMEOUT_MS + IDLE_SERVE_TIMEOUT_MS + 30_000)])
  const running = channels.map((ch, i) => {
    const share = Math.floor(o.idleConnections / threads) + (i < o.idleConnections % threads ? 1 : 0)
    return st.pool.run({
      kind: 'idle',
      host: t.running.host,
      port: t.running.ports[c.service]!,
      connections: share,
      path: c.path,
      openConcurrency: 256,
      serveConcurrency: 128,
      openTimeoutMs: IDLE_OPEN_TIMEOUT_MS,
      serveTimeoutMs: IDLE_SERVE_TIMEOUT_MS,
      expectBodyBytes: c.expectBodyBytes,
      control: ch.port2,
    }, { transferList: [ch.port2], signal: taskSignal }) as Promise<IdleLoadResult>
  })
  // A task that fails early must not leave the others waiting for commands.
  const failed = Promise.all(running).then(() => undefined, (err: unknown) => err as Error)
  try {
    await Promise.race([waitPhase('opened', IDLE_OPEN_TIMEOUT_MS + 5000), failed.then((e) => { if (e !== undefined) throw e })])
    await sleep(IDLE_HOLD_MS)
    const rssIdleBytes = rss()
    for (const ch of channels) ch.port1.postMessage({ cmd: 'serve' })
    await Promise.race([waitPhase('served', IDLE_SERVE_TIMEOUT_MS + 5000), failed.then((e) => { if (e !== undefined) throw e })])
    const rssServedBytes = rss()
    for (const ch of channels) ch.port1.postMessage({ cmd: 'close' })
    const results = await Promise.all(running)
    const errors = sumErrors(results.map((r) => r.errors))
    const idle: IdleResult = {
      attempted: o.idleConnections,
      opened: results.reduce((a, r) => a + r.opened, 0),
      served: results.reduce((a, r) => a + r.served, 0),
      stillOpen: results.reduce((a, r) => a + r.stillOpen, 0),
      openMs: Math.max(...results.map((r) => r.openMs)),
      serveMs: Math.max(...results.map((r) => r.serveMs)),
      ...(rssBeforeBytes !== undefined ? { rssBeforeBytes } : {}),
      ...(rssIdleBytes !== undefined ? { rssIdleBytes } : {}),
      ...(rssServedBytes !== undefined ? { rssServedBytes } : {}),
    }
    // Let the target settle (close its side) before the next one is measured.
    await sleep(500)
    return {
      round: 1,
      ops: idle.served,
      rate: 0,
      bytesRate: 0,
      windowMs: idle.serveMs,
      connected: idle.opened,
      loadGen: 'own',
      errors,
      errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
      idle,
    }
  } finally {
    for (const ch of channels) {
      ch.port1.postMessage({ cmd: 'close' })
      ch.port1.close()
    }
    await Promise.allSettled(running)
  }
}

function clock(ms: number): string {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

function progressLine(c: CaseSpec, target: string, label: string, r: RoundResult, step: string): string {
  if (r.idle !== undefined) {
    const i = r.idle
    const mb = (b: number | undefined): string => (b === undefined ? '-' : (b / 1e6).toFixed(0))
    return `${step} ${label.padEnd(16)} ${target.padEnd(16)} opened ${i.opened}/${i.attempted}, served ${i.served}, rss ${mb(i.rssBeforeBytes)} → ${mb(i.rssIdleBytes)} → ${mb(i.rssServedBytes)} MB${r.errorCount > 0 ? `, ${r.errorCount} errors` : ''}`
  }
  const rate = c.kind === 'rate' && c.unit === 'MB/s' ? `${(r.rate / 1e6).toFixed(1)} MB/s` : `${Math.round(r.rate)} rq/s`
  const lat = r.latency !== undefined ? `, p99 ${(r.latency.p99Us / 1000).toFixed(3)} ms` : ''
  const cpu = r.proxy !== undefined ? `, proxy cpu ${Math.round(r.proxy.cpuPct)}%` : ''
  const err = r.errorCount > 0 ? `, ${r.errorCount} errors` : ''
  return `${step} ${label.padEnd(16)} ${target.padEnd(16)} ${rate}${lat}${cpu}${err}`
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
}

/**
 * Runs the benchmark: upstream, targets, load pool; warm-up then interleaved measured rounds
 * per scenario; stops everything it started (also on error or timeout) and returns the report.
 * At the hard limit it announces it stops, and reports the cases it finished (`truncated`).
 */
export async function runBench(input: RunInput): Promise<BenchReport> {
  const o = input.options
  const log = input.log ?? ((l: string) => process.stderr.write(`${l}\n`))
  const extra = input.extraTargets ?? []
  validateOptions(o, extra.map((t) => t.name))
  if (o.load === 'wrk' && findCommand(o.wrkBin) === undefined) throw new UsageError(`--load wrk: command not found: ${o.wrkBin} (install: apt-get install -y wrk)`)
  const scenarios = o.scenarios.map((n) => findScenario(n)!)
  const targets = o.targets.map((n) => extra.find((t) => t.name === n) ?? findTarget(n)!)
  const started = new Date()
  const t0 = performance.now()
  const machine = machineInfo()
  const pin = planPinning(o.pin, o.concurrency)
  const loadThreads = Math.min(o.loadThreads, Math.max(o.connections, 1))
  const expected = estimateMs(o, targets)
  const limit = input.limitMs ?? hardLimitMs(expected)
  const processesBefore = startedProcesses.length
  const totalSteps = scenarios.reduce((a, s) => a + s.cases.reduce((b, c) => {
    const n = applicable(s, c, targets).length
    return b + (c.kind === 'idle' ? n : n * (o.rounds + (o.warmupMs > 0 ? 1 : 0)))
  }, 0), 0)
  let step = 0
  const stepLabel = (): string => `[${String(++step).padStart(String(totalSteps).length)}/${totalSteps} ${clock(performance.now() - t0)}/~${clock(expected)}]`

  for (const l of headerLines({ machine, options: o, loadThreads, pin })) log(l)
  const plan = scenarios.map((s) => `${s.name}${s.cases.length > 1 ? ` (${s.cases.map((c) => c.name).join(', ')})` : ''}`).join(', ')
  log(`scenarios: ${plan}; targets: ${o.targets.join(', ')}`)
  log(o.requestsPerConnection !== undefined
    ? `rounds: warm-up ${o.warmupMs / 1000} s, then ${o.rounds} × ${o.requestsPerConnection} requests per connection, interleaved`
    : `rounds: warm-up ${o.warmupMs / 1000} s, then ${o.rounds} measured rounds per target per case, interleaved; --duration ${o.durationMs / 1000} s per target per scenario`)
  log(`expected run time ~${clock(expected)} (m:ss); hard limit ${clock(limit)}: the run stops there and reports what it has`)

  const abort = new AbortController()
  const onOuterAbort = (): void => abort.abort(input.signal?.reason ?? new Error('aborted'))
  if (input.signal?.aborted === true) onOuterAbort()
  input.signal?.addEventListener('abort', onOuterAbort, { once: true })
  const deadline = setTimeout(() => abort.abort(new BenchTimeout(`the run passed its announced limit of ${clock(limit)} and was stopped`)), limit)
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-bench-'))
  const outDir = o.save ? (o.outDir ?? path.join(RESULTS_DIR, timestamp(started))) : undefined
  let restoreAffinity: (() => void) | undefined
  let pool: Piscina<LoadTask, LoadResult | IdleLoadResult> | undefined
  const running = new Map<string, RunningTarget>()
  const skipped: Array<{ target: string; reason: string }> = []
  const profiles: string[] = []
  const cases: CaseReport[] = []
  const notes: string[] = []
  const groupPids: Array<{ role: string; name: string; pid: number; command: string }> = []
  let truncated: string | undefined

  const abortable = <T>(p: Promise<T>): Promise<T> => Promise.race([
    p,
    new Promise<never>((_, reject) => {
      if (abort.signal.aborted) reject(abort.signal.reason)
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true })
    }),
  ])

  try {
    if (pin.enabled) restoreAffinity = pinSelf(pin.otherCpus!)

    // Upstream: one process with every service the scenarios need.
    const serviceDefs = new Map<string, Scenario['services'][number]>()
    for (const s of scenarios) for (const x of s.services) serviceDefs.set(x.name, x)
    const upstream = await abortable(BenchChild.start({
      role: 'upstream',
      name: 'upstream',
      command: process.execPath,
      args: [
        benchScript('upstream/upstream.js'), '--services', [...serviceDefs.keys()].join(','), '--request-size', String(o.requestSize),
        '--response-size', String(o.responseSize), '--chunk-size', String(o.chunkSize), '--host', HOST,
      ],
      ...(pin.enabled ? { cpus: pin.otherCpus! } : {}),
    }))
    const { ports: upstreamPorts } = await abortable(upstream.waitForJson<{ ports: Record<string, number> }>('ports', 15_000))
    const services: ServiceSpec[] = [...serviceDefs.values()].map((x) => ({ name: x.name, protocol: x.protocol, upstreamHost: HOST, upstreamPort: upstreamPorts[x.name]! }))

    const ctx: TargetContext = {
      services, concurrency: o.concurrency, pin, workDir, profile: o.profile,
      envoyBin: o.envoyBin, nginxBin: o.nginxBin, haproxyBin: o.haproxyBin,
      envoyTsNodeFlags: o.envoyTsNodeFlags, idleConnections: o.scenarios.includes('idle-conns') ? o.idleConnections : 0,
      ...(o.bufferLimit !== undefined ? { bufferLimit: o.bufferLimit } : {}), log,
    }
    for (const t of targets) {
      // Only what the scenarios need: a target that fronts none of them is not started.
      const wanted = services.filter((x) => (t.protocols as readonly string[]).includes(x.protocol))
      if (wanted.length === 0) continue
      try {
        const r = await abortable(t.start({ ...ctx, services: wanted }))
        running.set(t.name, r)
        for (const n of r.notes ?? []) {
          notes.push(n)
          log(`note: ${n}`)
        }
        // Every process of its group (nginx's workers, a cluster's children), for the record.
        if (r.pid !== undefined) {
          for (const pid of groupMembers(r.pid)) if (pid !== r.pid) groupPids.push({ role: 'target-child', name: t.name, pid, command: '' })
        }
      } catch (err) {
        if (abort.signal.aborted) throw err
        const reason = err instanceof Unavailable ? err.message : `failed to start: ${briefError(err as Error)}`
        skipped.push({ target: t.name, reason })
        log(`skipping ${t.name}: ${reason}`)
      }
    }

    pool = new Piscina<LoadTask, LoadResult | IdleLoadResult>({
      filename: benchScript('load/load-worker.js'),
      minThreads: loadThreads,
      maxThreads: loadThreads,
      idleTimeout: 60_000,
    })
    const st: RunState = { o, pool, loadThreads, upstream, abort, workDir, log }

    try {
      for (const s of scenarios) {
        const window = roundMs(o, s)
        const results = new Map<string, Map<string, RoundResult[]>>() // case → target → rounds
        const measured = new Map<string, Live[]>()
        for (const c of s.cases) {
          const live = applicable(s, c, targets).filter((t) => running.get(t.name)?.ports[c.service] !== undefined)
          measured.set(c.name, live.map((t) => ({ name: t.name, running: running.get(t.name)! })))
          results.set(c.name, new Map(live.map((t) => [t.name, []])))
        }
        const rate = rateCases(s)
        const round = async (c: RateCase, t: Live, win: number, n: number, warm: boolean): Promise<RoundResult> => {
          if (usesWrk(o, c)) return runWrkRound(st, c, t, win, n)
          return runRound(st, c, t, win, n, !warm && isFixed(o, c))
        }
        if (o.warmupMs > 0) {
          for (const c of rate) {
            for (const t of measured.get(c.name)!) {
              const r = await round(c, t, o.warmupMs, 0, true)
              log(progressLine(c, t.name, `${s.name} ${c.name} warm`, r, stepLabel()))
            }
          }
        }
        if (o.profile) {
          for (const t of new Set(rate.flatMap((c) => measured.get(c.name)!))) await t.running.startProfile?.()
        }
        for (let n = 1; n <= o.rounds && rate.length > 0; n++) {
          for (const c of rate) {
            for (const t of measured.get(c.name)!) {
              const r = await round(c, t, window, n, false)
              results.get(c.name)!.get(t.name)!.push(r)
              log(progressLine(c, t.name, `${s.name} ${c.name} ${n}/${o.rounds}`, r, stepLabel()))
            }
          }
        }
        if (o.profile) {
          const done = new Set<string>()
          for (const c of rate) {
            for (const t of measured.get(c.name)!) {
              if (done.has(t.name)) continue
              done.add(t.name)
              const files = (await t.running.stopProfile?.()) ?? []
              profiles.push(...keepProfiles(files, outDir, path.join('profiles', s.name, t.name)))
            }
          }
        }
        for (const c of s.cases.filter((x): x is IdleCase => x.kind === 'idle')) {
          for (const t of measured.get(c.name)!) {
            const r = await runIdleRound(st, c, t)
            results.get(c.name)!.get(t.name)!.push(r)
            log(progressLine(c, t.name, `${s.name}`, r, stepLabel()))
          }
        }
        for (const c of s.cases) cases.push(caseReport(s, c, o, window, targets, results.get(c.name)!, skipped, running))
      }
    } catch (err) {
      if (!(err instanceof BenchTimeout) && !(abort.signal.reason instanceof BenchTimeout)) throw err
      truncated = (abort.signal.reason as Error).message
      log(`bench: ${truncated}`)
    }
  } finally {
    clearTimeout(deadline)
    input.signal?.removeEventListener('abort', onOuterAbort)
    // Stop everything even when the run failed or was cut off; nothing may outlive the bench.
    await pool?.destroy().catch(() => {})
    await Promise.all([...running.values()].map((r) => r.stop().catch(() => {})))
    await stopAll()
    if (o.profile) {
      for (const r of running.values()) {
        const files = r.profileFilesAfterStop?.() ?? []
        profiles.push(...keepProfiles(files, outDir, path.join('profiles', 'whole-run')))
      }
    }
    restoreAffinity?.()
    fs.rmSync(workDir, { recursive: true, force: true })
  }

  const profileSummaries = profiles
    .filter((p) => p.includes(`${path.sep}envoy-ts${path.sep}`) && /worker_\d+\.cpuprofile$/.test(p))
    .map((file) => {
      const summary = summarizeProfile(JSON.parse(fs.readFileSync(file, 'utf8')) as Parameters<typeof summarizeProfile>[0])
      return { file: outDir !== undefined ? path.relative(outDir, file) : file, text: formatSummary({ ...summary, files: summary.files.slice(0, 8) }, 15) }
    })

  const report: BenchReport = {
    version: 2,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    elapsedMs: Math.round(performance.now() - t0),
    announcedLimitMs: limit,
    expectedMs: expected,
    machine,
    options: o,
    loadThreads,
    pin,
    processes: [...startedProcesses.slice(processesBefore), ...groupPids],
    skipped,
    notes,
    cases,
    targetLines: targetLines(cases, o, pin),
    figureLines: figureLines(cases),
    profiles,
    profileSummaries,
    ...(truncated !== undefined ? { truncated } : {}),
    ...(outDir !== undefined ? { outDir } : {}),
  }
  if (outDir !== undefined) {
    fs.mkdirSync(outDir, { recursive: true })
    fs.writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`)
    fs.writeFileSync(path.join(outDir, 'results.md'), markdownReport(report))
    fs.writeFileSync(path.join(outDir, 'chart.svg'), chartSvg(report))
  }
  return report
}

/** The first line of an error and, when the process said more, its last line (e.g. haproxy's ALERT). */
function briefError(err: Error): string {
  const lines = err.message.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  if (lines.length <= 1) return lines[0] ?? String(err)
  return `${lines[0]}: ${lines[lines.length - 1]}`
}

/** Moves profile files out of the temp dir into the results dir (or drops them with --no-save). */
function keepProfiles(files: readonly string[], outDir: string | undefined, sub: string): string[] {
  if (outDir === undefined || files.length === 0) return []
  const dir = path.join(outDir, sub)
  fs.mkdirSync(dir, { recursive: true })
  return files.map((f) => {
    const to = path.join(dir, path.basename(f))
    fs.renameSync(f, to)
    return to
  })
}

function caseReport(
  s: Scenario, c: CaseSpec, o: BenchOptions, window: number, targets: readonly Target[],
  rounds: Map<string, RoundResult[]>, skipped: ReadonlyArray<{ target: string; reason: string }>, running: ReadonlyMap<string, RunningTarget>,
): CaseReport {
  const app = applicable(s, c, targets)
  const results: TargetCaseResult[] = app.map((t) => {
    const skip = skipped.find((x) => x.target === t.name)?.reason ?? running.get(t.name)?.unavailable?.[c.service]
    const rs = rounds.get(t.name) ?? []
    if (skip !== undefined || rs.length === 0) return { target: t.name, kind: t.kind, rounds: rs, skipped: skip ?? 'no measured round' }
    const median = medianBy(rs, (r) => r.rate)!
    const rates = rs.map((r) => r.rate)
    const spreadPct = median.rate > 0 ? ((Math.max(...rates) - Math.min(...rates)) / median.rate) * 100 : 0
    return { target: t.name, kind: t.kind, rounds: rs, median, ...(c.kind === 'rate' ? { spreadPct } : {}) }
  })
  const rateOf = (name: string): number | undefined => results.find((r) => r.target === name)?.median?.rate
  const direct = rateOf('direct')
  const envoyTs = rateOf('envoy-ts')
  if (c.kind === 'rate') {
    for (const r of results) {
      if (r.median === undefined) continue
      if (direct !== undefined && direct > 0) r.vsDirect = r.median.rate / direct
      if (envoyTs !== undefined && envoyTs > 0) r.vsEnvoyTs = r.median.rate / envoyTs
    }
  }
  return {
    scenario: s.name,
    case: c.name,
    title: c.title,
    kind: c.kind,
    unit: c.kind === 'rate' ? c.unit : 'rq/s',
    showBytes: c.kind === 'rate' && c.showBytes,
    latency: c.kind === 'rate' && c.latency,
    mode: c.kind === 'rate' && isFixed(o, c) ? 'fixed' : 'timed',
    roundMs: c.kind === 'rate' && usesWrk(o, c) ? wrkWindowMs(window) : window,
    results,
    notApplicable: targets.filter((t) => !app.includes(t)).map((t) => t.name),
  }
}
