import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import v8 from 'node:v8'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type protobuf from 'protobufjs'
import { createAccessLogs } from '../common/access-log/access-log-impl.js'
import { AccessLogManagerImpl } from '../common/access-log/access-log-manager-impl.js'
import { loadBootstrap } from '../common/config/bootstrap-loader.js'
import { extensionModulesFromEnv, loadExtensionModules, RegistryImpl } from '../common/config/registry-impl.js'
import { ErrorCode } from '../common/errors/codes.js'
import { ConfigError, EnvoyTsError } from '../common/errors/envoy-ts-error.js'
import type { LogContext } from '../common/logger/logger.js'
import { compileStringMatcher } from '../common/matcher/string-matcher.js'
import { durationToMs } from '../common/protobuf/duration.js'
import type { Bootstrap } from '../common/protobuf/generated/envoy/config/bootstrap/v3.js'
import { MessageValidator } from '../common/protobuf/message-validator.js'
import { loadSchema } from '../common/protobuf/schema.js'
import { setRegexRuntime } from '../common/common/regex.js'
import { bucketsResolver } from '../common/stats/histogram-buckets.js'
import { nativeSocket } from '../common/network/native-socket.js'
import { OverloadManagerImpl } from '../common/overload/overload-manager-impl.js'
import { RuntimeLoader } from '../common/runtime/runtime-impl.js'
import { SubscriptionManagerImpl } from '../common/runtime-api/app-callback/subscription-manager-impl.js'
import { RuntimeHostImpl } from '../common/runtime-api/runtime-host-impl.js'
import { exportSharedCounters } from '../common/shared/shared-counters.js'
import { residentSetSize, startMemoryStats } from '../common/stats/memory-stats.js'
import { MAIN_SHARD, StatMemory } from '../common/stats/stat-memory.js'
import { StatsRoot } from '../common/stats/stats-root.js'
import { statsMatcherFilter } from '../common/stats/stats-matcher.js'
import { TagExtractor } from '../common/stats/tag-extractor.js'
import { ThreadLocalStoreImpl } from '../common/stats/thread-local-store.js'
import { ClusterManagerImpl } from '../common/upstream/cluster-manager-impl.js'
import { versionNumber, versionString } from '../common/version.js'
import type { Options } from '../envoy/server/options.js'
import {
  type ConfigDumpSection, type Instance, type ListenerStatus, ServerState, type ServerStateName,
} from '../envoy/server/instance.js'
import type { HistogramCollection, WorkerStartData } from '../envoy/server/worker.js'
import type { Gauge } from '../envoy/stats/stats.js'
import { setupAllExtensions } from '../extensions/all-extensions.js'
import { AdminImpl } from './admin/admin-impl.js'
import { allAdminEndpoints } from './admin/handlers/all-endpoints.js'
import { buildConfigDump } from './config-dump.js'
import { CpuProfiling } from './cpu-profiling.js'
import { DrainCoordinator } from './drain-coordinator.js'
import { DrainDecisionImpl, DrainState } from './drain-manager-impl.js'
import { startGuardDog, touchIntervalMs } from './guarddog-impl.js'
import { ListenerManagerImpl } from './listener-manager-impl.js'
import { MAIN_THREAD_SLOT, WatchdogMemory } from './watchdog-memory.js'
import { WorkerManager } from './worker-manager.js'
import { startTimer, startPeriodicTimer } from '../common/event/timer-impl.js'
import type { Timer } from '../envoy/event/timer.js'

/** Shared stat slots. Envoy has no fixed limit; 64Ki names is far above a static config's needs. */
const STAT_CAPACITY = 65536

/** Exit codes of `run()`. */
export const ExitCode = { OK: 0, FAILURE: 1 } as const

/**
 * The server on main (Envoy's Server::InstanceImpl): runs the start-up stages, owns the admin
 * endpoint, stats, cluster membership, listeners, the guard dog and the workers, and shuts it
 * all down.
 */
