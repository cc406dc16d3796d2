import type { MessagePort } from 'node:worker_threads'
import type { Logger } from 'pino'
import { AccessLogManagerImpl } from '../common/access-log/access-log-manager-impl.js'
import { loadExtensionModules, RegistryImpl } from '../common/config/registry-impl.js'
import { installExceptionGuards } from '../common/common/process-guards.js'
import { LogContext } from '../common/logger/logger.js'
import { InternalListenerRegistry } from '../common/network/internal-listener-registry.js'
import { nativeSocket } from '../common/network/native-socket.js'
import { CpuProfiler } from '../common/profiler/cpu-profiler.js'
import { RuntimeSnapshotImpl } from '../common/runtime/runtime-impl.js'
import { http1CodecStats } from '../common/http/http1/codec-stats.js'
import { ServiceInvokerImpl } from '../common/runtime-api/invoker/service-invoker-impl.js'
import { RuntimeHostProxy } from '../common/runtime-api/runtime-host-proxy.js'
import { importSharedCounters } from '../common/shared/shared-counters.js'
import { startMemoryStats } from '../common/stats/memory-stats.js'
import { StatMemory, workerShard } from '../common/stats/stat-memory.js'
import { statsMatcherFilter } from '../common/stats/stats-matcher.js'
import { ThreadLocalStoreImpl } from '../common/stats/thread-local-store.js'
import { RpcChannel } from '../common/thread/rpc-channel.js'
import { ThreadLocalOverloadStateImpl } from '../common/overload/overload-manager-impl.js'
import { ThreadLocalClusterManagerImpl } from '../common/upstream/thread-local-cluster-manager-impl.js'
import type { RuntimeSnapshot } from '../envoy/runtime/runtime.js'
import type { MainEvents, MainMethods, WorkerEvents, WorkerMethods, WorkerStartData } from '../envoy/server/worker.js'
import { setupAllExtensions } from '../extensions/all-extensions.js'
import { ConnectionHandlerImpl } from './connection-handler-impl.js'
import { DrainDecisionImpl, DrainState } from './drain-manager-impl.js'
import { ListenerImpl } from './listener-impl.js'
import { WatchdogMemory, workerWatchdogSlot } from './watchdog-memory.js'
import { startPeriodicTimer } from '../common/event/timer-impl.js'
import type { Timer } from '../envoy/event/timer.js'

type Channel = RpcChannel<MainMethods, WorkerMethods, WorkerEvents, MainEvents>

/**
 * Everything one worker thread owns (the worker half of Envoy's WorkerImpl): its stats shard,
 * loggers, registry, cluster view, listeners and connections. Built from the start data, so a
 * restarted worker is built the same way as the first one.
 */
export class WorkerThread {
  private readonly data: WorkerStartData
  private readonly logs: LogContext
  private readonly log: Logger
  private readonly store: ThreadLocalStoreImpl
  private readonly registry = new RegistryImpl()
  private readonly clusterManager: ThreadLocalClusterManagerImpl
  private readonly accessLogs: AccessLogManagerImpl
  private readonly handler: ConnectionHandlerImpl
  /** This worker's internal listeners, reached in process by name. */
  private readonly internalListeners: InternalListenerRegistry
  private readonly drain: DrainDecisionImpl
  private readonly drainState: DrainState
  private readonly profiler = new CpuProfiler()
  private runtime: RuntimeSnapshot
  private touch: Timer | undefined
  /** Listen descriptors main sent that no server owns yet (this thread must close them). */
  private readonly unclaimed = new Set<number>()
  private overloadTimer: NodeJS.Timeout | undefined

  constructor(data: WorkerStartData) {
    this.data = data
    for (const l of data.listeners) if (l.socket.kind === 'fd') this.unclaimed.add(l.socket.fd)
    this.logs = new LogContext(data.log, { worker: data.index })
    this.log = this.logs.child('main')
    const memory = new StatMemory(data.statMemory)
    this.store = new ThreadLocalStoreImpl(memory, workerShard(data.index), statsMatcherFilter(data.bootstrap.stats_config))
    this.clusterManager = new ThreadLocalClusterManagerImpl({
      scope: this.store,
      hostStatMemory: new StatMemory(data.hostStatMemory),
      shard: workerShard(data.index),
      log: this.logs.child('upstream'),
    })
    this.accessLogs = new AccessLogManagerImpl(data.serverOptions.fileFlushIntervalMsec, this.logs.child('file'))
    this.internalListeners = new InternalListenerRegistry(this.logs.child('connection'))
    this.handler = new ConnectionHandlerImpl(data.index, this.store, this.logs.child('conn_handler'), this.internalListeners)
    this.drainState = new DrainState(data.drainState)
    this.drain = new DrainDecisionImpl(this.drainState)
    this.runtime = new RuntimeSnapshotImpl(new Map(Object.entries(data.runtime)))
  }

  async start(port: MessagePort): Promise<void> {
    try {
      await this.startThread(port)
    } catch (err) {
      // Listen descriptors no server took would leak on every failed (re)start.
      for (const fd of this.unclaimed) nativeSocket().close(fd)
      this.unclaimed.clear()
      throw err
    }
  }

