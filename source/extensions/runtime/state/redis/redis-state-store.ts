import type { Concurrency, StateGetResult, StateItem, StateOperation, StateStore } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'
import { LuaScript } from '../../../../common/runtime-api/redis/lua-script.js'
import type { RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { isReplyError } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'

/**
 * Reads keys stored as Dapr's Redis state store stores them: a hash {data, version}. A plain
 * string (written by another tool) reads as its value with no etag. Per key: [data, version,
 * pttl, contentType]; a missing key has no data.
 */
const GET = new LuaScript(`
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k).ok
  if t == 'hash' then
    local v = redis.call('HMGET', k, 'data', 'version', 'contentType')
    out[i] = { v[1], v[2], redis.call('PTTL', k), v[3] }
  elseif t == 'string' then
    out[i] = { redis.call('GET', k), false, redis.call('PTTL', k), false }
  else
    out[i] = { false, false, -2, false }
  end
end
return out
`)

/**
 * Applies upserts and deletes all or nothing. ARGV holds 6 fields per key: op (s: set, d:
 * delete), expected etag ('' none), concurrency (f: first-write, l: last-write, '' default),
 * ttl in seconds ('' or -1: none), data, content type ('' none). Every check runs before any
 * write (later operations on a key see the earlier ones: a key set earlier in the batch exists
 * with an etag nobody knows yet), and Redis runs the script atomically, so a failed check
 * leaves every key as it was. Returns the new versions.
 */
const WRITE = new LuaScript(`
local n = #KEYS
local shadow = {}
for i = 1, n do
  local b = (i - 1) * 6
  local k, op, etag, mode = KEYS[i], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  if mode ~= 'l' then
    local exists, ver = false, false
    if shadow[k] == 'set' then
      exists = true
    elseif shadow[k] == nil then
      local t = redis.call('TYPE', k).ok
      exists = t ~= 'none'
      if t == 'hash' then ver = redis.call('HGET', k, 'version') end
    end
    if etag ~= '' then
      if not exists then return redis.error_reply('ETS_ETAG_MISMATCH ' .. i .. ' missing') end
      if ver ~= etag then return redis.error_reply('ETS_ETAG_MISMATCH ' .. i .. ' differs') end
    elseif mode == 'f' and op == 's' and exists then
      return redis.error_reply('ETS_ETAG_MISMATCH ' .. i .. ' exists')
    end
  end
  if op == 'd' then shadow[k] = 'deleted' else shadow[k] = 'set' end
end
local versions = {}
for i = 1, n do
  local b = (i - 1) * 6
  local k, op, ttl, ct = KEYS[i], ARGV[b + 1], ARGV[b + 4], ARGV[b + 6]
  if op == 'd' then
    redis.call('DEL', k)
    versions[i] = ''
  else
    if redis.call('TYPE', k).ok ~= 'hash' then redis.call('DEL', k) end
    local v = redis.call('HINCRBY', k, 'version', 1)
    redis.call('HSET', k, 'data', ARGV[b + 5])
    if ct == '' then redis.call('HDEL', k, 'contentType') else redis.call('HSET', k, 'contentType', ct) end
    if ttl == '' or ttl == '-1' then redis.call('PERSIST', k) else redis.call('EXPIRE', k, ttl) end
    versions[i] = tostring(v)
  end
end
return versions
`)

interface WriteOp {
  op: 's' | 'd'
  key: string
  etag: string
  concurrency: Concurrency | undefined
  ttl: string
  data: Uint8Array
  contentType: string
}

export interface RedisStateStoreOptions {
  name: string
  /** Prepended to every key (Dapr's keyPrefix strategy, e.g. `myapp||`). */
  keyPrefix: string
  /** The component's `ttlInSeconds`, used when a request has none. */
  defaultTtlSeconds: number | undefined
}

/**
 * Dapr's Redis state store semantics over one connection: etags are the hash's `version`,
 * which every write increments; first-write concurrency checks them (and without an etag
 * only creates); `ttlInSeconds` sets EXPIRE. Multi-key writes (bulk set, bulk delete,
 * transactions) run as one Lua script, so they are atomic.
 */
export class RedisStateStore implements StateStore {
  private readonly conn: RedisConnection
  private readonly name: string
  private readonly prefix: string
  private readonly defaultTtl: number | undefined

  constructor(conn: RedisConnection, options: RedisStateStoreOptions) {
    this.conn = conn
    this.name = options.name
    this.prefix = options.keyPrefix
    this.defaultTtl = options.defaultTtlSeconds
  }

  // StateStore
  async features(): Promise<string[]> {
    return ['ETAG', 'TRANSACTIONAL', 'TTL']
  }

  async get(key: string): Promise<StateGetResult> {
    const [r] = await this.read([key], 'ERR_STATE_GET')
    return r!
  }

  async bulkGet(keys: string[]): Promise<Array<StateGetResult & { key: string; error?: string }>> {
    if (keys.length === 0) return []
    const results = await this.read(keys, 'ERR_STATE_GET')
    return results.map((r, i) => ({ key: keys[i]!, ...r }))
  }

  async set(items: StateItem[]): Promise<void> {
    if (items.length === 0) return
    const ops = items.map((it) => this.upsertOp(it, undefined))
    await this.write(ops, 'ERR_STATE_SAVE')
  }

  async delete(key: string, etag?: string, _metadata?: Record<string, string>, concurrency?: Concurrency): Promise<void> {
    await this.write([this.deleteOp(key, etag, concurrency)], 'ERR_STATE_DELETE')
  }

  async bulkDelete(items: Array<{ key: string; etag?: string; metadata?: Record<string, string> }>): Promise<void> {
    if (items.length === 0) return
    const ops = items.map((it) => this.deleteOp(it.key, it.etag, undefined))
    await this.write(ops, 'ERR_STATE_DELETE')
  }

  async transaction(ops: StateOperation[], metadata?: Record<string, string>): Promise<void> {
    if (ops.length === 0) return
    const writes = ops.map((o) => (o.op === 'upsert' ? this.upsertOp(o.item, metadata) : this.deleteOp(o.key, o.etag, o.concurrency)))
    await this.write(writes, 'ERR_STATE_TRANSACTION')
  }

  /** Closes the connection (not part of StateStore: for owners that dispose components). */
  async close(): Promise<void> {
    await this.conn.close()
  }

  private upsertOp(item: StateItem, txMetadata: Record<string, string> | undefined): WriteOp {
    const etag = this.checkEtag(item.key, item.etag, item.concurrency)
    const ttl = this.ttl(item.metadata?.['ttlInSeconds'] ?? txMetadata?.['ttlInSeconds'], item.key)
    const contentType = item.contentType ?? item.metadata?.['contentType'] ?? ''
    return { op: 's', key: item.key, etag, concurrency: item.concurrency, ttl, data: item.value, contentType }
  }

  private deleteOp(key: string, etag: string | undefined, concurrency: Concurrency | undefined): WriteOp {
    const e = this.checkEtag(key, etag, concurrency)
    return { op: 'd', key, etag: e, concurrency, ttl: '', data: new Uint8Array(0), contentType: '' }
  }

  /**
   * Versions are integers; anything else can never match (Dapr's ETagInvalid). As Dapr's Redis
   * store, last-write concurrency ignores the etag.
   */
  private checkEtag(key: string, etag: string | undefined, concurrency: Concurrency | undefined): string {
    if (etag === undefined || etag === '' || concurrency === 'last-write') return ''
    if (!/^\d+$/.test(etag)) {
      throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ETAG_INVALID', `invalid etag value: ${JSON.stringify(etag)} (key ${key})`)
    }
    return etag
  }

  /** Dapr's `ttlInSeconds`: -1 never expires; absent falls back to the component's default. */
  private ttl(raw: string | undefined, key: string): string {
    if (raw === undefined || raw === '') {
      return this.defaultTtl !== undefined && this.defaultTtl > 0 ? String(this.defaultTtl) : ''
    }
    if (!/^-?\d+$/.test(raw.trim()) || Number(raw) < -1) {
      throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_STATE_SAVE', `invalid ttlInSeconds for key ${key} in state store ${this.name}: "${raw}" (an integer, -1 for no expiry)`)
    }
    const n = Number(raw)
    return n <= 0 ? '' : String(n)
  }

  private async read(keys: string[], errorCode: string): Promise<StateGetResult[]> {
    const reply = await this.conn.run(errorCode, (c) => GET.runBuffer(c, keys.map((k) => this.prefix + k), []))
    const rows = reply as Array<[Buffer | null, Buffer | null, number, Buffer | null]>
    const now = Date.now()
    return rows.map(([data, version, pttl, contentType]) => {
      if (data === null) return { value: undefined }
      // A copy: the parser may hand out views of a pooled buffer.
      const r: StateGetResult = { value: new Uint8Array(data) }
      if (version !== null) r.etag = version.toString()
      if (pttl > 0) r.metadata = { ttlExpireTime: new Date(now + pttl).toISOString() }
      if (contentType !== null && contentType.length > 0) r.contentType = contentType.toString()
      return r
    })
  }

  private async write(ops: WriteOp[], errorCode: string): Promise<void> {
    const args: Array<string | Buffer> = []
    for (const o of ops) {
      const mode = o.concurrency === 'first-write' ? 'f' : o.concurrency === 'last-write' ? 'l' : ''
      args.push(o.op, o.etag, mode, o.ttl, Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength), o.contentType)
    }
    await this.conn.run(errorCode, async (c) => {
      try {
        await WRITE.run(c, ops.map((o) => this.prefix + o.key), args)
      } catch (err) {
        const m = err instanceof Error ? /ETS_ETAG_MISMATCH (\d+) (\w+)/.exec(err.message) : null
        if (m === null || !isReplyError(err, '')) throw err
        const key = ops[Number(m[1]) - 1]?.key ?? ''
        const why = m[2] === 'missing' ? `item ${key} does not exist`
          : m[2] === 'exists' ? `item ${key} already exists and no etag was passed`
            : `etag of item ${key} does not match`
        // Dapr's ETagMismatch, shaped as the in-memory store's (FAILED_PRECONDITION).
        throw new RuntimeApiError(RuntimeStatus.FAILED_PRECONDITION, 'ETAG_MISMATCH', `possible etag mismatch. error from state store: ${why}`)
      }
    })
  }
}
