/**
 * Entry point of a worker thread. Builds the thread's logging, stats shard and registry from
 * its start-up data, serves main's requests, and touches the watchdog from its own loop.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { LogContext } from '../common/logger/logger.js'
import { CpuProfiler } from '../common/profiler/cpu-profiler.js'
import { startMemoryStats } from '../common/stats/memory-stats.js'
import { StatMemory, workerShard } from '../common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../common/stats/thread-local-store.js'
import { loadExtensionModules, RegistryImpl } from '../common/config/registry-impl.js'
import { RpcChannel } from '../common/thread/rpc-channel.js'
import type { MainEvents, MainMethods, WorkerEvents, WorkerMethods, WorkerStartData } from '../envoy/server/worker.js'
import { setupAllExtensions } from '../extensions/all-extensions.js'
import { WatchdogMemory, workerWatchdogSlot } from './watchdog-memory.js'
import { statsMatcherFilter } from '../common/stats/stats-matcher.js'

async function main(): Promise<void> {
  const data = workerData as WorkerStartData
  const port = parentPort!
  const logs = new LogContext(data.log, { worker: data.index })
  const log = logs.child('main')
  const memory = new StatMemory(data.statMemory)
  const store = new ThreadLocalStoreImpl(memory, workerShard(data.index), statsMatcherFilter(data.bootstrap.stats_config))
  const watchdog = new WatchdogMemory(data.watchdog.buffer, data.watchdog.slots)
  const slot = workerWatchdogSlot(data.index)
  const touch = setInterval(() => watchdog.touch(slot), data.watchdog.touchIntervalMs)
  touch.unref()
  watchdog.touch(slot)
  startMemoryStats(store)

  const registry = new RegistryImpl()
  setupAllExtensions(registry)
  await loadExtensionModules(data.extensionModules, registry)

  const rpc = new RpcChannel<MainMethods, WorkerMethods, WorkerEvents, MainEvents>(port)
  const profiler = new CpuProfiler()
  rpc.handle('stats.collect', () => ({ samples: store.drainHistograms(), names: store.histogramNames() }))
  rpc.handle('logging.set', ({ component, level }) => {
    logs.setLevel(component, level)
    return null
  })
  rpc.handle('logging.reopen', () => {
    logs.reopen()
    return null
  })
  rpc.handle('profiler.start', async () => {
    await profiler.start()
    return null
  })
  rpc.handle('profiler.stop', () => profiler.stop())
  rpc.handle('shutdown', () => {
    clearInterval(touch)
    log.debug({ worker: data.index }, 'worker shutting down')
    logs.flush()
    return null
  })
  log.debug('worker started')
  rpc.emit('ready', { index: data.index })
}

main().catch((err: unknown) => {
  // Thrown before the worker could serve: surface it to main through the 'error' event.
  throw err
})
