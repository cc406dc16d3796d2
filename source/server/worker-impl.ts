import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { ErrorCode } from '../common/errors/codes.js'
import { EnvoyTsError } from '../common/errors/envoy-ts-error.js'
import { RpcChannel } from '../common/thread/rpc-channel.js'
import type { MainEvents, MainMethods, WorkerEvents, WorkerMethods, WorkerStartData } from '../envoy/server/worker.js'
import { type WatchdogMemory, workerWatchdogSlot } from './watchdog-memory.js'

/** Main's end of a worker's channel. */
export type Channel = RpcChannel<WorkerMethods, MainMethods, MainEvents, WorkerEvents>

const SHUTDOWN_TIMEOUT_MS = 5000

/**
 * Main's handle on one worker thread (Envoy's WorkerImpl, seen from main). Starting and
 * restarting are the same path: `start()` builds a fresh thread from `startData()`.
 */
export class WorkerImpl {
  readonly index: number
  private readonly startData: () => WorkerStartData
  private readonly watchdog: WatchdogMemory
  private readonly log: Logger
  private readonly onExit: (worker: WorkerImpl, code: number) => void
  /** Registers main's handlers for the worker's requests on each new thread's channel. */
  private readonly serveChannel: (rpc: Channel, index: number) => void
  private thread: Worker | undefined
  private rpc: Channel | undefined
  private stopping = false
  private startedAt = 0

  constructor(index: number, startData: () => WorkerStartData, watchdog: WatchdogMemory, log: Logger,
    onExit: (worker: WorkerImpl, code: number) => void, serveChannel: (rpc: Channel, index: number) => void = () => {}) {
    this.index = index
    this.serveChannel = serveChannel
    this.startData = startData
    this.watchdog = watchdog
    this.log = log
    this.onExit = onExit
  }

  /** Milliseconds since this thread was last started. */
  uptimeMs(): number {
    return Date.now() - this.startedAt
  }

  running(): boolean {
    return this.thread !== undefined
  }

  /** A V8 heap snapshot of this thread. */
  heapSnapshot(): Promise<NodeJS.ReadableStream> {
    if (this.thread === undefined) return Promise.reject(new EnvoyTsError(ErrorCode.WORKER_GONE, `worker_${this.index} is not running`))
    return this.thread.getHeapSnapshot()
  }

  /** Spawns the thread and resolves once it reports ready; rejects if it dies first. */
  start(): Promise<void> {
    this.stopping = false
    const thread = new Worker(new URL('./worker-main.js', import.meta.url), {
      workerData: this.startData(),
      name: `worker_${this.index}`,
    })
    const rpc: Channel = new RpcChannel(thread)
    this.serveChannel(rpc, this.index)
    this.thread = thread
    this.rpc = rpc
    this.startedAt = Date.now()
    return new Promise((resolve, reject) => {
      let ready = false
      rpc.on('ready', () => {
        ready = true
        // The guard dog times the worker's loop from here: loading modules and building the
        // config at start-up is not a stall.
        this.watchdog.started(workerWatchdogSlot(this.index))
        resolve()
      })
      thread.on('error', (err) => {
        this.log.error({ worker: this.index, err }, 'worker thread failed')
        if (!ready) reject(new EnvoyTsError(ErrorCode.WORKER_START, `worker_${this.index} failed to start: ${err.message}`))
      })
      thread.on('exit', (code) => {
        this.watchdog.stopped(workerWatchdogSlot(this.index))
        rpc.close(`worker_${this.index} exited`)
        if (this.thread === thread) {
          this.thread = undefined
          this.rpc = undefined
        }
        if (!ready) {
          reject(new EnvoyTsError(ErrorCode.WORKER_START, `worker_${this.index} exited with code ${code} before it was ready`))
          return
        }
        if (!this.stopping) this.onExit(this, code)
      })
    })
  }

  call<M extends keyof WorkerMethods & string>(method: M, params: WorkerMethods[M]['params'], timeoutMs = 5000): Promise<WorkerMethods[M]['result']> {
    if (this.rpc === undefined) return Promise.reject(new EnvoyTsError(ErrorCode.WORKER_GONE, `worker_${this.index} is not running`))
    return this.rpc.call(method, params, timeoutMs)
  }

  /** Asks the thread to close everything, then ends it (forcibly if it does not answer). */
  async stop(): Promise<void> {
    const thread = this.thread
    if (thread === undefined) return
    this.stopping = true
    try {
      await this.call('shutdown', {}, SHUTDOWN_TIMEOUT_MS)
    } catch (err) {
      this.log.warn({ worker: this.index, err }, 'worker did not shut down cleanly')
    }
    await thread.terminate()
  }
}
