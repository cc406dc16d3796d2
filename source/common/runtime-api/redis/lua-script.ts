import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { isReplyError } from './redis-connection.js'

type Arg = string | Buffer | number

/**
 * A Lua script run with EVALSHA, loaded with EVAL on NOSCRIPT (after a Redis restart or
 * SCRIPT FLUSH). Redis runs a script atomically, which is what the etag checks, owner-checked
 * unlock and all-or-nothing transactions rely on.
 */
export class LuaScript {
  readonly lua: string
  readonly sha: string

  constructor(lua: string) {
    this.lua = lua
    this.sha = createHash('sha1').update(lua).digest('hex')
  }

  /** Replies as strings (and integers as numbers). */
  async run(c: Redis, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    try {
      return await c.call('evalsha', [this.sha, keys.length, ...keys, ...args])
    } catch (err) {
      if (!isReplyError(err, 'NOSCRIPT')) throw err
      return c.call('eval', [this.lua, keys.length, ...keys, ...args])
    }
  }

  /** Replies as Buffers (for binary values). */
  async runBuffer(c: Redis, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    try {
      return await c.callBuffer('evalsha', [this.sha, keys.length, ...keys, ...args])
    } catch (err) {
      if (!isReplyError(err, 'NOSCRIPT')) throw err
      return c.callBuffer('eval', [this.lua, keys.length, ...keys, ...args])
    }
  }
}
