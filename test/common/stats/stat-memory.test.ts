import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'
import { MergedHistogram } from '../../../source/common/stats/histogram-impl.js'
import { StatMemory, workerShard } from '../../../source/common/stats/stat-memory.js'
import { StatsRoot } from '../../../source/common/stats/stats-root.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import type { HistogramSample } from '../../../source/common/stats/histogram-impl.js'

function runWriter(memory: StatMemory, shard: number, iterations: number, names: number): Promise<HistogramSample[]> {
  const w = new Worker(new URL('./fixtures/stat-writer.js', import.meta.url), {
    workerData: { handles: memory.handles, shard, iterations, names },
  })
  return new Promise((resolve, reject) => {
    w.once('message', (m: { samples: HistogramSample[] }) => resolve(m.samples))
    w.once('error', reject)
  })
}

describe('StatMemory', () => {
  it('adds up counters and gauges from 4 threads exactly', async () => {
    const memory = StatMemory.create(1024, 6)
    const iterations = 100_000
    const samples = await Promise.all([0, 1, 2, 3].map((i) => runWriter(memory, workerShard(i), iterations, 50)))
    const main = new ThreadLocalStoreImpl(memory, 0)
    assert.equal(main.counter('test.total').value(), 4 * iterations)
    assert.equal(main.gauge('test.active').value(), 4 * (iterations / 2))
    for (let i = 0; i < 50; i++) assert.equal(main.counter(`test.dynamic.n${i}`).value(), 8)
    // 2 fixed names + 50 dynamic ones, each allocated once however many threads asked.
    assert.equal(memory.count(), 52)
    const merged = new MergedHistogram('test.latency', 'Milliseconds')
    for (const s of samples.flat()) merged.merge(s)
    assert.equal(merged.cumulativeCount(), 4)
    assert.equal(merged.quantile(1, 'cumulative'), workerShard(3))
  })

  it('resets counters without racing writers, and keeps gauges', () => {
    const memory = StatMemory.create(16, 3)
    const a = new ThreadLocalStoreImpl(memory, 1)
    const b = new ThreadLocalStoreImpl(memory, 2)
    a.counter('c').add(5)
    b.counter('c').add(7)
    a.gauge('g').set(3)
    memory.resetCounters()
    assert.equal(a.counter('c').value(), 0)
    b.counter('c').inc()
    assert.equal(a.counter('c').value(), 1)
    assert.equal(a.gauge('g').value(), 3)
    assert.equal(a.counter('c').used(), true)
  })

  it('clears a dead thread\'s gauges but not its counters', () => {
    const memory = StatMemory.create(16, 3)
    const w = new ThreadLocalStoreImpl(memory, 2)
    w.counter('cx_total').add(4)
    w.gauge('cx_active').add(4)
    memory.clearShardGauges(2)
    assert.equal(w.counter('cx_total').value(), 4)
    assert.equal(w.gauge('cx_active').value(), 0)
  })

  it('sends names past capacity to a spare slot that is never listed', () => {
    const memory = StatMemory.create(2, 1)
    const s = new ThreadLocalStoreImpl(memory, 0)
    s.counter('a').inc()
    s.counter('b').inc()
    s.counter('c').inc()
    assert.equal(memory.count(), 2)
    assert.equal(memory.overflowed(), true)
    const root = new StatsRoot(memory, s, () => Promise.resolve([]))
    assert.deepEqual(root.snapshot().counters.map((c) => c.name), ['a', 'b'])
  })

  it('applies the stats matcher: rejected names work locally and are never listed', () => {
    const memory = StatMemory.create(16, 1)
    const s = new ThreadLocalStoreImpl(memory, 0, (n) => !n.startsWith('noisy.'))
    s.counter('noisy.x').add(3)
    s.counter('kept').inc()
    assert.equal(s.counter('noisy.x').value(), 3)
    assert.equal(memory.count(), 1)
  })
})

describe('MergedHistogram', () => {
  it('computes quantiles, buckets and intervals', () => {
    const memory = StatMemory.create(16, 1)
    const s = new ThreadLocalStoreImpl(memory, 0)
    const h = s.histogram('rq_time', 'Milliseconds')
    for (let i = 1; i <= 100; i++) h.recordValue(i)
    h.recordValue(0.25)
    const merged = new MergedHistogram('rq_time', 'Milliseconds')
    for (const sample of s.drainHistograms()) merged.merge(sample)
    assert.equal(merged.cumulativeCount(), 101)
    assert.ok(Math.abs(merged.quantile(0.5, 'cumulative') - 50) <= 0.1)
    assert.equal(merged.quantile(1, 'cumulative'), 100)
    assert.ok(Math.abs(merged.cumulativeSumValue() - 5050.25) < 1e-9)
    assert.deepEqual(merged.bucketCounts([0.5, 1, 10, 1000]), [1, 2, 11, 101])
    assert.ok(Number.isNaN(merged.quantile(0.5, 'interval')))
    merged.flushInterval()
    assert.equal(merged.intervalCount(), 101)
    merged.flushInterval()
    assert.equal(merged.intervalCount(), 0)
    assert.equal(merged.cumulativeCount(), 101)
  })
})
