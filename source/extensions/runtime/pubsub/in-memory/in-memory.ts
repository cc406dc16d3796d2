import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'
import type { DeliveryStatus, PubSub, PubSubMessage } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'
import { startTimer } from '../../../../common/event/timer-impl.js'

export interface InMemoryPubSubOptions {
  /** Undelivered messages a subscription may hold; publishing beyond it fails RESOURCE_EXHAUSTED. */
  maxQueueLength: number
  /** Deliveries of one message to one subscriber before it is given up (Dapr's in-memory: 10). */
  maxAttempts: number
  /** Pause between two deliveries of the same message (Dapr's in-memory: 100ms). */
  retryIntervalMs: number
}

export const DEFAULT_IN_MEMORY_PUBSUB_OPTIONS: InMemoryPubSubOptions = {
  maxQueueLength: 10000,
  maxAttempts: 10,
  retryIntervalMs: 100,
}

type Handler = (m: PubSubMessage) => Promise<DeliveryStatus>

/**
 * Dapr's `pubsub.in-memory`, run once on main (embedded): a topic bus inside the process.
 *
 * Semantics follow Dapr's component: a message goes to every subscription whose topic matches
 * when it is published (no retention: with no subscriber it is discarded); each subscription
 * gets its messages one at a time, in publish order; RETRY or a throw redelivers the same
 * message after `retryIntervalMs`, holding back the ones behind it, up to `maxAttempts`
 * deliveries, after which it is dropped with a warning. A subscription topic ending in `*`
 * matches every topic that starts with the part before it (SUBSCRIBE_WILDCARDS).
 *
 * Unlike Dapr's (unbounded) bus, memory is bounded: each subscription queues at most
 * `maxQueueLength` messages, and a publish that would exceed that for any matching subscription
 * fails with RESOURCE_EXHAUSTED and is delivered to none.
 */
export class InMemoryPubSub implements PubSub {
  readonly name: string
  private readonly options: InMemoryPubSubOptions
  private readonly log: Logger
  /** Subscription topic (possibly a wildcard) → its subscriptions. */
  private readonly subscriptions = new Map<string, Set<TopicSubscription>>()

  constructor(name: string, options: InMemoryPubSubOptions, log: Logger) {
    this.name = name
    this.options = options
    this.log = log
  }

  // PubSub
  async features(): Promise<string[]> {
    return ['SUBSCRIBE_WILDCARDS']
  }

  async publish(topic: string, data: Uint8Array, contentType: string, metadata: Record<string, string> = {}): Promise<void> {
    if (topic === '') throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_TOPIC_NAME_EMPTY', 'topic is empty')
    const targets = this.matching(topic)
    for (const s of targets) {
      if (s.pending() >= this.options.maxQueueLength) {
        throw new RuntimeApiError(RuntimeStatus.RESOURCE_EXHAUSTED, 'ERR_PUBSUB_PUBLISH_MESSAGE',
          `pubsub ${this.name}: topic ${topic} has ${s.pending()} undelivered messages (maxQueueLength ${this.options.maxQueueLength})`)
      }
    }
    if (targets.length === 0) {
      this.log.debug({ pubsub: this.name, topic }, 'no subscriber, message discarded')
      return
    }
    // One message object shared by every subscriber: handlers must not mutate it.
    const message: PubSubMessage = { id: randomUUID(), topic, pubsubName: this.name, data, contentType, metadata: { ...metadata } }
    for (const s of targets) s.enqueue(message)
  }

  async subscribe(topic: string, handler: Handler, _metadata?: Record<string, string>): Promise<() => Promise<void>> {
    if (topic === '') throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_TOPIC_NAME_EMPTY', 'topic is empty')
    const sub = new TopicSubscription(this.name, topic, handler, this.options, this.log)
    let set = this.subscriptions.get(topic)
    if (set === undefined) {
      set = new Set()
      this.subscriptions.set(topic, set)
    }
    set.add(sub)
    return async () => {
      const current = this.subscriptions.get(topic)
      if (current !== undefined && current.delete(sub) && current.size === 0) this.subscriptions.delete(topic)
      await sub.close()
    }
  }

  /** Stops every subscription (component shutdown). */
  async close(): Promise<void> {
    const all = [...this.subscriptions.values()].flatMap((s) => [...s])
    this.subscriptions.clear()
    await Promise.all(all.map((s) => s.close()))
  }

  private matching(topic: string): TopicSubscription[] {
    const out: TopicSubscription[] = []
    for (const [pattern, subs] of this.subscriptions) {
      if (topicMatches(pattern, topic)) out.push(...subs)
    }
    return out
  }
}

/** Dapr's in-memory wildcard: `a.*` matches `a.b` (any longer topic with that prefix), not `a.`. */
export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === topic) return true
  if (!pattern.endsWith('*')) return false
  const prefix = pattern.slice(0, -1)
  return topic.startsWith(prefix) && topic !== prefix
}

/** One subscriber's FIFO; delivers serially so order per topic holds, retries head of line. */
class TopicSubscription {
  private readonly queue: PubSubMessage[] = []
  private pumping = false
  private closed = false
  private wake: (() => void) | undefined
  private drained: Promise<void> = Promise.resolve()
  private readonly pubsubName: string
  private readonly topic: string
  private readonly handler: Handler
  private readonly options: InMemoryPubSubOptions
  private readonly log: Logger

  constructor(pubsubName: string, topic: string, handler: Handler, options: InMemoryPubSubOptions, log: Logger) {
    this.pubsubName = pubsubName
    this.topic = topic
    this.handler = handler
    this.options = options
    this.log = log
  }

  pending(): number {
    return this.queue.length
  }

  enqueue(m: PubSubMessage): void {
    if (this.closed) return
    this.queue.push(m)
    if (!this.pumping) {
      this.pumping = true
      this.drained = this.pump()
    }
  }

  async close(): Promise<void> {
    this.closed = true
    this.queue.length = 0
    this.wake?.()
    await this.drained
  }

  private async pump(): Promise<void> {
    try {
      while (!this.closed && this.queue.length > 0) {
        const m = this.queue[0]!
        await this.deliver(m)
        // close() may have emptied the queue meanwhile.
        if (this.queue[0] === m) this.queue.shift()
      }
    } finally {
      this.pumping = false
    }
  }

  private async deliver(m: PubSubMessage): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let status: DeliveryStatus | undefined
      let error: unknown
      try {
        status = await this.handler(m)
      } catch (err) {
        error = err
      }
      if (status === 'SUCCESS') return
      if (status === 'DROP') {
        // The subscriber asked for it; it has already logged why.
        this.log.debug({ pubsub: this.pubsubName, topic: m.topic, id: m.id }, 'message dropped by subscriber')
        return
      }
      if (this.closed) return
      if (attempt >= this.options.maxAttempts) {
        this.log.warn({ pubsub: this.pubsubName, topic: m.topic, subscription: this.topic, id: m.id, attempts: attempt, err: errorMessage(error) },
          'message given up after the last redelivery')
        return
      }
      this.log.debug({ pubsub: this.pubsubName, topic: m.topic, id: m.id, attempt, err: errorMessage(error) }, 'redelivering')
      await this.sleep(this.options.retryIntervalMs)
      if (this.closed) return
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = startTimer(ms, () => {
        this.wake = undefined
        resolve()
      })
      this.wake = () => {
        t.disableTimer()
        this.wake = undefined
        resolve()
      }
    })
  }
}

function errorMessage(err: unknown): string | undefined {
  if (err === undefined) return undefined
  return err instanceof Error ? err.message : String(err)
}

