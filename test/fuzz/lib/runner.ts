/**
 * The fuzz runner: runs a target's cases for a time and/or case budget, each case generated from
 * (seed, case number) alone; on a failure it prints the seed and case number and writes the
 * inputs that replay it to `<outDir>/<target>-<seed>-<case>.json` (`npm run fuzz -- --replay
 * <file>` runs them again against a fresh harness).
 */
import fs from 'node:fs'
import path from 'node:path'
import { caseRng, type Prng } from './prng.js'

/** What a target may use while it starts: a log line sink and a private temp directory. */
export interface FuzzEnv {
  log(line: string): void
}

/** A running system under test (a proxy process with its upstreams, a validator worker, ...). */
export interface FuzzHarness<I> {
  /** Runs one case; resolves with a failure description, or undefined when every check held. */
  run(input: I): Promise<string | undefined>
  /** Checks too costly for every case (admin stats, RSS, liveness); a failure description or undefined. */
  check(): Promise<string | undefined>
  /** True once the harness cannot run more cases (its process died): the runner starts a new one. */
  broken(): boolean
  /** The peak resident set of the process under test so far, if there is one. */
  peakRssBytes(): number | undefined
  stop(): Promise<void>
}

/** A fuzz target: how to generate a case and how to start what runs it. Inputs are JSON values. */
export interface FuzzTarget<I> {
  name: string
  about: string
  generate(rng: Prng, index: number): I
  start(env: FuzzEnv): Promise<FuzzHarness<I>>
}

export interface RunOptions {
  seed: number
  /** Stop starting cases after this many seconds. */
  seconds?: number
  /** Stop after this many cases. */
  maxCases?: number
  /** Where replay files go (created on the first failure). */
  outDir: string
  /** Run the harness's `check()` every this many cases (and at the end). Default 50. */
  checkEvery?: number
  /** Stop the target after this many distinct failures (by signature). Default 10. */
  maxFailures?: number
  /** Stop the target after this many harness restarts (each one a dead proxy). Default 20. */
  maxRestarts?: number
  /** A case that takes longer than this is a failure (a hang). Default 30 s. */
  caseTimeoutMs?: number
  log?: (line: string) => void
}

export interface Failure {
  case: number
  message: string
  replayFile: string
  /** Later cases that failed the same way (same signature); no replay file is written for them. */
  repeats: number
}

/** A failure's kind: its message with numbers, quoted text and function names blurred. */
export function signature(message: string): string {
  return message.split('\n')[0]!
    .replace(/\(after cases [^)]*\)/, '')
    .replace(/\/tmp\/\S+?\.ya?ml/g, 'FILE')
    .replace(/from --mode validate \(exit \d+\)|from validation/, 'from validation')
    .replace(/function \w*\(\)/g, 'function()')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+/g, 'N')
    .replace(/\s+/g, ' ')
    .slice(0, 200)
}

export interface RunResult {
  target: string
  seed: number
  cases: number
  failures: Failure[]
  /** Harnesses started after one broke (the proxy died). */
  restarts: number
  peakRssBytes: number | undefined
  elapsedMs: number
}

/** The content of a replay file. */
export interface ReplayFile<I = unknown> {
  target: string
  seed: number
  case: number
  message: string
  /** The inputs to run in order: the failing case, or every case since the last passed check. */
  inputs: I[]
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms) })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

function writeReplay(outDir: string, r: ReplayFile): string {
  fs.mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, `${r.target}-${r.seed}-${r.case}.json`)
  fs.writeFileSync(file, `${JSON.stringify(r, null, 1)}\n`)
  return file
}

