import { randomUUID } from 'node:crypto'
import { threadId } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { DeliveryStatus, PubSub, PubSubMessage } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'
import type { RedisSettings } from '../../../../common/runtime-api/redis/metadata.js'
import { isReplyError, RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'
import { delay, startPeriodicTimer } from '../../../../common/event/timer-impl.js'
import type { Timer } from '../../../../envoy/event/timer.js'

export interface RedisPubSubOptions {
  name: string
  /** Consumer group of every subscription (Dapr `consumerID`, default the app id). */
  consumerGroup: string
  /** XADD MAXLEN ~ <n>; undefined: streams are not trimmed. */
  maxLenApprox: number | undefined
  /** How long a message stays pending (unacknowledged) before it is redelivered; 0: never. */
  processingTimeoutMs: number
  /** How often pending messages are checked for redelivery; 0: never. */
  redeliverIntervalMs: number
  /** Messages read per XREADGROUP, and the most in flight per subscription. */
  queueDepth: number
  /** Handler calls in parallel per subscription. */
  concurrency: number
}

/** How long one XREADGROUP waits for messages; stop() does not wait for it (it disconnects). */
const BLOCK_MS = 2000
/** How long stop() waits for deliveries under way. */
const STOP_GRACE_MS = 5000

/**
 * Pub/sub on Redis Streams (Dapr's pubsub.redis): a topic is a stream, publish is XADD, and
 * each subscription reads through a consumer group, so every group (app) gets every message and
 * the consumers of one group (this app's instances) share them. Delivery is at least once: a
 * message is acknowledged (XACK) only when the handler answers SUCCESS or DROP; on RETRY or a
 * failure it stays pending and, once pending longer than `processingTimeout`, a consumer of the
 * group claims (XCLAIM) and delivers it again, checking every `redeliverInterval`.
 *
 * Publishing uses the component's connection; each subscription adds a connection of its own
 * for its blocking reads.
 */
export class RedisPubSub implements PubSub {
  private readonly conn: RedisConnection
  private readonly settings: RedisSettings
  private readonly log: Logger
  private readonly options: RedisPubSubOptions
  private readonly subscriptions = new Set<StreamSubscription>()

  constructor(conn: RedisConnection, settings: RedisSettings, log: Logger, options: RedisPubSubOptions) {
    this.conn = conn
    this.settings = settings
    this.log = log
    this.options = options
  }

  // PubSub
  async features(): Promise<string[]> {
    return []
  }

  async publish(topic: string, data: Uint8Array, contentType: string, metadata?: Record<string, string>): Promise<void> {
    if (topic === '') throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_TOPIC_NAME_EMPTY', `topic is empty in pubsub ${this.options.name}`)
    const args: Array<string | Buffer | number> = [topic]
    if (this.options.maxLenApprox !== undefined) args.push('MAXLEN', '~', this.options.maxLenApprox)
    args.push('*', 'data', Buffer.from(data.buffer, data.byteOffset, data.byteLength))
    if (contentType !== '') args.push('contentType', contentType)
    if (metadata !== undefined && Object.keys(metadata).length > 0) args.push('metadata', JSON.stringify(metadata))
    await this.conn.run('ERR_PUBSUB_PUBLISH_MESSAGE', (c) => c.call('XADD', args))
  }

  async subscribe(topic: string, handler: (m: PubSubMessage) => Promise<DeliveryStatus>, metadata?: Record<string, string>): Promise<() => Promise<void>> {
    if (topic === '') throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_TOPIC_NAME_EMPTY', `topic is empty in pubsub ${this.options.name}`)
    const group = metadata?.['consumerID'] !== undefined && metadata['consumerID'] !== '' ? metadata['consumerID'] : this.options.consumerGroup
    const reader = new RedisConnection(this.settings, this.log, { label: `pubsub:${this.options.name}:${topic}`, blocking: true })
    const sub = new StreamSubscription({ ...this.options, topic, group, handler, conn: this.conn, reader, log: this.log })
    try {
      await sub.start()
    } catch (err) {
      await reader.close()
      throw err
    }
    this.subscriptions.add(sub)
    return async () => {
      this.subscriptions.delete(sub)
      await sub.stop()
    }
  }

  /** Stops every subscription and closes the connection (not part of PubSub). */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()))
    this.subscriptions.clear()
    await this.conn.close()
  }
}

interface SubscriptionParams extends RedisPubSubOptions {
  topic: string
  group: string
  handler: (m: PubSubMessage) => Promise<DeliveryStatus>
  /** For XGROUP, XACK, XPENDING, XCLAIM. */
  conn: RedisConnection
  /** For the blocking XREADGROUP only. */
  reader: RedisConnection
  log: Logger
}