export class InstanceImpl implements Instance {
  readonly options: Options
  readonly startTimeMs = Date.now()
  bootstrap!: Bootstrap
  fileDescriptorLimit: { before: number; soft: number; hard: number } | undefined
  stats!: StatsRoot
  tagExtractor!: TagExtractor
  private readonly logs: LogContext
  private readonly log: Logger
  private schema!: protobuf.Root
  private registry!: RegistryImpl
  private runtime!: RuntimeLoader
  private memory!: StatMemory
  private hostStatMemory!: StatMemory
  private store!: ThreadLocalStoreImpl
  private watchdog!: WatchdogMemory
  private clusters!: ClusterManagerImpl
  private listeners!: ListenerManagerImpl
  private drainState = DrainState.create()
  private drain!: DrainCoordinator
  private profiling!: CpuProfiling
  private accessLogs!: AccessLogManagerImpl
  /** Runtime API: components of every runtime_api config, embedded ones for the whole process. */
  private runtimeHost!: RuntimeHostImpl
  private workers: WorkerManager | undefined
  private overload: OverloadManagerImpl | undefined
  private admin: AdminImpl | undefined
  private stateName: ServerStateName = 'PRE_INITIALIZING'
  private loadedAt = new Date()
  private configDumpCache: ConfigDumpSection[] | undefined
  private readonly timers: Timer[] = []
  private shutdownRequested: ((reason: string) => void) | undefined
  private readonly shutdownSignal: Promise<string>
  private stateGauge: Gauge | undefined
  private liveGauge: Gauge | undefined

  constructor(options: Options, logs: LogContext) {
    this.options = options
    this.logs = logs
    this.log = logs.child('main')
    this.shutdownSignal = new Promise((resolve) => { this.shutdownRequested = resolve })
  }

  /**
   * Runs the server to completion; resolves with the process exit code. `configLoaded` is
   * called once the config has loaded and validated, when serving (not in validate mode).
   */
  async run(hooks: { configLoaded?: () => void } = {}): Promise<number> {
    const started = performance.now()
    this.log.info({ version: versionString(), pid: process.pid, options: this.options.raw }, 'envoy-ts starting')
    await this.stage('init', () => this.init())
    if (this.options.mode === 'validate') return ExitCode.OK
    hooks.configLoaded?.()
    await this.stage('pre-start', async () => {
      await this.startAdmin()
      this.startWatchdogs()
      await this.clusters.initialize()
    })
    await this.stage('start', () => this.startListenersAndWorkers())
    await this.stage('after-start', () => this.afterStart())
    const initMs = Math.round(performance.now() - started)
    this.store.histogram('server.initialization_time_ms', 'Milliseconds').recordValue(initMs)
    this.setState('LIVE')
    this.log.info({ initialization_time_ms: initMs, concurrency: this.options.concurrency }, `envoy-ts initialized: LIVE in ${initMs} ms`)
    const reason = this.options.mode === 'init_only' ? 'init_only' : await this.shutdownSignal
    await this.stop(reason)
    return ExitCode.OK
  }

  /** Asks for a graceful shutdown (first SIGTERM/SIGINT, `/quitquitquit`). */
  shutdown(reason: string): void {
    this.shutdownRequested?.(reason)
  }

  /** An uncaught exception or unhandled rejection on main (Envoy's ENVOY_BUG counter). */
  countEnvoyBug(): void {
    // Before init() there is no store yet; the log line is all there is then.
    if (this.store !== undefined) this.store.counter('server.envoy_bug_failures').inc()
  }

  /** SIGUSR1: reopen log and access log files on every thread. */
  reopenLogs(): void {
    this.logs.reopen()
    this.accessLogs?.reopen()
    void this.workers?.broadcast('logging.reopen', {})
  }

  private async stage(name: string, fn: () => void | Promise<void>): Promise<void> {
    this.log.debug({ stage: name }, 'stage starting')
    const start = performance.now()
    await fn()
    this.log.info({ stage: name, duration_ms: Number((performance.now() - start).toFixed(1)) }, `stage ${name} done`)
  }

