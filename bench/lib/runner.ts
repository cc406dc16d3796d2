import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Piscina } from 'piscina'
import type { TcpLoadResult, TcpLoadTask } from '../load/types.js'
import { findScenario } from '../scenarios/index.js'
import type { CaseSpec, LoadSettings, Scenario } from '../scenarios/types.js'
import { findTarget } from '../targets/index.js'
import type { RunningTarget, ServiceSpec, Target, TargetContext } from '../targets/types.js'
import { BenchChild, Unavailable, startedProcesses, stopAll } from './child.js'
import { mergeHistograms, medianBy } from './latency.js'
import { machineInfo } from './machine.js'
import type { BenchOptions } from './options.js'
import { validateOptions } from './options.js'
import { benchScript, RESULTS_DIR } from './paths.js'
import { planPinning, pinSelf } from './pin.js'
import { cpuBetween, type ProcSample, sampleProc } from './proc-stat.js'
import {
  type BenchReport, type CaseReport, headerLines, markdownReport, type RoundResult, TARGET_RATIO, type TargetCaseResult,
} from './report.js'

const HOST = '127.0.0.1'
/** Fixed mode: a round gives up this long after it starts. */
const FIXED_ROUND_TIMEOUT_MS = 60_000
/** Per-round cost besides the window: dispatch, connect, teardown, the gap between rounds. */
const ROUND_OVERHEAD_MS = 200
const ROUND_GAP_MS = 50
const STARTUP_ALLOWANCE_MS = 5000

export interface RunInput {
  options: BenchOptions
  /** Targets beyond the built-in ones (tests use this to simulate a missing peer). */
  extraTargets?: readonly Target[]
  /** Progress and header lines; default: stderr. */
  log?: (line: string) => void
  /** Aborts the run (Ctrl-C); everything started is stopped before runBench rejects. */
  signal?: AbortSignal
}

export class BenchTimeout extends Error {
  readonly code = 'BENCH_TIMEOUT'
}

/** How long a case's round window is. */
function roundMs(o: BenchOptions, s: Scenario): number {
  return Math.max(1, Math.floor(o.durationMs / o.rounds / s.cases.length))
}

function isFixed(o: BenchOptions, c: CaseSpec): boolean {
  return o.requestsPerConnection !== undefined && c.fixedCount
}

/** Expected run time from the plan; the announced hard limit is derived from it. */
export function estimateMs(o: BenchOptions): number {
  let total = STARTUP_ALLOWANCE_MS
  for (const name of o.scenarios) {
    const s = findScenario(name)!
    for (const c of s.cases) {
      const window = isFixed(o, c) ? FIXED_ROUND_TIMEOUT_MS : roundMs(o, s)
      const perTarget = (o.warmupMs > 0 ? o.warmupMs + c.prerollMs + ROUND_OVERHEAD_MS : 0) + o.rounds * (window + c.prerollMs + ROUND_OVERHEAD_MS)
      total += perTarget * o.targets.length
    }
  }
  return total
}

export function hardLimitMs(expected: number): number {
  return Math.round(expected * 1.3 + 20_000)
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)))
}

function sampleAt(at: number, pids: { proxy?: number; upstream: number }): Promise<{ proxy?: ProcSample; upstream?: ProcSample; load?: ProcSample }> {
  return new Promise((resolve) => setTimeout(() => resolve({
    ...(pids.proxy !== undefined ? { proxy: sampleProc(pids.proxy) } : {}),
    upstream: sampleProc(pids.upstream),
    load: sampleProc(process.pid),
  }), Math.max(0, at - Date.now())))
}

interface RunState {
  o: BenchOptions
  pool: Piscina<TcpLoadTask, TcpLoadResult>
  loadThreads: number
  upstream: BenchChild
  abort: AbortController
  log: (line: string) => void
}

