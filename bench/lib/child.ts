import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

/** A target or upstream that cannot run here (missing binary, unsupported platform). */
export class Unavailable extends Error {
  readonly code = 'BENCH_UNAVAILABLE'
}

/** Everything the bench started, so that nothing outlives it (see `killAllSync`). */
const live = new Set<BenchChild>()

/** Every process the bench has started in this process's lifetime, for the report. */
export const startedProcesses: Array<{ role: string; name: string; pid: number; command: string }> = []

/**
 * Resolves a command the way a shell would: a path is checked as is, a bare name is looked up
 * on PATH. Returns undefined when there is nothing executable to run.
 */
export function findCommand(cmd: string): string | undefined {
  const executable = (p: string): boolean => {
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return fs.statSync(p).isFile()
    } catch {
      return false
    }
  }
  if (cmd.includes('/')) return executable(cmd) ? path.resolve(cmd) : undefined
  // Debian puts nginx and haproxy in sbin, which a non-root PATH often lacks.
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin']
  for (const dir of dirs) {
    if (dir === '') continue
    const p = path.join(dir, cmd)
    if (executable(p)) return p
  }
  return undefined
}

export interface SpawnSpec {
  /** Role in the run (`upstream`, `target`), for the report. */
  role: string
  /** Short name for messages (`envoy-ts`, `upstream`). */
  name: string
  command: string
  args: readonly string[]
  env?: Record<string, string>
  cwd?: string
  /** CPU list for `taskset -c` (e.g. `0`, `1-3`); the process is started through taskset. */
  cpus?: string
  /** Keep all of stdout (see `stdoutText`), for tools whose output is the result (wrk). */
  collectStdout?: boolean
}

/**
 * A child process of the bench: stdout and stderr are read line by line (a tail is kept for
 * error messages), and `stop` ends it with SIGTERM, then SIGKILL after a grace period.
 */
export class BenchChild {
  readonly name: string
  readonly role: string
  readonly child: ChildProcess
  readonly commandLine: string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private readonly spawned: Promise<void>
  private stderrTailText = ''
  private stdoutAll: string | undefined
  private readonly lineWaiters: Array<{ stream: 'stdout' | 'stderr'; pred: (line: string) => boolean; resolve: (line: string) => void }> = []

