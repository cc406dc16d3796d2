/**
 * FactoryContexts for filter factory tests: a real stat store (shared StatMemory, so two
 * "workers" can be two stores on different shards), a runtime snapshot from a plain object,
 * and stubs for what small filters never touch.
 */
import pino from 'pino'
import { RegistryImpl } from '../../../source/common/config/registry-impl.js'
import { RuntimeHostImpl } from '../../../source/common/runtime-api/runtime-host-impl.js'
import { RuntimeSnapshotImpl } from '../../../source/common/runtime/runtime-impl.js'
import { StatMemory, workerShard } from '../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import type { FactoryContext } from '../../../source/envoy/network/filter.js'
import type { ListenerFilterFactoryContext } from '../../../source/envoy/network/listener-filter.js'
import type { RuntimeSnapshot } from '../../../source/envoy/runtime/runtime.js'
import type { Scope } from '../../../source/envoy/stats/stats.js'

export const silentLog = pino({ level: 'silent' })

export function newStatMemory(): StatMemory {
  return StatMemory.create(256, 6)
}

/** A runtime whose values can be changed between calls. */
export class FakeRuntime {
  readonly values = new Map<string, string>()
  snapshot = (): RuntimeSnapshot => new RuntimeSnapshotImpl(new Map(this.values))
}

export function fakeFactoryContext(opts: {
  memory?: StatMemory
  workerIndex?: number
  runtime?: FakeRuntime
} = {}): FactoryContext & { store: ThreadLocalStoreImpl } {
  const workerIndex = opts.workerIndex ?? 0
  const store = new ThreadLocalStoreImpl(opts.memory ?? newStatMemory(), workerIndex < 0 ? 0 : workerShard(workerIndex))
  const runtime = opts.runtime ?? new FakeRuntime()
  const registry = new RegistryImpl()
  return {
    store,
    scope: store,
    listenerScope: store.createScope('listener.127.0.0.1_10000'),
    log: silentLog,
    registry,
    clusterManager: { getThreadLocalCluster: () => undefined, clusterNames: () => [] },
    accessLogManager: {
      createAccessLogFile: () => ({ write: () => {} }),
      reopen: () => {},
      flush: () => {},
    },
    runtime: runtime.snapshot,
    drainDecision: { drainClose: () => false, onDrain: () => () => {} },
    healthCheckFailed: () => false,
    workerIndex,
    serverOptions: { drainTimeS: 600, drainStrategy: 'gradual' },
    // A real host over this context's registry: runtime components run in the test's thread.
    runtimeHost: new RuntimeHostImpl({ registry, log: silentLog, shutdown: () => {} }),
    serviceInvoker: undefined,
  }
}

/** A listener filter context; `scope` is the root scope Envoy roots listener filter stats at. */
export function fakeListenerFilterFactoryContext(memory: StatMemory = newStatMemory()): ListenerFilterFactoryContext & {
  store: ThreadLocalStoreImpl
  scope: Scope
} {
  const store = new ThreadLocalStoreImpl(memory, workerShard(0))
  return { store, scope: store, listenerScope: store.createScope('listener.127.0.0.1_10000'), log: silentLog, registry: new RegistryImpl() }
}
