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

let lastRss = 0

/**
 * The process's resident set size, or the last value read when reading fails. Node reads it
 * from /proc/self/stat, which needs a file descriptor: with every descriptor in use
 * `process.memoryUsage()` throws EMFILE (issue 18), and a stats tick must not end the process.
 */
export function residentSetSize(): number {
  try {
    lastRss = process.memoryUsage.rss()
  } catch {
    // Keep the last value: out of descriptors is exactly when memory figures are least urgent.
  }
  return lastRss
}
