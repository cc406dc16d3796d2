import v8 from 'node:v8'
import type { Scope } from '../../envoy/stats/stats.js'

/**
 * Keeps this thread's share of `server.memory_allocated` and `server.memory_heap_size` current.
 * Each thread writes its own shard, so the admin output is the whole process's V8 heap.
 */
export function startMemoryStats(scope: Scope, intervalMs = 1000): NodeJS.Timeout {
  const allocated = scope.gauge('server.memory_allocated', 'Accumulate')
  const heapSize = scope.gauge('server.memory_heap_size', 'Accumulate')
  const update = (): void => {
    const h = v8.getHeapStatistics()
    allocated.set(h.used_heap_size)
    heapSize.set(h.total_heap_size)
  }
  update()
  const t = setInterval(update, intervalMs)
  t.unref()
  return t
}