/** Runs `target` within the budget of `opts`; never throws for a failing case. */
export async function runTarget<I>(target: FuzzTarget<I>, opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`))
  const env: FuzzEnv = { log }
  const started = Date.now()
  const deadline = opts.seconds !== undefined ? started + opts.seconds * 1000 : Infinity
  const maxCases = opts.maxCases ?? Infinity
  const checkEvery = opts.checkEvery ?? 50
  const maxFailures = opts.maxFailures ?? 10
  const maxRestarts = opts.maxRestarts ?? 20
  const caseTimeoutMs = opts.caseTimeoutMs ?? 30_000
  const failures: Failure[] = []
  let restarts = 0
  let peak: number | undefined
  let harness = await target.start(env)
  let window: I[] = []
  let cases = 0

  const notePeak = (): void => {
    const p = harness.peakRssBytes()
    if (p !== undefined) peak = Math.max(peak ?? 0, p)
  }
  const fail = (index: number, message: string, inputs: I[]): void => {
    const same = failures.find((f) => signature(f.message) === signature(message))
    if (same !== undefined) {
      same.repeats++
      return
    }
    const replayFile = writeReplay(opts.outDir, { target: target.name, seed: opts.seed, case: index, message, inputs })
    failures.push({ case: index, message, replayFile, repeats: 0 })
    log(`fuzz ${target.name}: FAILURE seed=${opts.seed} case=${index}: ${message.split('\n')[0]}\n  replay: npm run fuzz -- --replay ${replayFile}`)
  }
  const restart = async (): Promise<void> => {
    notePeak()
    await harness.stop().catch(() => {})
    restarts++
    harness = await target.start(env)
    window = []
  }

  try {
    for (let i = 0; i < maxCases && Date.now() < deadline && failures.length < maxFailures && restarts < maxRestarts; i++) {
      const input = target.generate(caseRng(opts.seed, i), i)
      window.push(input)
      cases++
      let message: string | undefined
      try {
        message = await withTimeout(harness.run(input), caseTimeoutMs, `case ${i}`)
      } catch (err) {
        message = `the case threw: ${(err as Error).stack ?? String(err)}`
      }
      if (message !== undefined) fail(i, message, [input])
      if (message === undefined && (cases % checkEvery === 0 || harness.broken())) {
        const c = await withTimeout(harness.check(), caseTimeoutMs, 'check').catch((err: Error) => err.message)
        if (c !== undefined) fail(i, `${c} (after cases ${i - window.length + 1}..${i})`, window)
        window = []
      }
      if (message !== undefined) window = []
      if (harness.broken()) {
        if (restarts + 1 >= maxRestarts) {
          log(`fuzz ${target.name}: stopping after ${maxRestarts} restarts of a dead harness`)
          restarts++
          break
        }
        await restart()
      }
    }
    if (failures.length < maxFailures && window.length > 0) {
      const c = await withTimeout(harness.check(), caseTimeoutMs, 'check').catch((err: Error) => err.message)
      if (c !== undefined) fail(cases - 1, `${c} (after cases ${cases - window.length}..${cases - 1})`, window)
    }
  } finally {
    notePeak()
    await harness.stop().catch(() => {})
  }
  return { target: target.name, seed: opts.seed, cases, failures, restarts, peakRssBytes: peak, elapsedMs: Date.now() - started }
}

/** Runs the inputs of a replay file against a fresh harness; resolves with each failure found. */
export async function replay<I>(target: FuzzTarget<I>, file: ReplayFile<I>, log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string[]> {
  const harness = await target.start({ log })
  const found: string[] = []
  try {
    for (const [k, input] of file.inputs.entries()) {
      const m = await withTimeout(harness.run(input), 30_000, `input ${k}`).catch((err: Error) => `the case threw: ${err.message}`)
      if (m !== undefined) found.push(`input ${k}: ${m}`)
      if (harness.broken()) break
    }
    if (!harness.broken() || found.length === 0) {
      const c = await harness.check()
      if (c !== undefined) found.push(c)
    }
  } finally {
    await harness.stop().catch(() => {})
  }
  return found
}

/** One line per target, as `npm run fuzz` prints it. */
export function summaryLine(r: RunResult): string {
  const failing = r.failures.reduce((n, f) => n + 1 + f.repeats, 0)
  const rss = r.peakRssBytes !== undefined ? `${(r.peakRssBytes / 1048576).toFixed(1)} MiB` : 'n/a'
  return `${r.target.padEnd(18)} cases=${String(r.cases).padStart(7)}  seed=${r.seed}  failures=${r.failures.length}${failing > r.failures.length ? ` (${failing} cases)` : ''}  restarts=${r.restarts}  peak_rss=${rss}  time=${(r.elapsedMs / 1000).toFixed(1)}s`
}
