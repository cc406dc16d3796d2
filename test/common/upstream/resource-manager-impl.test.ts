import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'
import type { Cluster } from '../../../source/common/protobuf/generated/envoy/config/cluster/v3.js'
import { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import {
  createResourcesBuffer, ResourceManagerImpl, resourceLimits, UNLIMITED,
} from '../../../source/common/upstream/resource-manager-impl.js'

function config(thresholds: unknown[] = []): Cluster {
  return { name: 'c', circuit_breakers: { thresholds, per_host_thresholds: [] } } as unknown as Cluster
}

describe('resourceLimits', () => {
  it("uses Envoy's defaults for both priorities", () => {
    for (const p of ['default', 'high'] as const) {
      assert.deepEqual(resourceLimits({ name: 'c' } as Cluster, p), {
        max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3,
        max_connection_pools: UNLIMITED, track_remaining: false,
      })
    }
  })

  it('takes the first threshold of each priority', () => {
    const c = config([
      { priority: 'HIGH', max_connections: 7, track_remaining: true },
      { priority: 'DEFAULT', max_retries: 1, max_connection_pools: 2, track_remaining: false },
      { priority: 'HIGH', max_connections: 9, track_remaining: false },
    ])
    assert.equal(resourceLimits(c, 'high').max_connections, 7)
    assert.equal(resourceLimits(c, 'high').track_remaining, true)
    assert.equal(resourceLimits(c, 'default').max_retries, 1)
    assert.equal(resourceLimits(c, 'default').max_connection_pools, 2)
    assert.equal(resourceLimits(c, 'default').max_connections, 1024)
  })
})

describe('ResourceManagerImpl', () => {
  it('holds one budget across managers that share the buffer, per priority', () => {
    const buffer = createResourcesBuffer()
    const limits = resourceLimits(config([{ priority: 'DEFAULT', max_connections: 2 }]), 'default')
    const a = new ResourceManagerImpl({ buffer, priority: 'default', limits })
    const b = new ResourceManagerImpl({ buffer, priority: 'default', limits })
    const high = new ResourceManagerImpl({ buffer, priority: 'high', limits: resourceLimits(config(), 'high') })
    assert.ok(a.connections.tryAcquire())
    assert.ok(b.connections.tryAcquire())
    assert.equal(a.connections.tryAcquire(), false)
    assert.equal(b.connections.tryAcquire(), false)
    assert.equal(a.connections.count(), 2, 'a failed acquire leaves no trace')
    assert.equal(high.connections.count(), 0)
    assert.ok(high.connections.tryAcquire())
    assert.equal(a.requests.count(), 0, 'resources are independent')
    b.connections.release()
    assert.ok(a.connections.tryAcquire())
    assert.equal(a.connections.max(), 2)
  })

  it('keeps circuit_breakers gauges exact when each thread writes its own shard', () => {
    const memory = StatMemory.create(256, 4)
    const main = new ThreadLocalStoreImpl(memory, 0).createScope('cluster.c')
    const w1 = new ThreadLocalStoreImpl(memory, 2).createScope('cluster.c')
    const w2 = new ThreadLocalStoreImpl(memory, 3).createScope('cluster.c')
    const buffer = createResourcesBuffer()
    const limits = resourceLimits(config([{ priority: 'DEFAULT', max_connections: 2, track_remaining: true }]), 'default')
    new ResourceManagerImpl({ buffer, priority: 'default', limits, scope: main }).initializeGauges()
    const a = new ResourceManagerImpl({ buffer, priority: 'default', limits, scope: w1 })
    const b = new ResourceManagerImpl({ buffer, priority: 'default', limits, scope: w2 })
    const open = main.gauge('circuit_breakers.default.cx_open')
    const remaining = main.gauge('circuit_breakers.default.remaining_cx')
    assert.equal(open.value(), 0)
    assert.equal(remaining.value(), 2)
    assert.ok(a.connections.tryAcquire())
    assert.equal(remaining.value(), 1)
    assert.ok(b.connections.tryAcquire())
    assert.equal(open.value(), 1)
    assert.equal(remaining.value(), 0)
    assert.equal(a.connections.tryAcquire(), false)
    assert.equal(open.value(), 1)
    assert.equal(remaining.value(), 0)
    a.connections.release() // released by a thread other than the one that acquired it
    assert.equal(open.value(), 0)
    assert.equal(remaining.value(), 1)
    assert.equal(main.gauge('circuit_breakers.default.rq_open').value(), 0)
    // remaining_* exist only with track_remaining (HIGH here does not track).
    new ResourceManagerImpl({ buffer, priority: 'high', limits: resourceLimits(config(), 'high'), scope: main }).initializeGauges()
    const names = Array.from({ length: memory.count() }, (_, i) => memory.nameOf(i))
    assert.ok(names.includes('cluster.c.circuit_breakers.high.cx_open'))
    assert.ok(!names.includes('cluster.c.circuit_breakers.high.remaining_cx'))
  })

  it('never lets racing threads take more than max', async () => {
    const buffer = createResourcesBuffer()
    const url = new URL('../../../source/common/upstream/resource-manager-impl.js', import.meta.url).href
    const code = `
      const { workerData, parentPort } = require('node:worker_threads')
      import(workerData.url).then(({ ResourceManagerImpl, resourceLimits }) => {
        const limits = { ...resourceLimits({ name: 'c' }, 'default'), max_connections: 100 }
        const m = new ResourceManagerImpl({ buffer: workerData.buffer, priority: 'default', limits })
        let won = 0
        for (let i = 0; i < 5000; i++) if (m.connections.tryAcquire()) won++
        parentPort.postMessage(won)
      })`
    const runs = Array.from({ length: 4 }, () => new Promise<number>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { url, buffer } })
      w.once('message', (n: number) => { resolve(n); void w.terminate() })
      w.once('error', reject)
    }))
    const won = (await Promise.all(runs)).reduce((a, b) => a + b, 0)
    assert.equal(won, 100)
    assert.equal(new Int32Array(buffer)[0], 100)
  })
})