  private async init(): Promise<void> {
    this.setState('INITIALIZING')
    if (this.options.mode !== 'validate') this.raiseFileLimit()
    this.schema = loadSchema()
    const loaded = loadBootstrap(this.options, new MessageValidator(this.schema))
    this.bootstrap = loaded.bootstrap
    this.loadedAt = new Date()
    for (const p of loaded.unknownFields) this.log.warn({ field: p }, 'ignoring unknown bootstrap field (--allow-unknown-static-fields)')
    for (const p of loaded.deprecated) this.log.warn({ field: p }, 'bootstrap uses a deprecated field')

    this.runtime = new RuntimeLoader(this.bootstrap.layered_runtime)
    let earlyWarnings = 0
    // Program-size limits of config regexes (re2.max_program_size.*) read this runtime, as in Envoy.
    setRegexRuntime({
      snapshot: () => this.runtime.snapshot(),
      exceededWarnLevel: (regex, programSize, warnLevel) => {
        // stats_matcher's regexes are built with the store itself: count those once it exists.
        if (this.store === undefined) earlyWarnings++
        else this.store.counter('re2.exceeded_warn_level').inc()
        this.log.warn({ regex, programSize, warnLevel }, 'regex program size exceeds re2.max_program_size.warn_level')
      },
    })
    const shards = 2 + this.options.concurrency
    this.memory = StatMemory.create(STAT_CAPACITY, shards)
    this.hostStatMemory = StatMemory.create(STAT_CAPACITY, shards)
    this.store = new ThreadLocalStoreImpl(this.memory, MAIN_SHARD, statsMatcherFilter(this.bootstrap.stats_config))
    this.tagExtractor = new TagExtractor(this.bootstrap.stats_config)
    this.stats = new StatsRoot(this.memory, this.store, () => this.collectHistograms())
    this.store.counter('server.static_unknown_fields').add(loaded.unknownFields.length)
    this.store.counter('runtime.deprecated_feature_use').add(loaded.deprecated.length)
    if (earlyWarnings > 0) this.store.counter('re2.exceeded_warn_level').add(earlyWarnings)
    this.stateGauge = this.store.gauge('server.state', 'NeverImport')
    this.liveGauge = this.store.gauge('server.live', 'NeverImport')
    this.setState('INITIALIZING')

    this.registry = new RegistryImpl()
    setupAllExtensions(this.registry)
    await loadExtensionModules(extensionModulesFromEnv(process.env.ENVOY_TS_EXTENSION_MODULES, process.cwd()), this.registry)
    this.log.info({ extensions: this.registry.describe() }, 'registered extensions')
    this.accessLogs = new AccessLogManagerImpl(this.options.fileFlushIntervalMsec, this.logs.child('file'))
    this.profiling = new CpuProfiling(this.bootstrap.admin?.profile_path ?? '', () => this.workers)
    this.runtimeHost = new RuntimeHostImpl({ registry: this.registry, log: this.logs.child('runtime'), shutdown: (reason) => this.shutdown(reason) })
    this.runtimeHost.setSubscriptionManager(new SubscriptionManagerImpl(this.logs.child('runtime'), this.store))
    this.buildConfig()
  }

  /**
   * Every proxied connection holds two descriptors; run out and accept fails with EMFILE. Raise
   * the soft RLIMIT_NOFILE to the hard limit as Envoy's deployment guides ask (Node usually did
   * it already when it started) and say what the limit is.
   */
  private raiseFileLimit(): void {
    try {
      const l = nativeSocket().raiseFileLimit()
      this.fileDescriptorLimit = l
      this.log.info({ soft_before: l.before, soft: l.soft, hard: l.hard }, 'file descriptor limit (RLIMIT_NOFILE)')
    } catch (err) {
      this.log.warn({ err }, 'cannot raise the file descriptor limit')
    }
  }

