/**
 * Entry point of the guard dog thread (Envoy's GuardDog). It watches the main thread and every
 * worker through their touch counters; a thread that stops touching for longer than its
 * `miss_timeout` is counted as a miss, longer than `megamiss_timeout` as a mega miss, and past
 * `kill_timeout` (when set) the process is aborted, as in Envoy.
 */
import { performance } from 'node:perf_hooks'
import { workerData } from 'node:worker_threads'
import { installExceptionGuards } from '../common/common/process-guards.js'
import { LogContext } from '../common/logger/logger.js'
import { GUARD_DOG_SHARD, StatMemory } from '../common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../common/stats/thread-local-store.js'
import type { Counter } from '../envoy/stats/stats.js'
import type { GuardDogStartData, WatchdogTimeouts } from './guarddog-impl.js'
import { MAIN_THREAD_SLOT, WatchdogMemory } from './watchdog-memory.js'
import { startPeriodicTimer } from '../common/event/timer-impl.js'

interface Watched {
  name: string
  timeouts: WatchdogTimeouts
  miss: Counter[]
  megaMiss: Counter[]
  generation: number
  lastCount: number
  lastChange: number
  missAlerted: boolean
  megaAlerted: boolean
}

const data = workerData as GuardDogStartData
const logs = new LogContext(data.log, { thread: 'guard_dog' })
const log = logs.child('watchdog')
const store = new ThreadLocalStoreImpl(new StatMemory(data.statMemory), GUARD_DOG_SHARD)
const memory = new WatchdogMemory(data.watchdog, data.slots)
const totalMiss = store.counter('server.watchdog_miss')
const totalMega = store.counter('server.watchdog_mega_miss')
const envoyBugs = store.counter('server.envoy_bug_failures')
installExceptionGuards(log, 'guard_dog', () => envoyBugs.inc())

const watched: Watched[] = []
for (let slot = 0; slot < data.slots; slot++) {
  const isMain = slot === MAIN_THREAD_SLOT
  const name = isMain ? 'main_thread' : `worker_${slot - 1}`
  const group = isMain ? 'main_thread' : 'workers'
  watched.push({
    name,
    timeouts: isMain ? data.mainThread : data.worker,
    miss: [totalMiss, store.counter(`${group}.watchdog_miss`), store.counter(`server.${name}.watchdog_miss`)],
    megaMiss: [totalMega, store.counter(`${group}.watchdog_mega_miss`), store.counter(`server.${name}.watchdog_mega_miss`)],
    generation: 0,
    lastCount: 0,
    lastChange: 0,
    missAlerted: false,
    megaAlerted: false,
  })
}

function step(): void {
  const now = performance.now()
  let overMultikill = 0
  let running = 0
  for (let slot = 0; slot < watched.length; slot++) {
    const w = watched[slot]!
    const gen = memory.generation(slot)
    if (gen <= 0) continue
    running++
    const count = memory.touchCount(slot)
    if (gen !== w.generation || count !== w.lastCount) {
      w.generation = gen
      w.lastCount = count
      w.lastChange = now
      w.missAlerted = false
      w.megaAlerted = false
      continue
    }
    const stalledMs = now - w.lastChange
    const t = w.timeouts
    if (stalledMs > t.missMs && !w.missAlerted) {
      w.missAlerted = true
      for (const c of w.miss) c.inc()
      log.warn({ thread: w.name, stalled_ms: Math.round(stalledMs) }, 'watchdog miss: thread event loop stalled')
    }
    if (stalledMs > t.megaMissMs && !w.megaAlerted) {
      w.megaAlerted = true
      for (const c of w.megaMiss) c.inc()
      log.error({ thread: w.name, stalled_ms: Math.round(stalledMs) }, 'watchdog mega miss: thread event loop stalled')
    }
    if (t.killMs > 0 && stalledMs > t.killMs) {
      log.fatal({ thread: w.name, stalled_ms: Math.round(stalledMs) }, 'watchdog kill timeout exceeded; aborting')
      logs.flush()
      process.kill(process.pid, 'SIGABRT')
    }
    if (t.multiKillMs > 0 && stalledMs > t.multiKillMs) overMultikill++
  }
  const mk = data.worker.multiKillMs > 0 ? data.worker : data.mainThread
  if (mk.multiKillMs > 0 && overMultikill >= Math.max(1, Math.ceil((mk.multiKillThreshold / 100) * running))) {
    log.fatal({ threads: overMultikill }, 'watchdog multikill timeout exceeded; aborting')
    logs.flush()
    process.kill(process.pid, 'SIGABRT')
  }
}

// The interval comes from the watchdog config: any Duration, so through the chaining timer.
startPeriodicTimer(data.checkIntervalMs, step)