  private async startThread(port: MessagePort): Promise<void> {
    const data = this.data
    const watchdog = new WatchdogMemory(data.watchdog.buffer, data.watchdog.slots)
    const slot = workerWatchdogSlot(data.index)
    watchdog.touch(slot)
    this.touch = startPeriodicTimer(data.watchdog.touchIntervalMs, () => watchdog.touch(slot)).unref()
    startMemoryStats(this.store)

    setupAllExtensions(this.registry)
    await loadExtensionModules(data.extensionModules, this.registry)
    importSharedCounters(data.sharedCounters)
    // Main validated overload_manager and created its shared memory; this is the same view.
    const overload = new ThreadLocalOverloadStateImpl(data.bootstrap.overload_manager, this.registry)
    this.handler.setOverloadState(overload)
    if (data.bootstrap.overload_manager !== undefined) {
      this.overloadTimer = setInterval(() => this.handler.applyOverload(), overload.refreshIntervalMs())
      this.overloadTimer.unref()
    }
    this.clusterManager.update(data.clusters)

    const rpc: Channel = new RpcChannel(port)
    this.serve(rpc)
    // Runtime API: embedded components live on main; this proxy reaches them over `rpc`.
    const runtimeHost = new RuntimeHostProxy(rpc, this.registry, this.logs.child('runtime'), data.index)
    const serviceInvoker = new ServiceInvokerImpl(this.internalListeners, http1CodecStats(this.store), this.logs.child('router'))
    const ctx = {
      registry: this.registry,
      scope: this.store,
      log: this.logs.child('filter'),
      clusterManager: this.clusterManager,
      accessLogManager: this.accessLogs,
      runtime: () => this.runtime,
      drainDecision: this.drain,
      healthCheckFailed: () => this.drainState.healthCheckFailed(),
      workerIndex: data.index,
      serverOptions: { drainTimeS: data.serverOptions.drainTimeS, drainStrategy: data.serverOptions.drainStrategy },
      runtimeHost,
      serviceInvoker,
      overloadState: overload,
    }
    // A dying thread (process.exit, an uncaught exception) closes its listen descriptors first:
    // left open, its last event-loop turn would accept a queued connection it can no longer
    // serve and reset it. Main keeps the sockets; the replacement accepts what queued.
    process.once('exit', () => void this.handler.stopListeners())
    for (const l of data.listeners) {
      if (l.socket.kind === 'fd') this.unclaimed.delete(l.socket.fd)
      // Main built the same listener before it started us, so this does not fail on config.
      await this.handler.addListener(new ListenerImpl(l.config, l.path, ctx), l.socket)
    }
    this.log.debug({ listeners: data.listeners.length }, 'worker started')
    // From here on an exception nothing caught is logged and counted, not the end of the
    // worker and its connections (a failure during start still surfaces on main as 'error').
    const envoyBugs = this.store.counter('server.envoy_bug_failures')
    installExceptionGuards(this.logs.child('main'), `worker_${data.index}`, () => envoyBugs.inc())
    rpc.emit('ready', { index: data.index })
  }

  private serve(rpc: Channel): void {
    rpc.handle('stats.collect', () => ({ samples: this.store.drainHistograms(), names: this.store.histogramNames() }))
    rpc.handle('logging.set', ({ component, level }) => {
      this.logs.setLevel(component, level)
      return null
    })
    rpc.handle('logging.reopen', () => {
      this.logs.reopen()
      this.accessLogs.reopen()
      return null
    })
    rpc.handle('profiler.start', async () => {
      await this.profiler.start()
      return null
    })
    rpc.handle('profiler.stop', () => this.profiler.stop())
    rpc.handle('cluster.update', ({ snapshots }) => {
      this.clusterManager.update(snapshots)
      return null
    })
    rpc.handle('cluster.remove', ({ names }) => {
      this.clusterManager.remove(names)
      return null
    })
    rpc.handle('listener.handoff', ({ listener, fd }) => this.handler.adopt(listener, fd))
    rpc.handle('listeners.stop', async ({ names }) => {
      await this.handler.stopListeners(names)
      return null
    })
    rpc.handle('drain.start', () => {
      this.drain.notifyDrainStarted()
      return null
    })
    rpc.handle('connections.wait_empty', async () => {
      await this.handler.waitForNoConnections()
      return null
    })
    rpc.handle('connections.count', () => this.handler.numConnections())
    rpc.handle('connections.close', () => {
      this.handler.closeAllConnections()
      return null
    })
    rpc.handle('runtime.update', ({ values }) => {
      this.runtime = new RuntimeSnapshotImpl(new Map(Object.entries(values)))
      return null
    })
    rpc.handle('shutdown', async () => {
      this.touch?.disableTimer()
      if (this.overloadTimer !== undefined) clearInterval(this.overloadTimer)
      await this.handler.stopListeners()
      this.handler.closeAllConnections()
      this.accessLogs.flush()
      this.logs.flush()
      return null
    })
  }
}