  /**
   * Builds what the config describes, on main, collecting every problem: clusters, every
   * listener with its filters (the same code the workers run), the admin access logs.
   */
  private buildConfig(): void {
    const errors: string[] = []
    const collect = (fn: () => void): void => {
      try {
        fn()
      } catch (err) {
        const e = err as { errors?: string[]; message: string }
        errors.push(...(e.errors ?? [e.message]))
      }
    }
    collect(() => {
      this.clusters = new ClusterManagerImpl(this.bootstrap, {
        scope: this.store,
        hostStatMemory: this.hostStatMemory,
        log: this.logs.child('upstream'),
        publish: (snapshots) => void this.workers?.broadcast('cluster.update', { snapshots }),
        // Health check and outlier detection event logs (`event_log_path`).
        accessLogManager: this.accessLogs,
      })
    })
    const clusterNames = (this.bootstrap.static_resources?.clusters ?? []).map((c) => c.name)
    collect(() => {
      this.listeners = new ListenerManagerImpl(this.bootstrap.static_resources?.listeners ?? [], {
        registry: this.registry,
        scope: this.store,
        log: this.logs.child('config'),
        clusterManager: { getThreadLocalCluster: () => undefined, clusterNames: () => clusterNames },
        accessLogManager: this.accessLogs,
        runtime: () => this.runtime.snapshot(),
        drainDecision: new DrainDecisionImpl(this.drainState),
        healthCheckFailed: () => this.drainState.healthCheckFailed(),
        workerIndex: -1,
        serverOptions: { drainTimeS: this.options.drainTimeS, drainStrategy: this.options.drainStrategy },
        runtimeHost: this.runtimeHost,
        serviceInvoker: undefined,
      }, this.store)
    })
    collect(() => this.buildAdminAccessLogs())
    // Built per /stats/prometheus request; compiled here once so a refused regex is a load error.
    collect(() => bucketsResolver(this.bootstrap.stats_config))
    // Validates overload_manager and creates its shared memory before any worker starts.
    collect(() => { this.overload = new OverloadManagerImpl(this.bootstrap.overload_manager, this.registry) })
    if (errors.length > 0) {
      const source = this.options.configPath ?? '--config-yaml'
      throw new ConfigError(ErrorCode.CONFIG_INVALID, errors.map((e) => `${source}: ${e}`))
    }
    this.drain = new DrainCoordinator(this.options, this.drainState, this.listeners, () => this.workers, this.log)
  }