/** One round of one case against one target: fan the connections out over the load threads. */
async function runRound(st: RunState, c: CaseSpec, t: { name: string; running: RunningTarget }, windowMs: number, round: number): Promise<RoundResult> {
  if (st.abort.signal.aborted) throw st.abort.signal.reason as Error
  const o = st.o
  const fixed = isFixed(o, c)
  const threads = Math.min(st.loadThreads, o.connections)
  const settings: LoadSettings = {
    requestSize: o.requestSize,
    responseSize: o.responseSize,
    chunkSize: o.chunkSize,
    ...(fixed ? { requestsPerConnection: o.requestsPerConnection! } : {}),
  }
  const startAt = Date.now() + c.prerollMs + 20
  const tasks: TcpLoadTask[] = []
  for (let i = 0; i < threads; i++) {
    const share = Math.floor(o.connections / threads) + (i < o.connections % threads ? 1 : 0)
    tasks.push({
      ...c.task(settings),
      host: t.running.host,
      port: t.running.ports[c.service]!,
      connections: share,
      startAt,
      durationMs: windowMs,
      timeoutMs: FIXED_ROUND_TIMEOUT_MS,
    })
  }
  const pids = { ...(t.running.pid !== undefined ? { proxy: t.running.pid } : {}), upstream: st.upstream.pid }
  const before = sampleAt(startAt, pids)
  const afterTimed = fixed ? undefined : sampleAt(startAt + windowMs, pids)
  // A task that overruns its window by this much is stuck: abort it (piscina ends the worker).
  const taskSignal = AbortSignal.any([st.abort.signal, AbortSignal.timeout((fixed ? FIXED_ROUND_TIMEOUT_MS : windowMs) + c.prerollMs + 15_000)])
  const results = await Promise.all(tasks.map((task) => st.pool.run(task, { signal: taskSignal })))
  const s0 = await before
  const s1 = afterTimed !== undefined ? await afterTimed : await sampleAt(Date.now(), pids)

  const ops = results.reduce((a, r) => a + r.ops, 0)
  const windowMax = Math.max(...results.map((r) => r.windowMs))
  // Timed: every thread had (almost) the same window, so rates add. Fixed: all ops over the longest.
  const rate = fixed ? (ops / windowMax) * 1000 : results.reduce((a, r) => a + (r.ops / r.windowMs) * 1000, 0)
  const errors: Record<string, number> = {}
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v
  const latency = c.latency ? mergeHistograms(results.flatMap((r) => (r.histogram !== undefined ? [r.histogram] : []))) : undefined
  const proxy = cpuBetween(s0.proxy, s1.proxy)
  const upstream = cpuBetween(s0.upstream, s1.upstream)
  const load = cpuBetween(s0.load, s1.load)
  await sleep(ROUND_GAP_MS)
  return {
    round,
    ops,
    rate,
    windowMs: windowMax,
    connected: results.reduce((a, r) => a + r.connected, 0),
    ...(latency !== undefined ? { latency } : {}),
    errors,
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
    ...(proxy !== undefined ? { proxy } : {}),
    ...(upstream !== undefined ? { upstream } : {}),
    ...(load !== undefined ? { load } : {}),
  }
}

function progressLine(c: CaseSpec, target: string, label: string, r: RoundResult): string {
  const rate = c.unit === 'MB/s' ? `${(r.rate / 1e6).toFixed(1)} MB/s` : `${Math.round(r.rate)} rq/s`
  const lat = r.latency !== undefined ? `, p99 ${(r.latency.p99Us / 1000).toFixed(3)} ms` : ''
  const cpu = r.proxy !== undefined ? `, proxy cpu ${Math.round(r.proxy.cpuPct)}%` : ''
  const err = r.errorCount > 0 ? `, ${r.errorCount} errors` : ''
  return `  ${label.padEnd(13)} ${target.padEnd(14)} ${rate}${lat}${cpu}${err}`
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
}

/**
 * Runs the benchmark: upstream, targets, load pool; warm-up then interleaved measured rounds
 * per scenario; stops everything it started (also on error or timeout) and returns the report.
 * Cut off (BenchTimeout) at the hard limit it announces.
 */
