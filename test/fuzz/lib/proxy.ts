/**
 * The real envoy-ts binary as a fuzz harness sees it: started quiet (log level error) on
 * loopback port 0, with liveness, worker restarts (`server.worker_restarts`), fatal log lines
 * and the resident set (from /proc on Linux) checked on demand.
 */
import fs from 'node:fs'
import path from 'node:path'
import { EnvoyProcess, tempDir } from '../../integration/helpers/envoy-process.js'
import { listenerPort, statsMap } from '../../integration/helpers/tcp.js'

export interface FuzzProxyOptions {
  config: string
  concurrency?: number
  env?: Record<string, string>
  /** A resident set above this is a failure. Default 768 MiB. */
  rssLimitBytes?: number
}

/** Log messages that mean a thread hit an error nobody handled. */
const FATAL_LOG = /uncaught exception|unhandled rejection|worker exited unexpectedly/

export class FuzzProxy {
  readonly envoy: EnvoyProcess
  private readonly rssLimit: number
  private readonly dir: string
  private peak = 0

  private constructor(envoy: EnvoyProcess, rssLimit: number, dir: string) {
    this.envoy = envoy
    this.rssLimit = rssLimit
    this.dir = dir
  }

  static async start(o: FuzzProxyOptions): Promise<FuzzProxy> {
    const dir = tempDir('envoy-ts-fuzz-')
    const cfg = path.join(dir, 'bootstrap.yaml')
    fs.writeFileSync(cfg, o.config)
    const addr = path.join(dir, 'admin.address')
    const envoy = new EnvoyProcess(['-c', cfg, '--concurrency', String(o.concurrency ?? 2), '--log-level', 'error', '--admin-address-path', addr, '--drain-time-s', '1'], o.env)
    const p = new FuzzProxy(envoy, o.rssLimitBytes ?? 768 * 1048576, dir)
    try {
      await envoy.waitForReadyEndpoint(addr, 30_000)
    } catch (err) {
      await envoy.stop('SIGKILL')
      fs.rmSync(dir, { recursive: true, force: true })
      throw err
    }
    return p
  }

  port(listener: string): Promise<number> {
    return listenerPort(this.envoy, listener)
  }

  get pid(): number {
    return this.envoy.child.pid!
  }

  alive(): boolean {
    return this.envoy.child.exitCode === null && this.envoy.child.signalCode === null
  }

  /** Waits up to `ms` for the process to exit (after an answer that looked like a crash). */
  async exitedWithin(ms: number): Promise<boolean> {
    if (!this.alive()) return true
    let timer: NodeJS.Timeout | undefined
    const t = new Promise<false>((r) => { timer = setTimeout(() => r(false), ms) })
    const done = await Promise.race([this.envoy.exited.then(() => true), t])
    clearTimeout(timer)
    return done
  }

  /** Why the process is gone, from its exit status and the last fatal log line. */
  deathNote(): string {
    const c = this.envoy.child
    const fatal = this.fatalLines()
    const tail = fatal.length > 0 ? fatal.join(' | ') : this.envoy.stderr.slice(-600)
    return `the proxy exited (code ${c.exitCode}, signal ${c.signalCode}): ${tail}`
  }

  /** Log lines that say a thread hit an unhandled error (the process may have survived it). */
  fatalLines(): string[] {
    return this.envoy.logs
      .filter((l) => typeof l.msg === 'string' && FATAL_LOG.test(l.msg))
      .map((l) => `${l.msg}: ${JSON.stringify((l as { err?: { message?: string } }).err?.message ?? l.err ?? '')}`.slice(0, 500))
  }

  /** Resident set now and its high-water mark, in bytes (undefined off Linux). */
  rss(): { now: number; peak: number } | undefined {
    try {
      const s = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8')
      const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024
      const r = { now: kb('VmRSS'), peak: kb('VmHWM') }
      this.peak = Math.max(this.peak, r.peak)
      return r
    } catch {
      return undefined
    }
  }

  peakRssBytes(): number | undefined {
    this.rss()
    return this.peak === 0 ? undefined : this.peak
  }

  /** The health checks every target shares: alive, no fatal log, no worker restart, RSS bound. */
  async check(): Promise<string | undefined> {
    if (!this.alive()) return this.deathNote()
    const fatal = this.fatalLines()
    if (fatal.length > 0) return `fatal log line: ${fatal[0]}`
    let stats: Map<string, number>
    try {
      stats = await statsMap(this.envoy, '^server\\.worker_restarts$')
    } catch (err) {
      return `admin /stats did not answer: ${(err as Error).message}`
    }
    const restarts = stats.get('server.worker_restarts') ?? 0
    if (restarts > 0) return `server.worker_restarts = ${restarts}`
    const rss = this.rss()
    if (rss !== undefined && rss.now > this.rssLimit) return `resident set ${(rss.now / 1048576).toFixed(0)} MiB is over the ${(this.rssLimit / 1048576).toFixed(0)} MiB bound`
    return undefined
  }

  async stop(): Promise<void> {
    if (!this.alive()) {
      fs.rmSync(this.dir, { recursive: true, force: true })
      return
    }
    this.envoy.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const killed = new Promise<void>((r) => { timer = setTimeout(() => { this.envoy.child.kill('SIGKILL'); r() }, 5000) })
    await Promise.race([this.envoy.exited, killed])
    clearTimeout(timer)
    await this.envoy.exited
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}
