import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package root (this file is at dist/test/integration/helpers/). */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
export const BIN = path.join(ROOT, 'bin/envoy-ts.js')

export interface LogLine {
  level?: string
  msg?: string
  component?: string
  [key: string]: unknown
}

export interface EnvoyOptions {
  /** Bootstrap YAML text (written to a temp file) or an existing file path. */
  config?: string
  configPath?: string
  args?: string[]
  env?: Record<string, string>
  /** Resolve `start` at LIVE (default) or right after spawning. */
  waitFor?: 'live' | 'spawn'
  /** Start under `ulimit -n <fdLimit>` (soft and hard), through bash. */
  fdLimit?: number
}

export function tempDir(prefix = 'envoy-ts-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export function writeTemp(name: string, text: string, dir = tempDir()): string {
  const p = path.join(dir, name)
  fs.writeFileSync(p, text)
  return p
}

const LIVE = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of LIVE) c.kill('SIGKILL')
})

/**
 * A running envoy-ts process. Its stderr JSON log lines are parsed as they arrive so a test can
 * await a specific line instead of sleeping.
 */
export class EnvoyProcess {
  readonly child: ChildProcess
  readonly logs: LogLine[] = []
  stdout = ''
  stderr = ''
  adminAddress = ''
  private readonly waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = []
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(args: string[], env: Record<string, string> = {}, fdLimit?: number) {
    const [cmd, argv] = fdLimit === undefined
      ? [process.execPath, [BIN, ...args]]
      // exec: the child is node itself, so signals and the exit code are envoy-ts's.
      : ['bash', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, BIN, ...args]]
    this.child = spawn(cmd, argv, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let buf = ''
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d })
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        this.onLine(line)
      }
    })
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })))
    // A test that fails before its clean-up must not leave a proxy running after the test file.
    LIVE.add(this.child)
    this.child.on('exit', () => LIVE.delete(this.child))
  }

  private onLine(line: string): void {
    let parsed: LogLine
    try {
      parsed = JSON.parse(line) as LogLine
    } catch {
      return
    }
    this.logs.push(parsed)
    if (parsed.msg === 'admin address' && typeof parsed.address === 'string') this.adminAddress = parsed.address
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!
      if (w.pred(parsed)) {
        this.waiters.splice(i, 1)
        w.resolve(parsed)
      }
    }
  }

  /**
   * Resolves with the first log line (past or future) matching `pred`; rejects if the process
   * exits first, or after `timeoutMs` (so a line that never comes fails the test instead of
   * hanging the whole test file).
   */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.logs.find(pred)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.pred === pred)
        if (i >= 0) this.waiters.splice(i, 1)
        reject(new Error(`no matching log line within ${timeoutMs} ms\nstderr:\n${this.stderr.slice(-4000)}`))
      }, timeoutMs)
      this.waiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolve(l) } })
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer)
        reject(new Error(`envoy-ts exited (code ${code}, signal ${signal}) before the expected log line\nstderr:\n${this.stderr.slice(-4000)}`))
      })
    })
  }

  /**
   * Waits for LIVE without relying on logs (for quiet log levels): the admin address file,
   * then `/ready` until it answers 200. Needs `--admin-address-path <file>` in the args.
   */
  async waitForReadyEndpoint(addressFile: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`envoy-ts exited early:\n${this.stderr}`)
      if (fs.existsSync(addressFile)) {
        this.adminAddress = fs.readFileSync(addressFile, 'utf8')
        const ok = await fetch(`http://${this.adminAddress}/ready`).then((r) => r.status === 200, () => false)
        if (ok) return
      }
      if (Date.now() > deadline) throw new Error('envoy-ts did not become ready')
      // A separate process offers no event for "LIVE" at this log level: poll briefly.
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  waitForLive(): Promise<LogLine> {
    return this.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('envoy-ts initialized'))
  }

  get adminUrl(): string {
    return `http://${this.adminAddress}`
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return this.exited
  }
}

/** Starts envoy-ts with a config and waits until it is LIVE. */
export async function startEnvoy(opts: EnvoyOptions): Promise<EnvoyProcess> {
  const args: string[] = []
  if (opts.config !== undefined) args.push('-c', writeTemp('bootstrap.yaml', opts.config))
  if (opts.configPath !== undefined) args.push('-c', opts.configPath)
  if (!(opts.args ?? []).includes('--concurrency')) args.push('--concurrency', '1')
  args.push(...(opts.args ?? []))
  const p = new EnvoyProcess(args, opts.env, opts.fdLimit)
  if (opts.waitFor !== 'spawn') await p.waitForLive()
  return p
}

/** Runs envoy-ts to completion (validate mode, bad options) and returns its output. */
export async function runEnvoy(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = new EnvoyProcess(args, env)
  const { code } = await p.exited
  return { code, stdout: p.stdout, stderr: p.stderr }
}

/** A minimal bootstrap with admin on an ephemeral loopback port. */
export const ADMIN_ONLY = `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
`