export async function runBench(input: RunInput): Promise<BenchReport> {
  const o = input.options
  const log = input.log ?? ((l: string) => process.stderr.write(`${l}\n`))
  const extra = input.extraTargets ?? []
  validateOptions(o, extra.map((t) => t.name))
  const scenarios = o.scenarios.map((n) => findScenario(n)!)
  const targets = o.targets.map((n) => extra.find((t) => t.name === n) ?? findTarget(n)!)
  const started = new Date()
  const t0 = performance.now()
  const machine = machineInfo()
  const pin = planPinning(o.pin)
  const loadThreads = Math.min(o.loadThreads, o.connections)
  const expected = estimateMs(o)
  const limit = hardLimitMs(expected)
  const processesBefore = startedProcesses.length

  for (const l of headerLines({ machine, options: o, loadThreads, pin })) log(l)
  const plan = scenarios.map((s) => `${s.name}${s.cases.length > 1 ? ` (${s.cases.map((c) => c.name).join(', ')})` : ''}`).join(', ')
  log(`scenarios: ${plan}; targets: ${o.targets.join(', ')}`)
  log(o.requestsPerConnection !== undefined
    ? `rounds: warm-up ${o.warmupMs / 1000} s, then ${o.rounds} × ${o.requestsPerConnection} requests per connection (tcp-rr), interleaved`
    : `rounds: warm-up ${o.warmupMs / 1000} s, then ${o.rounds} measured rounds per target per case, interleaved; --duration ${o.durationMs / 1000} s per target per scenario`)
  log(`expected run time ~${Math.round(expected / 1000)} s; hard limit ${Math.round(limit / 1000)} s`)

  const abort = new AbortController()
  const onOuterAbort = (): void => abort.abort(input.signal?.reason ?? new Error('aborted'))
  if (input.signal?.aborted === true) onOuterAbort()
  input.signal?.addEventListener('abort', onOuterAbort, { once: true })
  const deadline = setTimeout(() => abort.abort(new BenchTimeout(`the run passed its announced limit of ${Math.round(limit / 1000)} s and was stopped`)), limit)
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-bench-'))
  const outDir = o.save ? (o.outDir ?? path.join(RESULTS_DIR, timestamp(started))) : undefined
  let restoreAffinity: (() => void) | undefined
  let pool: Piscina<TcpLoadTask, TcpLoadResult> | undefined
  const running = new Map<string, RunningTarget>()
  const skipped: Array<{ target: string; reason: string }> = []
  const profiles: string[] = []
  const cases: CaseReport[] = []

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
    const serviceNames = [...new Set(scenarios.flatMap((s) => s.services.map((x) => x.name)))]
    const upstream = await abortable(BenchChild.start({
      role: 'upstream',
      name: 'tcp-upstream',
      command: process.execPath,
      args: [
        benchScript('upstream/tcp-upstream.js'), '--services', serviceNames.join(','), '--request-size', String(o.requestSize),
        '--response-size', String(o.responseSize), '--chunk-size', String(o.chunkSize), '--host', HOST,
      ],
      ...(pin.enabled ? { cpus: pin.otherCpus! } : {}),
    }))
    const { ports: upstreamPorts } = await abortable(upstream.waitForJson<{ ports: Record<string, number> }>('ports', 10_000))
    const services: ServiceSpec[] = serviceNames.map((name) => ({ name, protocol: 'tcp', upstreamHost: HOST, upstreamPort: upstreamPorts[name]! }))

    const ctx: TargetContext = { services, concurrency: o.concurrency, pin, workDir, profile: o.profile, envoyBin: o.envoyBin, envoyTsNodeFlags: o.envoyTsNodeFlags, ...(o.bufferLimit !== undefined ? { bufferLimit: o.bufferLimit } : {}), log }
    for (const t of targets) {
      try {
        running.set(t.name, await abortable(t.start(ctx)))
      } catch (err) {
        if (abort.signal.aborted) throw err
        const reason = err instanceof Unavailable ? err.message : `failed to start: ${(err as Error).message.split('\n')[0]}`
        skipped.push({ target: t.name, reason })
        log(`skipping ${t.name}: ${reason}`)
      }
    }

    pool = new Piscina<TcpLoadTask, TcpLoadResult>({
      filename: benchScript('load/tcp-load.js'),
      minThreads: loadThreads,
      maxThreads: loadThreads,
      idleTimeout: 60_000,
    })
    const st: RunState = { o, pool, loadThreads, upstream, abort, log }
    const live = targets.filter((t) => running.has(t.name))

    for (const s of scenarios) {
      const window = roundMs(o, s)
      const results = new Map<string, Map<string, RoundResult[]>>() // case → target → rounds
      for (const c of s.cases) results.set(c.name, new Map(live.map((t) => [t.name, []])))
      if (o.warmupMs > 0) {
        for (const c of s.cases) {
          for (const t of live) {
            const r = await runRound(st, { ...c, fixedCount: false }, { name: t.name, running: running.get(t.name)! }, o.warmupMs, 0)
            log(progressLine(c, t.name, `${c.name} warm`, r))
          }
        }
      }
      if (o.profile) {
        for (const t of live) await running.get(t.name)!.startProfile?.()
      }
      for (let round = 1; round <= o.rounds; round++) {
        for (const c of s.cases) {
          for (const t of live) {
            const r = await runRound(st, c, { name: t.name, running: running.get(t.name)! }, window, round)
            results.get(c.name)!.get(t.name)!.push(r)
            log(progressLine(c, t.name, `${c.name} ${round}/${o.rounds}`, r))
          }
        }
      }
      if (o.profile) {
        for (const t of live) {
          const files = (await running.get(t.name)!.stopProfile?.()) ?? []
          profiles.push(...keepProfiles(files, outDir, path.join('profiles', s.name, t.name)))
        }
      }
      for (const c of s.cases) cases.push(caseReport(s, c, o, window, targets, results.get(c.name)!, skipped))
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

  const report: BenchReport = {
    version: 1,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    elapsedMs: Math.round(performance.now() - t0),
    announcedLimitMs: limit,
    expectedMs: expected,
    machine,
    options: o,
    loadThreads,
    pin,
    processes: startedProcesses.slice(processesBefore),
    skipped,
    cases,
    verdicts: verdicts(cases),
    profiles,
    ...(outDir !== undefined ? { outDir } : {}),
  }
  if (outDir !== undefined) {
    fs.mkdirSync(outDir, { recursive: true })
    fs.writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`)
    fs.writeFileSync(path.join(outDir, 'results.md'), markdownReport(report))
  }
  return report
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
  rounds: Map<string, RoundResult[]>, skipped: ReadonlyArray<{ target: string; reason: string }>,
): CaseReport {
  const results: TargetCaseResult[] = targets.map((t) => {
    const skip = skipped.find((x) => x.target === t.name)
    const rs = rounds.get(t.name) ?? []
    if (skip !== undefined || rs.length === 0) return { target: t.name, kind: t.kind, rounds: rs, skipped: skip?.reason ?? 'no measured round' }
    const median = medianBy(rs, (r) => r.rate)!
    const rates = rs.map((r) => r.rate)
    const spreadPct = median.rate > 0 ? ((Math.max(...rates) - Math.min(...rates)) / median.rate) * 100 : 0
    return { target: t.name, kind: t.kind, rounds: rs, median, spreadPct }
  })
  const rateOf = (name: string): number | undefined => results.find((r) => r.target === name)?.median?.rate
  const direct = rateOf('direct')
  const envoyTs = rateOf('envoy-ts')
  for (const r of results) {
    if (r.median === undefined) continue
    if (direct !== undefined && direct > 0) r.vsDirect = r.median.rate / direct
    if (envoyTs !== undefined && envoyTs > 0) r.vsEnvoyTs = r.median.rate / envoyTs
  }
  return { scenario: s.name, case: c.name, title: c.title, unit: c.unit, latency: c.latency, mode: isFixed(o, c) ? 'fixed' : 'timed', roundMs: window, results }
}

/** envoy-ts against the plain pipe, per case, against the issue's 5% target. */
function verdicts(cases: readonly CaseReport[]): string[] {
  const out: string[] = []
  for (const c of cases) {
    const ets = c.results.find((r) => r.target === 'envoy-ts')?.median
    const pipe = c.results.find((r) => r.target === 'node-net-pipe')?.median
    if (ets === undefined || pipe === undefined || pipe.rate === 0) continue
    const ratio = ets.rate / pipe.rate
    const verdict = ratio >= TARGET_RATIO
      ? `within target (${ratio >= 1 ? `${((ratio - 1) * 100).toFixed(1)}% ahead` : `${((1 - ratio) * 100).toFixed(1)}% behind`})`
      : `BEHIND by ${((1 - ratio) * 100).toFixed(1)}%`
    out.push(`${c.title}: envoy-ts at ${ratio.toFixed(2)}× node-net-pipe (target ≥ ${TARGET_RATIO.toFixed(2)}×): ${verdict}`)
  }
  return out
}
