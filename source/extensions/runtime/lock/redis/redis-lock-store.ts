import type { LockStore, UnlockStatus } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'
import { LuaScript } from '../../../../common/runtime-api/redis/lua-script.js'
import type { RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'

/** 0: released; 1: no such lock; 2: held by someone else. Compare and delete in one step. */
const UNLOCK = new LuaScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 1 end
if v ~= ARGV[1] then return 2 end
redis.call('DEL', KEYS[1])
return 0
`)

/** Extends the lease only while ARGV[1] still holds the lock. */
const KEEP_ALIVE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

const UNLOCK_STATUS: Record<number, UnlockStatus> = { 0: 'SUCCESS', 1: 'LOCK_DOES_NOT_EXIST', 2: 'LOCK_BELONGS_TO_OTHERS' }

export interface RedisLockStoreOptions {
  name: string
  /** Prepended to resource ids (Dapr's lock keyPrefix strategy, e.g. `lock||myapp||`). */
  keyPrefix: string
}

/**
 * Distributed lock on one Redis (Dapr's lock.redis): the key holds the owner and expires with
 * the lease (`SET NX PX`), so an owner that disappears frees the lock at expiry; unlock and
 * keep-alive compare the owner in a Lua script, so only the owner releases or extends it.
 */
export class RedisLockStore implements LockStore {
  private readonly conn: RedisConnection
  private readonly name: string
  private readonly prefix: string

  constructor(conn: RedisConnection, options: RedisLockStoreOptions) {
    this.conn = conn
    this.name = options.name
    this.prefix = options.keyPrefix
  }

  // LockStore
  async tryLock(resourceId: string, owner: string, expireSeconds: number): Promise<boolean> {
    this.check(resourceId, owner, 'ERR_TRY_LOCK')
    const ms = this.leaseMs(expireSeconds, 'ERR_TRY_LOCK')
    const reply = await this.conn.run('ERR_TRY_LOCK', (c) =>
      c.set(this.prefix + resourceId, owner, 'PX', ms, 'NX'))
    return reply === 'OK'
  }

  async unlock(resourceId: string, owner: string): Promise<UnlockStatus> {
    this.check(resourceId, owner, 'ERR_UNLOCK')
    const reply = await this.conn.run('ERR_UNLOCK', (c) =>
      UNLOCK.run(c, [this.prefix + resourceId], [owner]))
    return UNLOCK_STATUS[Number(reply)] ?? 'INTERNAL_ERROR'
  }

  async keepAlive(resourceId: string, owner: string, expireSeconds: number): Promise<boolean> {
    this.check(resourceId, owner, 'ERR_LOCK_KEEP_ALIVE')
    const ms = this.leaseMs(expireSeconds, 'ERR_LOCK_KEEP_ALIVE')
    const reply = await this.conn.run('ERR_LOCK_KEEP_ALIVE', (c) =>
      KEEP_ALIVE.run(c, [this.prefix + resourceId], [owner, ms]))
    return Number(reply) === 1
  }

  /** Closes the connection (not part of LockStore: for owners that dispose components). */
  async close(): Promise<void> {
    await this.conn.close()
  }

  private check(resourceId: string, owner: string, errorCode: string): void {
    if (resourceId === '') throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, errorCode, `ResourceId is empty in lock store ${this.name}`)
    if (owner === '') throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, errorCode, `LockOwner is empty in lock store ${this.name}`)
  }

  private leaseMs(expireSeconds: number, errorCode: string): number {
    if (!Number.isFinite(expireSeconds) || expireSeconds <= 0) {
      throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, errorCode, `ExpiryInSeconds must be greater than 0 in lock store ${this.name}`)
    }
    return Math.ceil(expireSeconds * 1000)
  }
}
