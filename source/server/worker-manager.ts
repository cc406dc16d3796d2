import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { StatMemory } from '../common/stats/stat-memory.js'
import { workerShard } from '../common/stats/stat-memory.js'
import type { Counter, Scope } from '../envoy/stats/stats.js'
import type { WorkerMethods, WorkerStartData } from '../envoy/server/worker.js'
import type { WatchdogMemory } from './watchdog-memory.js'
import { type Channel, WorkerImpl } from './worker-impl.js'

/**
 * The first restart is immediate: main keeps the listen sockets, so connections wait in the
 * kernel's accept queue until the replacement takes them. A worker that keeps crashing is
 * restarted after 100 ms, then twice as long each time, up to 10 s.
 */
const RESTART_BACKOFF_FIRST_MS = 0
const RESTART_BACKOFF_BASE_MS = 100
const RESTART_BACKOFF_MAX_MS = 10_000
/** A worker that stayed up this long is healthy again: its back-off starts over. */
const RESTART_BACKOFF_RESET_MS = 30_000

/**
 * The set of worker threads on main. A worker that exits unexpectedly is logged, counted
 * (`server.worker_restarts`, `server.worker_<i>.restarts`) and started again after a back-off,
 * while the others keep serving.
 */
export class WorkerManager {
  readonly workers: WorkerImpl[] = []
  private readonly log: Logger
  private readonly memory: StatMemory
  private readonly restarts: Counter
  private readonly perWorkerRestarts: Counter[] = []
  private readonly backoff: number[] = []
  private readonly restartTimers = new Set<NodeJS.Timeout>()
  private stopped = false
  private readonly onRestarted: (index: number) => void

  constructor(
    concurrency: number,
    startData: (index: number) => WorkerStartData,
    watchdog: WatchdogMemory,
    memory: StatMemory,
    scope: Scope,
    log: Logger,
    onRestarted: (index: number) => void = () => {},
    /** Main's handlers for worker requests (runtime API), set up on every (re)started thread. */
    serveChannel: (rpc: Channel, index: number) => void = () => {},
  ) {
    this.log = log
    this.memory = memory
    this.onRestarted = onRestarted
    this.restarts = scope.counter('server.worker_restarts')
    for (let i = 0; i < concurrency; i++) {
      this.perWorkerRestarts.push(scope.counter(`server.worker_${i}.restarts`))
      this.backoff.push(RESTART_BACKOFF_FIRST_MS)
      this.workers.push(new WorkerImpl(i, () => startData(i), watchdog, log, (w, code) => this.crashed(w, code), serveChannel))
    }
  }

  async startAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.start()))
  }

  /** Sends a request to every running worker; a worker that fails or is down is skipped. */
  async broadcast<M extends keyof WorkerMethods & string>(method: M, params: WorkerMethods[M]['params'], timeoutMs = 5000): Promise<Array<WorkerMethods[M]['result']>> {
    const results = await Promise.allSettled(this.workers.filter((w) => w.running()).map((w) => w.call(method, params, timeoutMs)))
    const out: Array<WorkerMethods[M]['result']> = []
    for (const r of results) {
      if (r.status === 'fulfilled') out.push(r.value)
      else this.log.debug({ method, err: r.reason }, 'worker request failed')
    }
    return out
  }

  async stopAll(): Promise<void> {
    this.stopped = true
    for (const t of this.restartTimers) clearTimeout(t)
    this.restartTimers.clear()
    await Promise.all(this.workers.map((w) => w.stop()))
  }

  private crashed(w: WorkerImpl, code: number): void {
    this.memory.clearShardGauges(workerShard(w.index))
    if (this.stopped) return
    this.restarts.inc()
    this.perWorkerRestarts[w.index]!.inc()
    if (w.uptimeMs() > RESTART_BACKOFF_RESET_MS) this.backoff[w.index] = RESTART_BACKOFF_FIRST_MS
    const delay = this.backoff[w.index]!
    this.backoff[w.index] = Math.min(Math.max(delay * 2, RESTART_BACKOFF_BASE_MS), RESTART_BACKOFF_MAX_MS)
    const exitedAt = performance.now()
    this.log.error({ worker: w.index, exit_code: code, restart_in_ms: delay }, 'worker exited unexpectedly; restarting it')
    const t = setTimeout(() => {
      this.restartTimers.delete(t)
      if (this.stopped) return
      w.start().then(
        () => {
          // From the old thread's exit to the new one serving: connections waited this long.
          this.log.info({ worker: w.index, restart_ms: Math.round(performance.now() - exitedAt) }, 'worker restarted')
          this.onRestarted(w.index)
        },
        (err: unknown) => {
          this.log.error({ worker: w.index, err }, 'worker restart failed')
          this.crashed(w, -1)
        },
      )
    }, delay)
    this.restartTimers.add(t)
  }
}