  private buildAdminAccessLogs(): ReturnType<typeof createAccessLogs> {
    const admin = this.bootstrap.admin
    if (admin === undefined) return []
    const configs = [...admin.access_log]
    if (admin.access_log_path !== '') {
      configs.push({
        name: 'envoy.access_loggers.file',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: admin.access_log_path },
      } as unknown as (typeof configs)[number])
    }
    return createAccessLogs(configs, 'admin.access_log', this.registry, { accessLogManager: this.accessLogs, log: this.logs.child('admin') })
  }

  private async startAdmin(): Promise<void> {
    const admin = this.bootstrap.admin
    const address = admin?.address
    if (admin === undefined || address === undefined) {
      this.log.info('no admin address configured: admin endpoint disabled')
      return
    }
    this.admin = new AdminImpl(this, {
      endpoints: allAdminEndpoints(),
      allowPaths: admin.allow_paths.map(compileStringMatcher),
      accessLogs: this.buildAdminAccessLogs(),
      log: this.logs.child('admin'),
    })
    const target = address.pipe !== undefined
      ? { path: address.pipe.path }
      : { host: address.socket_address?.address ?? '127.0.0.1', port: address.socket_address?.port_value ?? 0 }
    let bound: AddressInfo | string
    try {
      bound = await this.admin.listen(target)
    } catch (err) {
      const where = 'path' in target ? target.path : `${target.host}:${target.port}`
      throw new EnvoyTsError(ErrorCode.ADMIN_BIND, `cannot bind the admin endpoint to ${where}: ${(err as Error).message}`)
    }
    const text = typeof bound === 'string' ? bound : bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`
    this.log.info({ address: text }, 'admin address')
    if (this.options.adminAddressPath !== undefined) {
      fs.mkdirSync(path.dirname(path.resolve(this.options.adminAddressPath)), { recursive: true })
      fs.writeFileSync(this.options.adminAddressPath, text)
    }
  }

  private startWatchdogs(): void {
    this.watchdog = WatchdogMemory.create(this.options.concurrency)
    this.watchdog.started(MAIN_THREAD_SLOT)
    this.timers.push(startPeriodicTimer(touchIntervalMs(this.bootstrap), () => this.watchdog.touch(MAIN_THREAD_SLOT)).unref())
    startGuardDog(this.bootstrap, this.watchdog, this.memory.handles, this.logSettings(), this.logs.child('watchdog'))
  }

  private logSettings(): WorkerStartData['log'] {
    return {
      level: this.options.logLevel,
      componentLevels: { ...this.options.componentLogLevels },
      format: this.options.logFormat,
      ...(this.options.logPath !== undefined ? { path: this.options.logPath } : {}),
    }
  }

  private workerStartData(index: number): WorkerStartData {
    return {
      index,
      concurrency: this.options.concurrency,
      statMemory: this.memory.handles,
      hostStatMemory: this.hostStatMemory.handles,
      clusters: this.clusters.snapshots(),
      watchdog: { buffer: this.watchdog.buffer, slots: this.watchdog.slots, touchIntervalMs: touchIntervalMs(this.bootstrap) },
      bootstrap: this.bootstrap,
      // Workers follow run-time level changes, so a restarted worker starts at the current levels.
      log: { ...this.logSettings(), componentLevels: this.logs.levels() },
      extensionModules: extensionModulesFromEnv(process.env.ENVOY_TS_EXTENSION_MODULES, process.cwd()),
      listeners: this.listeners.workerListeners(index),
      drainState: this.drainState.buffer,
      runtime: this.runtime.mergedValues(),
      serverOptions: { drainTimeS: this.options.drainTimeS, drainStrategy: this.options.drainStrategy, fileFlushIntervalMsec: this.options.fileFlushIntervalMsec },
      sharedCounters: exportSharedCounters(),
    }
  }

  private async startListenersAndWorkers(): Promise<void> {
    this.workers = new WorkerManager(this.options.concurrency, (i) => this.workerStartData(i), this.watchdog, this.memory, this.store, this.log,
      undefined, (rpc, i) => this.runtimeHost.serve(rpc, i))
    const workers = this.workers
    await this.listeners.bindAll({
      load: (listener, w) => this.store.gauge(`listener.${listener.statName}.worker_${w}.downstream_cx_active`).value(),
      send: (w, listener, fd) => workers.workers[w]!.call('listener.handoff', { listener, fd }),
      running: () => workers.workers.filter((w) => w.running()).map((w) => w.index),
    })
    await workers.startAll()
    this.listeners.onWorkerListenersCreated(this.listeners.statuses().length * this.options.concurrency)
    this.store.counter('listener_manager.workers_started').inc()
    this.log.info({ workers: this.options.concurrency }, 'all workers started')
  }

  private afterStart(): void {
    // Runtime API: app deliveries (pub/sub subscriptions) start once the listeners serve.
    this.runtimeHost.start().catch((err: unknown) => this.log.warn({ err }, 'runtime API start failed'))
    this.store.gauge('server.concurrency', 'NeverImport').set(this.options.concurrency)
    this.store.gauge('server.version', 'NeverImport').set(versionNumber())
    this.store.gauge('server.hot_restart_epoch', 'NeverImport').set(0)
    startMemoryStats(this.store)
    this.overload?.start(this.store, this.logs.child('main'))
    const uptime = this.store.gauge('server.uptime', 'NeverImport')
    const physical = this.store.gauge('server.memory_physical_size', 'NeverImport')
    const tick = (): void => {
      uptime.set(Math.floor((Date.now() - this.startTimeMs) / 1000))
      physical.set(residentSetSize())
    }
    tick()
    this.every(1000, tick)
    this.every(durationToMs(this.bootstrap.stats_flush_interval, 5000), () => {
      this.stats.flush().catch((err: unknown) => this.log.warn({ err }, 'stats flush failed'))
    })
  }

  private every(ms: number, fn: () => void): void {
    this.timers.push(startPeriodicTimer(ms, fn).unref())
  }

  private collectHistograms(): Promise<HistogramCollection[]> {
    return this.workers === undefined ? Promise.resolve([]) : this.workers.broadcast('stats.collect', {}, 2000)
  }

  private setState(s: ServerStateName): void {
    this.stateName = s
    this.stateGauge?.set(ServerState[this.state()])
    this.liveGauge?.set(this.state() === 'LIVE' ? 1 : 0)
  }

  /** Drains, then stops workers, admin, timers and files, in that order. */
  private async stop(reason: string): Promise<void> {
    this.log.info({ reason }, 'shutting down')
    this.overload?.stop()
    this.setState('DRAINING')
    startTimer(this.options.parentShutdownTimeS * 1000, () => {
      this.log.fatal({ parent_shutdown_time_s: this.options.parentShutdownTimeS }, 'shutdown took too long; exiting now')
      this.logs.flush()
      process.exit(ExitCode.FAILURE)
    }).unref()
    // /quitquitquit exits at once, as in Envoy; signals drain first.
    if (reason !== '/quitquitquit' && reason !== 'init_only') await this.drain.drainForShutdown()
    await this.workers?.stopAll()
    await this.runtimeHost.stop()
    this.clusters.shutdown()
    await this.admin?.close()
    for (const t of this.timers) t.disableTimer()
    this.accessLogs.flush()
    this.watchdog?.stopped(MAIN_THREAD_SLOT)
    this.log.info('envoy-ts stopped')
    this.logs.flush()
  }

  // Instance

  state(): ServerStateName {
    if (this.stateName === 'LIVE' && this.drainState.healthCheckFailed()) return 'DRAINING'
    return this.stateName
  }

  healthCheckFailed(): boolean {
    return this.drainState.healthCheckFailed()
  }

  setHealthCheckFailed(failed: boolean): void {
    this.drainState.setHealthCheckFailed(failed)
    this.setState(this.stateName)
  }

  drainListeners(o: { graceful: boolean; inboundOnly: boolean }): Promise<void> {
    return this.drain.drainListeners(o.graceful, o.inboundOnly)
  }

  logLevels(): Record<string, string> {
    return this.logs.levels()
  }

  async setLogLevel(component: string | undefined, level: string): Promise<void> {
    this.logs.setLevel(component, level)
    await this.workers?.broadcast('logging.set', component === undefined ? { level } : { component, level })
  }

  cpuProfilerRunning(): boolean {
    return this.profiling.running()
  }

  startCpuProfiler(): Promise<void> {
    return this.profiling.start()
  }

  stopCpuProfiler(): Promise<string[]> {
    return this.profiling.stop()
  }

  async heapSnapshot(workerIndex: number | undefined): Promise<NodeJS.ReadableStream> {
    if (workerIndex === undefined) return v8.getHeapSnapshot()
    const w = this.workers?.workers[workerIndex]
    if (w === undefined) throw new Error(`no worker ${workerIndex}`)
    return w.heapSnapshot()
  }

  configDump(): ConfigDumpSection[] {
    this.configDumpCache ??= buildConfigDump(this.schema, this.bootstrap, this.loadedAt)
    return this.configDumpCache
  }

  listenerStatuses(): ListenerStatus[] {
    return this.listeners.statuses()
  }

  clustersText(): string {
    return this.clusters.clustersText()
  }

  clustersJson(): Record<string, unknown> {
    return this.clusters.clustersJson()
  }

  runtimeDump(): Record<string, unknown> {
    return this.runtime.adminDump()
  }

  runtimeModify(values: Record<string, string>): string | undefined {
    if (!this.runtime.hasAdminLayer()) return 'No admin layer specified'
    this.runtime.modify(values)
    void this.workers?.broadcast('runtime.update', { values: this.runtime.mergedValues() })
    return undefined
  }
}
