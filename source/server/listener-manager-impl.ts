import type { Logger } from 'pino'
import { ErrorCode } from '../common/errors/codes.js'
import { ConfigError } from '../common/errors/envoy-ts-error.js'
import type { Listener } from '../common/protobuf/generated/envoy/config/listener/v3.js'
import type { ListenerStatus } from '../envoy/server/instance.js'
import type { Counter, Gauge, Scope } from '../envoy/stats/stats.js'
import type { WorkerSocket } from './active-tcp-listener.js'
import { type ListenerContext, ListenerImpl } from './listener-impl.js'
import { ListenSocketFactoryImpl, type SocketMode } from './listen-socket-factory-impl.js'

/** What a worker needs to serve one listener. */
export interface WorkerListener {
  config: Listener
  path: string
  socket: WorkerSocket
}

/** How main reaches workers for exact balance. */
export interface HandoffTarget {
  /** Active connections of `listener` on each worker, by worker index. */
  load(listener: ListenerImpl, worker: number): number
  /** Sends a descriptor to a worker; resolves false if it did not take it. */
  send(worker: number, listener: string, fd: number): Promise<boolean>
  /** Workers able to take connections now. */
  running(): number[]
}

function socketMode(l: Listener): SocketMode {
  if (l.connection_balance_config?.exact_balance !== undefined) return 'handoff'
  // Envoy's default: enable_reuse_port is true unless set to false.
  return (l.enable_reuse_port ?? true) ? 'reuse_port' : 'shared'
}

interface Managed {
  impl: ListenerImpl
  path: string
  /** Undefined for internal listeners: they have no socket. */
  factory: ListenSocketFactoryImpl | undefined
  stopped: boolean
}

/**
 * Main's listeners (Envoy's ListenerManagerImpl): validates every listener by building it, binds
 * their sockets, tells each worker how to accept, and stops them for drains.
 */
export class ListenerManagerImpl {
  private readonly managed: Managed[] = []
  private readonly log: Logger
  private readonly stats: { added: Counter; active: Gauge; draining: Gauge; stopped: Counter; createSuccess: Counter }
  private readonly pendingHandoffs = new Map<number, number>()

  /** Builds every listener on main; throws one ConfigError with every problem. */
  constructor(listeners: readonly Listener[], ctx: ListenerContext, scope: Scope) {
    this.log = ctx.log
    this.stats = {
      added: scope.counter('listener_manager.listener_added'),
      active: scope.gauge('listener_manager.total_listeners_active', 'NeverImport'),
      draining: scope.gauge('listener_manager.total_listeners_draining', 'NeverImport'),
      stopped: scope.counter('listener_manager.listener_stopped'),
      createSuccess: scope.counter('listener_manager.listener_create_success'),
    }
    const errors: string[] = []
    listeners.forEach((config, i) => {
      const path = `static_resources.listeners[${i}]`
      try {
        const impl = new ListenerImpl(config, path, ctx)
        const factory = impl.address.kind === 'internal' ? undefined : new ListenSocketFactoryImpl(config.name, impl.address, socketMode(config), ctx.log,
          impl.backlog, impl.scope.counter('downstream_cx_accept_error'))
        this.managed.push({ impl, path, factory, stopped: false })
      } catch (err) {
        const e = err as { errors?: string[]; message: string }
        errors.push(...(e.errors ?? [`${path}: ${e.message}`]))
      }
    })
    if (errors.length > 0) throw new ConfigError(ErrorCode.CONFIG_INVALID, errors)
  }

  /** Binds every listener. Throws ETS_ERR_LISTENER_BIND naming the listener and address. */
  async bindAll(target: HandoffTarget): Promise<void> {
    for (const m of this.managed) {
      this.stats.added.inc()
      if (m.factory === undefined) {
        this.log.info({ listener: m.impl.name }, 'internal listener')
        continue
      }
      await m.factory.bind((fd) => this.handoff(m, fd, target))
      this.log.info({ listener: m.impl.name, address: this.addressText(m), mode: m.factory.mode }, 'listener bound')
    }
    this.stats.active.set(this.managed.length)
  }

  /** The listeners worker `index` should serve now (fresh descriptors each call, of the same sockets). */
  workerListeners(index: number): WorkerListener[] {
    return this.managed.filter((m) => !m.stopped).map((m) => ({
      config: m.impl.config,
      path: m.path,
      socket: m.factory === undefined ? { kind: 'internal' } : m.factory.socketForWorker(index),
    }))
  }

  onWorkerListenersCreated(count: number): void {
    this.stats.createSuccess.add(count)
  }

  statuses(): ListenerStatus[] {
    return this.managed.map((m) => {
      const a = m.factory?.address() ?? m.impl.address
      if (a.kind === 'ip') return { name: m.impl.name, localAddress: { address: a.ip, port: a.port } }
      if (a.kind === 'pipe') return { name: m.impl.name, localAddress: { pipe: a.path } }
      return { name: m.impl.name, localAddress: { internal: a.listenerName } }
    })
  }

  /** Names of the listeners a drain applies to. */
  drainTargets(inboundOnly: boolean): string[] {
    return this.managed.filter((m) => !m.stopped && !(inboundOnly && m.impl.outbound)).map((m) => m.impl.name)
  }

  /** Main's part of stopping listeners: close acceptors and descriptors. */
  async stop(names: readonly string[]): Promise<void> {
    for (const m of this.managed) {
      if (m.stopped || !names.includes(m.impl.name)) continue
      m.stopped = true
      await m.factory?.close()
      this.stats.stopped.inc()
    }
    this.stats.active.set(this.managed.filter((m) => !m.stopped).length)
  }

  setDraining(n: number): void {
    this.stats.draining.set(n)
  }

  private addressText(m: Managed): string {
    const a = m.factory?.address() ?? m.impl.address
    return a.kind === 'ip' ? (a.family === 6 ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`) : a.kind === 'pipe' ? a.path : a.listenerName
  }

  /** Exact balance: the running worker with the fewest connections (counting hand-offs in flight). */
  private async handoff(m: Managed, fd: number, target: HandoffTarget): Promise<boolean> {
    const workers = target.running()
    if (workers.length === 0) return false
    let best = workers[0]!
    let bestLoad = Infinity
    for (const w of workers) {
      const load = target.load(m.impl, w) + (this.pendingHandoffs.get(w) ?? 0)
      if (load < bestLoad) {
        bestLoad = load
        best = w
      }
    }
    this.pendingHandoffs.set(best, (this.pendingHandoffs.get(best) ?? 0) + 1)
    try {
      return await target.send(best, m.impl.name, fd)
    } finally {
      this.pendingHandoffs.set(best, (this.pendingHandoffs.get(best) ?? 1) - 1)
    }
  }
}
