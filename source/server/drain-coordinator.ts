import type { Logger } from 'pino'
import type { Options } from '../envoy/server/options.js'
import type { DrainState } from './drain-manager-impl.js'
import type { ListenerManagerImpl } from './listener-manager-impl.js'
import type { WorkerManager } from './worker-manager.js'
import { startTimer } from '../common/event/timer-impl.js'
import type { Timer } from '../envoy/event/timer.js'

/**
 * Main's side of draining (Envoy's DrainManager + ListenerManager::stopListeners): stops
 * listeners on main and every worker, flips the shared drain state that HTTP connection
 * managers read, and waits for connections to finish within `--drain-time-s`.
 */
export class DrainCoordinator {
  private readonly options: Options
  private readonly state: DrainState
  private readonly listeners: ListenerManagerImpl
  private readonly workers: () => WorkerManager | undefined
  private readonly log: Logger
  private gracefulTimer: Timer | undefined

  constructor(options: Options, state: DrainState, listeners: ListenerManagerImpl, workers: () => WorkerManager | undefined, log: Logger) {
    this.options = options
    this.state = state
    this.listeners = listeners
    this.workers = workers
    this.log = log
  }

  /**
   * `/drain_listeners`. Without `graceful`, listeners stop accepting now and open connections
   * go on. With it, connections are asked to close over the drain time (listeners still
   * accept meanwhile), then the listeners stop.
   */
  async drainListeners(graceful: boolean, inboundOnly: boolean): Promise<void> {
    const names = this.listeners.drainTargets(inboundOnly)
    if (names.length === 0) return
    if (!graceful) {
      await this.stopListeners(names)
      return
    }
    this.startDrain()
    this.listeners.setDraining(names.length)
    this.gracefulTimer = startTimer(this.options.drainTimeS * 1000, () => {
      this.gracefulTimer = undefined
      this.stopListeners(names).then(() => this.listeners.setDraining(0), (err: unknown) => this.log.error({ err }, 'stopping listeners failed'))
    }).unref()
  }

  /**
   * Shutdown's drain (SIGTERM): refuse new connections now, let open ones finish up to the
   * drain time, then close what is left.
   */
  async drainForShutdown(): Promise<void> {
    this.gracefulTimer?.disableTimer()
    const names = this.listeners.drainTargets(false)
    this.listeners.setDraining(names.length)
    await this.stopListeners(names)
    this.startDrain()
    const workers = this.workers()
    if (workers === undefined) return
    const counts = await workers.broadcast('connections.count', {})
    const open = counts.reduce((a, b) => a + b, 0)
    if (open > 0) {
      this.log.info({ connections: open, drain_time_s: this.options.drainTimeS }, 'draining open connections')
      let timer: Timer | undefined
      const timeout = new Promise<'timeout'>((resolve) => { timer = startTimer(this.options.drainTimeS * 1000, () => resolve('timeout')) })
      const empty = workers.broadcast('connections.wait_empty', {}, 0).then(() => 'empty' as const)
      const outcome = await Promise.race([empty, timeout])
      timer?.disableTimer()
      if (outcome === 'timeout') {
        this.log.info('drain time over: closing the remaining connections')
        await workers.broadcast('connections.close', {})
      }
    }
    this.listeners.setDraining(0)
  }

  private startDrain(): void {
    if (this.state.draining()) return
    this.state.startDrain(this.options.drainTimeS * 1000, this.options.drainStrategy)
    void this.workers()?.broadcast('drain.start', {})
  }

  private async stopListeners(names: string[]): Promise<void> {
    await this.workers()?.broadcast('listeners.stop', { names })
    await this.listeners.stop(names)
    this.log.info({ listeners: names }, 'listeners stopped')
  }
}
