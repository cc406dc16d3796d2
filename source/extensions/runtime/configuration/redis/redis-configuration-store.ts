import type { Logger } from 'pino'
import type { ConfigurationItem, ConfigurationStore } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'
import { LuaScript } from '../../../../common/runtime-api/redis/lua-script.js'
import type { RedisSettings } from '../../../../common/runtime-api/redis/metadata.js'
import { isReplyError, RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'
import { startPeriodicTimer } from '../../../../common/event/timer-impl.js'
import type { Timer } from '../../../../envoy/event/timer.js'

/**
 * Saves `value||version` strings. An empty version becomes the stored one plus 1 (1 for a new
 * key), so Layotto's SaveConfiguration without versions still yields changing versions.
 */
const SAVE = new LuaScript(`
for i, k in ipairs(KEYS) do
  local value, version = ARGV[2 * i - 1], ARGV[2 * i]
  if version == '' then
    local n = 0
    if redis.call('TYPE', k).ok == 'string' then
      local v = string.match(redis.call('GET', k), '||(%d+)$')
      if v then n = tonumber(v) end
    end
    version = string.format('%d', n + 1)
  end
  redis.call('SET', k, value .. '||' .. version)
end
return #KEYS
`)

/** The event classes keyspace notifications need here: K keyspace, $ strings, g DEL/EXPIRE/RENAME, x expiry. */
const NEEDED_FLAGS = ['K', '$', 'g', 'x']
/** `A` is Redis's alias for g$lshztxe (plus d in 7.x). */
const ALIAS_A = new Set(['g', '$', 'l', 's', 'h', 'z', 't', 'x', 'e', 'd'])

export interface RedisConfigurationOptions {
  name: string
  /** Polling period when keyspace notifications cannot be enabled. */
  pollIntervalMs: number
}

/**
 * Dapr's configuration.redis: each item is a Redis string `value||version` (a value without
 * `||` has an empty version), read with MGET (all keys with SCAN when none are asked for).
 * Subscriptions follow keyspace notifications (enabled on the server with CONFIG SET when they
 * are off, as Dapr does), and poll when that is not allowed. Layotto's save and delete write
 * the same format.
 */
export class RedisConfigurationStore implements ConfigurationStore {
  private readonly conn: RedisConnection
  private readonly settings: RedisSettings
  private readonly log: Logger
  private readonly options: RedisConfigurationOptions
  private readonly subscriptions = new Set<ConfigSubscription>()

  constructor(conn: RedisConnection, settings: RedisSettings, log: Logger, options: RedisConfigurationOptions) {
    this.conn = conn
    this.settings = settings
    this.log = log
    this.options = options
  }

  // ConfigurationStore
  async get(keys: string[]): Promise<ConfigurationItem[]> {
    const snapshot = await this.read(keys, 'ERR_CONFIGURATION_GET')
    const items: ConfigurationItem[] = []
    for (const [key, raw] of snapshot) if (raw !== null) items.push(toItem(key, raw))
    return items
  }

  async save(items: ConfigurationItem[]): Promise<void> {
    if (items.length === 0) return
    for (const it of items) {
      if (it.key === '') throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_CONFIGURATION_SAVE', `empty key in configuration store ${this.options.name}`)
    }
    const args = items.flatMap((it) => [it.value, it.version ?? ''])
    await this.conn.run('ERR_CONFIGURATION_SAVE', (c) =>
      SAVE.run(c, items.map((it) => it.key), args))
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length === 0) return
    await this.conn.run('ERR_CONFIGURATION_DELETE', (c) => c.del(...keys))
  }

  async subscribe(keys: string[], onChange: (items: ConfigurationItem[]) => void): Promise<() => Promise<void>> {
    const sub = new ConfigSubscription(this, [...new Set(keys)], onChange)
    await sub.start()
    this.subscriptions.add(sub)
    return async () => {
      this.subscriptions.delete(sub)
      await sub.stop()
    }
  }

  /** Stops every subscription and closes the connection (not part of ConfigurationStore). */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()))
    this.subscriptions.clear()
    await this.conn.close()
  }

  // For ConfigSubscription.
  get name(): string { return this.options.name }
  get pollIntervalMs(): number { return this.options.pollIntervalMs }
  get db(): number { return this.settings.db }
  get logger(): Logger { return this.log }

  newSubscriber(): RedisConnection {
    return new RedisConnection(this.settings, this.log, { label: `configuration:${this.options.name}:subscriber`, blocking: true })
  }

  /** Raw values of `keys` (every key when empty); null for a missing or non-string key. */
  async read(keys: readonly string[], errorCode: string): Promise<Map<string, string | null>> {
    return this.conn.run(errorCode, async (c) => {
      let wanted = keys
      if (wanted.length === 0) {
        const all = new Set<string>()
        let cursor = '0'
        do {
          const [next, batch] = await c.scan(cursor, 'COUNT', 1000)
          for (const k of batch) all.add(k)
          cursor = next
        } while (cursor !== '0')
        wanted = [...all].sort()
      }
      const out = new Map<string, string | null>()
      // MGET answers nil for keys of other types, which are not configuration items.
      for (let i = 0; i < wanted.length; i += 1000) {
        const chunk = wanted.slice(i, i + 1000)
        const values = await c.mget(...chunk)
        chunk.forEach((k, j) => out.set(k, values[j] ?? null))
      }
      return out
    })
  }

  /**
   * Makes sure the server publishes the keyspace events subscriptions need (CONFIG SET
   * notify-keyspace-events, adding to what is already on). False when that is not allowed
   * (ACLs, managed Redis with CONFIG disabled): subscriptions then poll.
   */
  async enableKeyspaceEvents(): Promise<boolean> {
    return this.conn.run('ERR_CONFIGURATION_SUBSCRIBE', async (c) => {
      try {
        const reply = await c.call('CONFIG', ['GET', 'notify-keyspace-events']) as string[]
        const current = reply[1] ?? ''
        const have = new Set(current.split(''))
        const covered = (f: string): boolean => have.has(f) || (have.has('A') && ALIAS_A.has(f))
        const missing = NEEDED_FLAGS.filter((f) => !covered(f))
        if (missing.length === 0) return true
        await c.call('CONFIG', ['SET', 'notify-keyspace-events', current + missing.join('')])
        this.log.info({ store: this.options.name, flags: current + missing.join('') }, 'redis configuration: enabled keyspace notifications')
        return true
      } catch (err) {
        if (!isReplyError(err, '')) throw err
        this.log.warn({ store: this.options.name, err: (err as Error).message, pollMs: this.options.pollIntervalMs },
          'redis configuration: cannot enable keyspace notifications, polling instead')
        return false
      }
    })
  }
}

