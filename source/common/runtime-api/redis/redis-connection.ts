import { Redis, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import { RuntimeStatus } from '../../../envoy/runtime-api/errors.js'
import { RuntimeApiError } from '../runtime-api-error.js'
import type { RedisSettings } from './metadata.js'
import { startTimer } from '../../event/timer-impl.js'

export interface RedisConnectionOptions {
  /** Shows in `CLIENT LIST` as `envoy-ts:<label>` (e.g. `state:statestore`). */
  label: string
  /**
   * For a connection that runs blocking reads (XREADGROUP BLOCK) or SUBSCRIBE: no reply deadline
   * (`readTimeout` would cut a blocking read short).
   */
  blocking?: boolean
  /** Integer replies as strings (ioredis `stringNumbers`), for values beyond 2^53. */
  stringNumbers?: boolean
}

/**
 * One ioredis client of one runtime component instance (components are created per thread, so
 * this is per component per thread). It connects on first use, reconnects in the background
 * with back-off, and never queues commands while Redis is away: a command that cannot be sent
 * is retried `maxRetries` times with a short back-off, then fails with UNAVAILABLE, so callers
 * learn at once that Redis is down instead of waiting on an offline queue. A command whose
 * connection drops after it was sent fails too (it is not resent: its effect is unknown).
 */
export class RedisConnection {
  readonly client: Redis
  private readonly settings: RedisSettings
  private readonly log: Logger
  private readonly label: string
  private readonly blocking: boolean
  private connecting: Promise<void> | undefined
  private lastError = ''
  private wasReady = false
  private down = false
  /** A command already used up its retries in the current outage. */
  private exhausted = false
  private closed = false

  constructor(settings: RedisSettings, log: Logger, options: RedisConnectionOptions) {
    this.settings = settings
    this.log = log
    this.label = options.label
    this.blocking = options.blocking === true
    const maxBackoff = settings.maxRetryBackoffMs > 0 ? settings.maxRetryBackoffMs : 2000
    const opts: RedisOptions = {
      host: settings.host,
      port: settings.port,
      db: settings.db,
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: settings.dialTimeoutMs,
      // Reconnect forever, backing off up to maxRetryBackoff.
      retryStrategy: (times) => Math.min(100 * times, maxBackoff),
      connectionName: `envoy-ts:${options.label}`.replace(/[^\w:.\-]/g, '_'),
      // CLIENT SETINFO exists from Redis 7.2 only.
      disableClientInfo: true,
      ...(settings.username !== undefined ? { username: settings.username } : {}),
      ...(settings.password !== undefined ? { password: settings.password } : {}),
      ...(options.blocking !== true && settings.readTimeoutMs > 0 ? { commandTimeout: settings.readTimeoutMs } : {}),
      ...(options.stringNumbers === true ? { stringNumbers: true } : {}),
    }
    this.client = new Redis(opts)
    this.client.on('error', (err: Error) => {
      // ioredis emits this on every failed (re)connect; log the first of a run only.
      const msg = err.message
      if (!this.down) this.log.warn({ redis: this.address(), component: this.label, err: msg }, 'redis connection error')
      else if (msg !== this.lastError) this.log.debug({ redis: this.address(), component: this.label, err: msg }, 'redis connection error')
      this.down = true
      this.lastError = msg
    })
    this.client.on('ready', () => {
      if (this.wasReady && this.down) this.log.info({ redis: this.address(), component: this.label }, 'redis reconnected')
      this.wasReady = true
      this.down = false
      this.exhausted = false
      this.lastError = ''
    })
  }

  address(): string {
    return `${this.settings.host}:${this.settings.port}`
  }

  /**
   * Runs `fn` on the client once it is ready. Errors become RuntimeApiError: connection
   * problems UNAVAILABLE, anything else Redis answers INTERNAL; a RuntimeApiError thrown by
   * `fn` passes unchanged. `errorCode` is Dapr's code for the calling API (ERR_STATE_GET, ...).
   */
  async run<T>(errorCode: string, fn: (c: Redis) => Promise<T>): Promise<T> {
    // Once a command has used up its retries in an outage, later ones fail at once.
    const retries = this.exhausted ? 0 : this.settings.maxRetries
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new RuntimeApiError(RuntimeStatus.UNAVAILABLE, errorCode, `redis client ${this.label} is closed`)
      if (await this.ready(this.retryDelay(attempt))) {
        try {
          return await fn(this.client)
        } catch (err) {
          throw this.toRuntimeError(err, errorCode)
        }
      }
      if (attempt >= retries) {
        if (this.down) this.exhausted = true
        const reason = this.lastError !== '' ? this.lastError : `not connected (${this.client.status})`
        throw new RuntimeApiError(RuntimeStatus.UNAVAILABLE, errorCode, `redis at ${this.address()} is unavailable: ${reason}`)
      }
    }
  }

  /** Maps a client error to a RuntimeApiError (for loops that call the client directly). */
  toRuntimeError(err: unknown, errorCode: string): RuntimeApiError {
    if (err instanceof RuntimeApiError) return err
    const msg = err instanceof Error ? err.message : String(err)
    if (isConnectionError(err)) {
      return new RuntimeApiError(RuntimeStatus.UNAVAILABLE, errorCode, `redis at ${this.address()} is unavailable: ${msg}`, { cause: err })
    }
    return new RuntimeApiError(RuntimeStatus.INTERNAL, errorCode, `redis: ${msg}`, { cause: err })
  }

  /**
   * True once the client is ready. Starts the first connection (lazily, on first use) and waits
   * for it; while reconnecting, waits at most `waitMs` for the connection to come back.
   */
  private async ready(waitMs: number): Promise<boolean> {
    const c = this.client
    if (c.status === 'ready') return true
    if (c.status === 'end') return false
    if (c.status === 'wait') {
      this.connecting ??= c.connect().catch(() => undefined).finally(() => { this.connecting = undefined })
    }
    if (this.connecting !== undefined) {
      await this.connecting
      return (c.status as string) === 'ready'
    }
    return this.waitReady(waitMs)
  }

  private waitReady(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const c = this.client
      const done = (ok: boolean): void => {
        timer.disableTimer()
        c.off('ready', onReady)
        c.off('end', onEnd)
        resolve(ok)
      }
      const onReady = (): void => done(true)
      const onEnd = (): void => done(false)
      const timer = startTimer(ms, () => done(c.status === 'ready'))
      c.once('ready', onReady)
      c.once('end', onEnd)
    })
  }

  private retryDelay(attempt: number): number {
    const cap = this.settings.maxRetryBackoffMs > 0 ? this.settings.maxRetryBackoffMs : 0
    return Math.min(50 * 2 ** attempt, cap)
  }

  /**
   * Closes the connection; commands after this fail with UNAVAILABLE. A blocking connection is
   * cut at once (QUIT would wait behind a blocked read), which rejects the read under way.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const c = this.client
    if (c.status === 'ready' && !this.blocking) {
      try {
        await c.quit()
        return
      } catch {
        // Fall through to a hard disconnect.
      }
    }
    c.disconnect()
  }
}

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])

/** Whether `err` means the connection (not the command) failed. */
export function isConnectionError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false
  const e = err as { name?: unknown; code?: unknown; message?: unknown }
  if (e.name === 'MaxRetriesPerRequestError') return true
  if (typeof e.code === 'string' && CONNECTION_ERRNOS.has(e.code)) return true
  const msg = typeof e.message === 'string' ? e.message : ''
  return msg === 'Connection is closed.' || msg === 'Command timed out' || msg.startsWith("Stream isn't writeable") || msg.includes('ECONNREFUSED')
}

/** Whether `err` is an error reply from Redis whose message starts with `prefix`. */
export function isReplyError(err: unknown, prefix: string): boolean {
  if (err === null || typeof err !== 'object') return false
  const e = err as { name?: unknown; message?: unknown }
  return e.name === 'ReplyError' && typeof e.message === 'string' && e.message.startsWith(prefix)
}