/** A stream entry as Redis returns it with Buffer replies: [id, [field, value, ...]]. */
type RawEntry = [Buffer, Buffer[] | null] | null

const ERR = 'ERR_PUBSUB_SUBSCRIBE'

class StreamSubscription {
  private readonly p: SubscriptionParams
  private readonly consumer: string
  private readonly inFlight = new Set<string>()
  private readonly slotWaiters: Array<() => void> = []
  private running = 0
  private groupReady = false
  private stopped = false
  private loop: Promise<void> | undefined
  private reclaimTimer: Timer | undefined
  private reclaiming = false
  private idleWaiter: (() => void) | undefined
  // A semaphore of `concurrency` handler calls.
  private active = 0
  private readonly queue: Array<() => void> = []

  constructor(p: SubscriptionParams) {
    this.p = p
    // Unique per subscription, so two instances of one app are two consumers of its group.
    this.consumer = `${p.group}-${process.pid}-${threadId}-${randomUUID().slice(0, 8)}`
  }

  async start(): Promise<void> {
    try {
      await this.ensureGroup()
    } catch (err) {
      // Redis being down is no reason to refuse the subscription: the loop retries.
      if ((err as RuntimeApiError).status !== RuntimeStatus.UNAVAILABLE) throw err
      this.p.log.warn({ topic: this.p.topic, err: (err as Error).message }, 'redis pubsub: group not created yet, retrying')
    }
    this.loop = this.readLoop()
    if (this.p.redeliverIntervalMs > 0 && this.p.processingTimeoutMs > 0) {
      this.reclaimTimer = startPeriodicTimer(this.p.redeliverIntervalMs, () => void this.reclaim())
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.reclaimTimer?.disableTimer()
    for (const w of this.slotWaiters.splice(0)) w()
    // Aborts a blocked XREADGROUP.
    await this.p.reader.close()
    await this.loop
    // Let deliveries under way finish (and be acknowledged) before the caller moves on, within
    // reason: one that never ends is redelivered elsewhere after processingTimeout.
    if (this.running > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STOP_GRACE_MS)
        this.idleWaiter = () => { clearTimeout(timer); resolve() }
      })
    }
    await this.forgetConsumer()
  }

  /** XGROUP CREATE ... 0 MKSTREAM: a new group starts at the stream's beginning, as Dapr's. */
  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return
    const { topic, group } = this.p
    await this.p.conn.run(ERR, async (c) => {
      try {
        await c.call('XGROUP', ['CREATE', topic, group, '0', 'MKSTREAM'])
      } catch (err) {
        if (!isReplyError(err, 'BUSYGROUP')) throw err
      }
    })
    this.groupReady = true
  }

  private async readLoop(): Promise<void> {
    let failures = 0
    while (!this.stopped) {
      try {
        await this.ensureGroup()
        await this.freeSlot()
        if (this.stopped) break
        const count = Math.max(1, this.p.queueDepth - this.inFlight.size)
        const reply = await this.p.reader.run(ERR, (c) =>
          c.callBuffer('XREADGROUP', ['GROUP', this.p.group, this.consumer, 'COUNT', count, 'BLOCK', BLOCK_MS, 'STREAMS', this.p.topic, '>']))
        failures = 0
        if (reply === null) continue
        for (const [, entries] of reply as Array<[Buffer, RawEntry[]]>) {
          for (const e of entries) if (e !== null) this.dispatch(e)
        }
      } catch (err) {
        if (this.stopped) break
        if (isReplyError((err as { cause?: unknown }).cause, 'NOGROUP')) this.groupReady = false
        failures++
        const delay = Math.min(100 * 2 ** Math.min(failures, 6), 5000)
        const level = failures === 1 ? 'warn' : 'debug'
        this.p.log[level]({ topic: this.p.topic, group: this.p.group, err: (err as Error).message, retryMs: delay }, 'redis pubsub: read failed')
        await sleep(delay)
      }
    }
  }

  /** Waits until fewer than queueDepth messages are in flight. */
  private async freeSlot(): Promise<void> {
    while (!this.stopped && this.inFlight.size >= this.p.queueDepth) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve))
    }
  }

  private dispatch([idBuf, fields]: [Buffer, Buffer[] | null]): void {
    const id = idBuf.toString()
    if (this.inFlight.has(id)) return
    if (fields === null) {
      // The entry was trimmed away while pending: nothing left to deliver.
      void this.ack(id)
      return
    }
    this.inFlight.add(id)
    void this.deliver(id, fields)
  }

  private async deliver(id: string, fields: Buffer[]): Promise<void> {
    this.running++
    try {
      await this.acquire()
      let status: DeliveryStatus
      try {
        status = await this.p.handler(this.toMessage(id, fields))
      } catch (err) {
        this.p.log.debug({ topic: this.p.topic, id, err: (err as Error).message }, 'redis pubsub: handler failed, will redeliver')
        status = 'RETRY'
      } finally {
        this.release()
      }
      if (status === 'SUCCESS' || status === 'DROP') await this.ack(id)
      // RETRY: left pending; reclaim() delivers it again after processingTimeout.
    } finally {
      this.inFlight.delete(id)
      this.running--
      this.slotWaiters.shift()?.()
      if (this.running === 0) this.idleWaiter?.()
    }
  }

  private async ack(id: string): Promise<void> {
    try {
      await this.p.conn.run(ERR, (c) => c.call('XACK', [this.p.topic, this.p.group, id]))
    } catch (err) {
      // Stays pending, so it is delivered again: at least once.
      this.p.log.warn({ topic: this.p.topic, id, err: (err as Error).message }, 'redis pubsub: ack failed, message will be redelivered')
    }
  }

  /**
   * Claims messages of the group pending longer than processingTimeout (RETRY answers, failed
   * handlers, consumers that went away) and delivers them again. XPENDING + XCLAIM rather than
   * XAUTOCLAIM, which needs Redis 6.2.
   */
  private async reclaim(): Promise<void> {
    if (this.reclaiming || this.stopped || !this.groupReady) return
    this.reclaiming = true
    try {
      const { topic, group, processingTimeoutMs } = this.p
      let start = '-'
      for (;;) {
        const room = this.p.queueDepth - this.inFlight.size
        if (room <= 0 || this.stopped) break
        const pending = await this.p.conn.run(ERR, (c) =>
          c.call('XPENDING', [topic, group, start, '+', room])) as Array<[string, string, number, number]>
        if (pending.length === 0) break
        const ids = pending.filter(([id, , idle]) => idle >= processingTimeoutMs && !this.inFlight.has(id)).map(([id]) => id)
        if (ids.length > 0) {
          const claimed = await this.p.conn.run(ERR, (c) =>
            c.callBuffer('XCLAIM', [topic, group, this.consumer, processingTimeoutMs, ...ids])) as RawEntry[]
          for (const e of claimed) if (e !== null && !this.stopped) this.dispatch(e)
        }
        if (pending.length < room) break
        start = `(${pending[pending.length - 1]![0]}`
      }
    } catch (err) {
      this.p.log.debug({ topic: this.p.topic, err: (err as Error).message }, 'redis pubsub: redelivery check failed')
    } finally {
      this.reclaiming = false
    }
  }

  /** Removes this consumer from the group if it holds no pending messages (best effort). */
  private async forgetConsumer(): Promise<void> {
    try {
      await this.p.conn.run(ERR, async (c) => {
        const summary = await c.call('XPENDING', [this.p.topic, this.p.group]) as [number, unknown, unknown, Array<[string, string]> | null]
        const mine = summary[3]?.find(([name]) => name === this.consumer)
        if (mine === undefined || Number(mine[1]) === 0) await c.call('XGROUP', ['DELCONSUMER', this.p.topic, this.p.group, this.consumer])
      })
    } catch {
      // An idle consumer left in the group is harmless.
    }
  }

  private toMessage(id: string, fields: Buffer[]): PubSubMessage {
    let data: Uint8Array = new Uint8Array(0)
    let contentType = ''
    let metadata: Record<string, string> = {}
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!.toString()
      const value = fields[i + 1]!
      if (name === 'data') data = new Uint8Array(value)
      else if (name === 'contentType') contentType = value.toString()
      else if (name === 'metadata') {
        try {
          const m = JSON.parse(value.toString()) as unknown
          if (m !== null && typeof m === 'object') metadata = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]))
        } catch {
          // Not ours: deliver without metadata.
        }
      }
    }
    return { id, topic: this.p.topic, pubsubName: this.p.name, data, contentType, metadata }
  }

  private acquire(): Promise<void> {
    if (this.active < this.p.concurrency) {
      this.active++
      return Promise.resolve()
    }
    return new Promise((resolve) => this.queue.push(() => { this.active++; resolve() }))
  }

  private release(): void {
    this.active--
    this.queue.shift()?.()
  }
}

function sleep(ms: number): Promise<void> {
  return delay(ms)
}
