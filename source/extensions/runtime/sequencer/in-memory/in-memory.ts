import type { Sequencer } from '../../../../envoy/runtime-api/components.js'

/**
 * Layotto's in-memory sequencer, run once on main (embedded): one counter per key, so ids of a
 * key strictly increase across every worker and connection. `biggerThan` (Layotto's option)
 * sets, per key, a value every id must exceed.
 */
export class InMemorySequencer implements Sequencer {
  private readonly counters = new Map<string, bigint>()

  constructor(biggerThan: Record<string, bigint> = {}) {
    for (const [key, v] of Object.entries(biggerThan)) this.counters.set(key, v)
  }

  // Sequencer
  async nextId(key: string): Promise<bigint> {
    const next = (this.counters.get(key) ?? 0n) + 1n
    this.counters.set(key, next)
    return next
  }
}