  private constructor(spec: SpawnSpec) {
    this.name = spec.name
    this.role = spec.role
    const argv = spec.cpus !== undefined ? ['-c', spec.cpus, spec.command, ...spec.args] : [...spec.args]
    const command = spec.cpus !== undefined ? 'taskset' : spec.command
    this.commandLine = [command, ...argv].join(' ')
    // Its own process group, so that whatever it starts (nginx's workers, a cluster's
    // children) is stopped with it even when it dies first: see `killGroup`.
    this.child = spawn(command, argv, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    this.spawned = new Promise((resolve, reject) => {
      this.child.once('spawn', () => resolve())
      this.child.once('error', reject)
    })
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        // Still tracked while its group lives on (stop() and killAllSync() clean it up).
        if (!this.groupAlive()) live.delete(this)
        resolve({ code, signal })
      })
    })
    live.add(this)
    if (spec.collectStdout === true) this.stdoutAll = ''
    this.readLines('stdout')
    this.readLines('stderr')
  }

  /** Spawns and resolves once the OS has started the process; a missing command is `Unavailable`. */
  static async start(spec: SpawnSpec): Promise<BenchChild> {
    if (findCommand(spec.command) === undefined) throw new Unavailable(`${spec.name}: command not found: ${spec.command}`)
    if (spec.cpus !== undefined && findCommand('taskset') === undefined) throw new Unavailable(`${spec.name}: taskset not found (needed by --pin)`)
    const c = new BenchChild(spec)
    try {
      await c.spawned
    } catch (err) {
      live.delete(c)
      const e = err as NodeJS.ErrnoException
      if (e.code === 'ENOENT' || e.code === 'EACCES') throw new Unavailable(`${spec.name}: cannot run ${spec.command}: ${e.code}`)
      throw err
    }
    startedProcesses.push({ role: spec.role, name: spec.name, pid: c.pid, command: c.commandLine })
    return c
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Everything written to stdout (only with `collectStdout`). */
  get stdoutText(): string {
    return this.stdoutAll ?? ''
  }

  /** The last few KiB of stderr, for error messages. */
  get stderrTail(): string {
    return this.stderrTailText
  }

  private readLines(stream: 'stdout' | 'stderr'): void {
    let buf = ''
    const s = stream === 'stdout' ? this.child.stdout! : this.child.stderr!
    s.setEncoding('utf8').on('data', (d: string) => {
      if (stream === 'stderr') this.stderrTailText = (this.stderrTailText + d).slice(-8192)
      else if (this.stdoutAll !== undefined) this.stdoutAll += d
      // Only parse lines while someone waits for one: proxies may log a lot.
      if (this.lineWaiters.length === 0) {
        buf = ''
        return
      }
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        for (let i = this.lineWaiters.length - 1; i >= 0; i--) {
          const w = this.lineWaiters[i]!
          if (w.stream === stream && w.pred(line)) {
            this.lineWaiters.splice(i, 1)
            w.resolve(line)
          }
        }
      }
    })
  }

  /**
   * Resolves with the first line on `stream` matching `pred` from now on; rejects when the process
   * exits first or after `timeoutMs`. Call it right after `start` so no line is missed.
   */
  waitForLine(stream: 'stdout' | 'stderr', pred: (line: string) => boolean, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      let done = false
      const w = {
        stream,
        pred,
        resolve: (l: string): void => {
          done = true
          clearTimeout(timer)
          resolve(l)
        },
      }
      const timer = setTimeout(() => {
        if (done) return
        done = true
        this.lineWaiters.splice(this.lineWaiters.indexOf(w), 1)
        reject(new Error(`${this.name}: not ready after ${timeoutMs} ms\n${this.stderrTail.slice(-2000)}`))
      }, timeoutMs)
      this.lineWaiters.push(w)
      void this.exited.then(({ code, signal }) => {
        if (done) return
        done = true
        clearTimeout(timer)
        reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) before it was ready\n${this.stderrTail.slice(-2000)}`))
      })
    })
  }

  /** The first stdout line that parses as a JSON object with `key`. */
  async waitForJson<T>(key: string, timeoutMs: number): Promise<T> {
    const line = await this.waitForLine('stdout', (l) => {
      try {
        const v = JSON.parse(l) as Record<string, unknown>
        return typeof v === 'object' && v !== null && key in v
      } catch {
        return false
      }
    }, timeoutMs)
    return JSON.parse(line) as T
  }

  /**
   * SIGTERM, then SIGKILL to its whole process group if it has not exited after `graceMs`.
   * Resolves once it and every process left in its group are gone.
   */
  async stop(graceMs = 3000): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM')
      const timer = setTimeout(() => { if (this.running) this.killGroup() }, graceMs)
      await this.exited
      clearTimeout(timer)
    } else {
      await this.exited
    }
    // Children it left behind (e.g. nginx workers of a master that was killed): give them a
    // moment to follow their parent, then kill what is left.
    for (let i = 0; i < 20 && this.groupAlive(); i++) await new Promise((r) => setTimeout(r, 25))
    if (this.groupAlive()) this.killGroup()
    live.delete(this)
  }

  /** Whether any process of its group is still running. */
  groupAlive(): boolean {
    if (this.child.pid === undefined) return false
    try {
      process.kill(-this.child.pid, 0)
      return true
    } catch {
      return false
    }
  }

  /** SIGKILL to the whole process group (no-op when it is gone). */
  killGroup(): void {
    if (this.child.pid === undefined) return
    try {
      process.kill(-this.child.pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }

  /** For the exit handler, which cannot wait: SIGKILL to the group. */
  killSync(): void {
    this.killGroup()
  }
}

/** Stops every live child (in parallel). */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(graceMs)))
}

/** Last resort on exit: SIGKILL whatever is still running. */
export function killAllSync(): void {
  for (const c of live) c.killSync()
}

/** Number of children still running (the test checks it is zero after a run). */
export function liveChildren(): number {
  return live.size
}
