import type { Logger } from 'pino'
import type { InternalListenerRegistry } from '../common/network/internal-listener-registry.js'
import type { ThreadLocalOverloadState } from '../envoy/server/overload.js'
import type { Scope } from '../envoy/stats/stats.js'
import { ActiveTcpListener, type WorkerSocket } from './active-tcp-listener.js'
import type { ListenerImpl } from './listener-impl.js'

/**
 * A worker's listeners and their connections (Envoy's ConnectionHandlerImpl). Worker thread
 * only.
 */
export class ConnectionHandlerImpl {
  private readonly listeners = new Map<string, ActiveTcpListener>()
  private readonly workerIndex: number
  private readonly scope: Scope
  private readonly log: Logger

  private readonly internal: InternalListenerRegistry

  private overload: ThreadLocalOverloadState | undefined

  constructor(workerIndex: number, scope: Scope, log: Logger, internal: InternalListenerRegistry) {
    this.workerIndex = workerIndex
    this.scope = scope
    this.log = log
    this.internal = internal
  }

  /** The overload state listeners added from now on consult (set once, before any listener). */
  setOverloadState(overload: ThreadLocalOverloadState): void {
    this.overload = overload
  }

  /** The overload manager's listener actions (stop_accepting_connections), on every listener. */
  applyOverload(): void {
    for (const l of this.listeners.values()) l.applyOverload()
  }

  async addListener(listener: ListenerImpl, socket: WorkerSocket): Promise<void> {
    const active = new ActiveTcpListener(listener, this.workerIndex, this.scope, this.log, this.overload)
    this.listeners.set(listener.name, active)
    await active.start(socket, this.internal)
  }

  /** A connection main accepted for `listener` (exact balance, pipes). */
  adopt(listener: string, fd: number): boolean {
    const l = this.listeners.get(listener)
    if (l === undefined) return false
    l.adoptFd(fd)
    return true
  }

  /** Stops accepting on the named listeners (all when `names` is undefined). */
  async stopListeners(names?: readonly string[]): Promise<void> {
    const targets = [...this.listeners.values()].filter((l) => names === undefined || names.includes(l.listener.name))
    await Promise.all(targets.map((l) => l.stopListening()))
  }

  numConnections(): number {
    let n = 0
    for (const l of this.listeners.values()) n += l.activeConnections()
    return n
  }

  /** Resolves once every listener's connections have closed. */
  waitForNoConnections(): Promise<void> {
    return Promise.all([...this.listeners.values()].map((l) => new Promise<void>((resolve) => l.whenEmpty(resolve)))).then(() => {})
  }

  closeAllConnections(): void {
    for (const l of this.listeners.values()) l.closeAllConnections()
  }
}
