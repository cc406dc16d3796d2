import type { Sequencer } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'
import { LuaScript } from '../../../../common/runtime-api/redis/lua-script.js'
import type { RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'

/**
 * INCRBY for a key with a floor (Layotto's `biggerThan`): if the counter is still at or below
 * ARGV[1], it jumps to ARGV[2] (= floor + 1). Returns the value as a string (exact past 2^53).
 */
const INCR_ABOVE = new LuaScript(`
local v = redis.call('INCRBY', KEYS[1], 1)
if v <= tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[2]) end
return redis.call('GET', KEYS[1])
`)

export interface RedisSequencerOptions {
  name: string
  /** Prepended to every key (keyPrefix strategy, e.g. `myapp||`). */
  keyPrefix: string
  /** Layotto's `biggerThan`: ids of these keys start above the given value. */
  biggerThan: ReadonlyMap<string, bigint>
}

/**
 * Layotto's sequencer on Redis: one counter per key, advanced with INCRBY. Every worker's
 * instance talks to the same Redis, which serializes the increments, so ids of a key strictly
 * increase across workers, connections and processes (WEAK and STRONG alike).
 */
export class RedisSequencer implements Sequencer {
  private readonly conn: RedisConnection
  private readonly name: string
  private readonly prefix: string
  private readonly biggerThan: ReadonlyMap<string, bigint>

  constructor(conn: RedisConnection, options: RedisSequencerOptions) {
    this.conn = conn
    this.name = options.name
    this.prefix = options.keyPrefix
    this.biggerThan = options.biggerThan
  }

  // Sequencer
  async nextId(key: string, _options?: { increment?: 'WEAK' | 'STRONG'; metadata?: Record<string, string> }): Promise<bigint> {
    if (key === '') throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_SEQUENCER_NEXT_ID', `Key is empty in sequencer ${this.name}`)
    const floor = this.biggerThan.get(key)
    const k = this.prefix + key
    // The connection is created with stringNumbers, so INCRBY answers a decimal string.
    const reply = await this.conn.run('ERR_SEQUENCER_NEXT_ID', (c) =>
      floor === undefined ? c.incrby(k, 1) : INCR_ABOVE.run(c, [k], [floor.toString(), (floor + 1n).toString()]))
    return BigInt(String(reply))
  }

  /** Closes the connection (not part of Sequencer: for owners that dispose components). */
  async close(): Promise<void> {
    await this.conn.close()
  }
}
