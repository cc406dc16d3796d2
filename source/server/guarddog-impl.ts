import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { LogSettings } from '../common/logger/logger.js'
import { durationToMs } from '../common/protobuf/duration.js'
import type { StatMemoryHandles } from '../common/stats/stat-memory.js'
import type { Bootstrap, Watchdog } from '../common/protobuf/generated/envoy/config/bootstrap/v3.js'
import type { WatchdogMemory } from './watchdog-memory.js'

export interface WatchdogTimeouts {
  missMs: number
  megaMissMs: number
  killMs: number
  multiKillMs: number
  multiKillThreshold: number
}

export interface GuardDogStartData {
  watchdog: SharedArrayBuffer
  slots: number
  statMemory: StatMemoryHandles
  log: LogSettings
  mainThread: WatchdogTimeouts
  worker: WatchdogTimeouts
  checkIntervalMs: number
}

/** Envoy's defaults: miss 200 ms, mega miss 1 s, no kill. */
export function watchdogTimeouts(w: Watchdog | undefined): WatchdogTimeouts {
  return {
    missMs: durationToMs(w?.miss_timeout, 200),
    megaMissMs: durationToMs(w?.megamiss_timeout, 1000),
    killMs: durationToMs(w?.kill_timeout, 0),
    multiKillMs: durationToMs(w?.multikill_timeout, 0),
    multiKillThreshold: w?.multikill_threshold?.value ?? 0,
  }
}

/** How often watched threads touch and the guard dog looks: a quarter of the smallest miss. */
export function touchIntervalMs(b: Bootstrap): number {
  const t = [watchdogConfigs(b).main, watchdogConfigs(b).worker].map((c) => Math.min(c.missMs, c.megaMissMs))
  return Math.max(5, Math.floor(Math.min(...t) / 4))
}

export function watchdogConfigs(b: Bootstrap): { main: WatchdogTimeouts; worker: WatchdogTimeouts } {
  const legacy = b.watchdog
  return {
    main: watchdogTimeouts(b.watchdogs?.main_thread_watchdog ?? legacy),
    worker: watchdogTimeouts(b.watchdogs?.worker_watchdog ?? legacy),
  }
}

/** Starts the guard dog thread. Main thread only. */
export function startGuardDog(
  bootstrap: Bootstrap, memory: WatchdogMemory, statMemory: StatMemoryHandles, log: LogSettings, logger: Logger,
): Worker {
  const cfg = watchdogConfigs(bootstrap)
  const data: GuardDogStartData = {
    watchdog: memory.buffer,
    slots: memory.slots,
    statMemory,
    log,
    mainThread: cfg.main,
    worker: cfg.worker,
    checkIntervalMs: touchIntervalMs(bootstrap),
  }
  const w = new Worker(new URL('./guarddog-main.js', import.meta.url), { workerData: data, name: 'guard_dog' })
  w.on('error', (err) => logger.error({ err }, 'guard dog thread failed'))
  w.unref()
  return w
}