/** One subscription: keyspace notifications, or polling; both report changes against a snapshot. */
class ConfigSubscription {
  private readonly store: RedisConfigurationStore
  private readonly keys: string[]
  private readonly onChange: (items: ConfigurationItem[]) => void
  private last = new Map<string, string | null>()
  private subscriber: RedisConnection | undefined
  private pollTimer: Timer | undefined
  private polling = false
  private stopped = false

  constructor(store: RedisConfigurationStore, keys: string[], onChange: (items: ConfigurationItem[]) => void) {
    this.store = store
    this.keys = keys
    this.onChange = onChange
  }

  async start(): Promise<void> {
    this.last = await this.store.read(this.keys, 'ERR_CONFIGURATION_SUBSCRIBE')
    if (await this.store.enableKeyspaceEvents()) {
      await this.listen()
    } else {
      this.pollTimer = startPeriodicTimer(this.store.pollIntervalMs, () => void this.poll())
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.pollTimer?.disableTimer()
    await this.subscriber?.close()
  }

  private async listen(): Promise<void> {
    const sub = this.store.newSubscriber()
    this.subscriber = sub
    const prefix = `__keyspace@${this.store.db}__:`
    const patterns = this.keys.length === 0 ? [`${prefix}*`] : this.keys.map((k) => prefix + escapeGlob(k))
    sub.client.on('pmessage', (_pattern: string, channel: string) => {
      if (!this.stopped && channel.startsWith(prefix)) void this.refresh([channel.slice(prefix.length)])
    })
    let first = true
    sub.client.on('ready', () => {
      // Resubscribed after a reconnect (ioredis autoResubscribe). The server may be a new one
      // with notifications off again: turn them back on, then catch up on missed changes.
      if (!first && !this.stopped) void this.resume()
      first = false
    })
    try {
      await sub.run('ERR_CONFIGURATION_SUBSCRIBE', (c) => c.psubscribe(...patterns))
    } catch (err) {
      // The caller gets the error and no stop function: do not leave a client reconnecting.
      this.stopped = true
      await sub.close()
      throw err
    }
  }

  private async resume(): Promise<void> {
    try {
      if (!(await this.store.enableKeyspaceEvents()) && this.pollTimer === undefined && !this.stopped) {
        this.pollTimer = startPeriodicTimer(this.store.pollIntervalMs, () => void this.poll())
      }
    } catch (err) {
      this.store.logger.debug({ store: this.store.name, err: (err as Error).message }, 'redis configuration: re-enabling notifications failed')
    }
    await this.poll()
  }

  /** Reads `keys` and reports those that changed since the last look. */
  private async refresh(keys: string[]): Promise<void> {
    try {
      const now = await this.store.read(keys, 'ERR_CONFIGURATION_SUBSCRIBE')
      this.report(now, false)
    } catch (err) {
      this.store.logger.debug({ store: this.store.name, err: (err as Error).message }, 'redis configuration: read after change failed')
    }
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return
    this.polling = true
    try {
      this.report(await this.store.read(this.keys, 'ERR_CONFIGURATION_SUBSCRIBE'), true)
    } catch (err) {
      this.store.logger.debug({ store: this.store.name, err: (err as Error).message }, 'redis configuration: poll failed')
    } finally {
      this.polling = false
    }
  }

  /** `complete`: `now` holds every subscribed key, so keys it lacks were deleted. */
  private report(now: Map<string, string | null>, complete: boolean): void {
    if (this.stopped) return
    const changed: ConfigurationItem[] = []
    for (const [key, raw] of now) {
      if ((this.last.get(key) ?? null) === raw) continue
      this.last.set(key, raw)
      // A deleted (or expired) key is reported with an empty value and version.
      changed.push(raw === null ? { key, value: '', version: '' } : toItem(key, raw))
    }
    if (complete) {
      for (const [key, raw] of this.last) {
        if (now.has(key) || raw === null) continue
        this.last.set(key, null)
        changed.push({ key, value: '', version: '' })
      }
    }
    if (changed.length > 0) this.onChange(changed)
  }
}

/** Dapr's format: `value||version`; without `||` the whole string is the value. */
export function toItem(key: string, raw: string): ConfigurationItem {
  const i = raw.lastIndexOf('||')
  if (i < 0) return { key, value: raw, version: '' }
  return { key, value: raw.slice(0, i), version: raw.slice(i + 2) }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}
