import type { Logger } from 'pino'
import type { RuntimeApi } from '../../protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { DeliveryStatus, PubSub, PubSubMessage } from '../../../envoy/runtime-api/components.js'
import type { RuntimeComponents } from '../../../envoy/runtime-api/runtime-host.js'
import type { SubscriptionManager } from '../../../envoy/runtime-api/subscriptions.js'
import type { Counter, Gauge, Scope } from '../../../envoy/stats/stats.js'
import { durationToMs } from '../../protobuf/duration.js'
import { GrpcAppChannel, HttpAppChannel, type AppChannel, type AppSubscription } from './app-channel.js'
import { isExpired, toDeliveredEvent } from './cloud-event.js'
import { selectRoute } from './route-rules.js'
import { startTimer } from '../../event/timer-impl.js'
import type { Timer } from '../../../envoy/event/timer.js'

export interface SubscriptionManagerOptions {
  /** How long one delivery may take before it counts as failed (default 60s). */
  deliveryTimeoutMs?: number
  /** How long the app may take to list its subscriptions (default 5s). */
  discoveryTimeoutMs?: number
  /** Back-off between discovery attempts while the app is not up: doubles from initial to max. */
  discoveryBackoffInitialMs?: number
  discoveryBackoffMaxMs?: number
}

/** Dapr's defaults for the app section's retry fields (see the README). */
export const DEFAULT_MAX_DELIVERY_ATTEMPTS = 3
export const DEFAULT_DELIVERY_BACKOFF_MS = 1000

interface AppStats {
  delivered: Counter
  retried: Counter
  dropped: Counter
  deadLettered: Counter
  subscriptions: Gauge
}

interface ActiveSubscription {
  sub: AppSubscription
  unsubscribe: () => Promise<void>
}

/** One app (by app_id): its channel, its subscriptions and the component sets that serve them. */
class AppState {
  readonly appId: string
  readonly channel: AppChannel
  readonly componentSets: RuntimeComponents[] = []
  readonly maxAttempts: number
  readonly backoffMs: number
  readonly stats: AppStats
  readonly log: Logger
  discovered: AppSubscription[] | undefined
  readonly active = new Map<string, ActiveSubscription>()
  /** Subscriptions whose pub/sub is not (yet) configured, by key: warned about once. */
  readonly missing = new Set<string>()
  timer: Timer | undefined
  stopped = false
  /** Sleeps between delivery attempts, woken by stop(). */
  readonly sleepers = new Set<() => void>()

  constructor(appId: string, channel: AppChannel, maxAttempts: number, backoffMs: number, stats: AppStats, log: Logger) {
    this.appId = appId
    this.channel = channel
    this.maxAttempts = maxAttempts
    this.backoffMs = backoffMs
    this.stats = stats
    this.log = log
  }
}

const subscriptionKey = (s: AppSubscription): string => `${s.pubsubName}\u0000${s.topic}`

/**
 * Dapr's programmatic subscriptions, on main (SubscriptionManager). Per app (`app` section with
 * an `app_port`): asks the app for its subscriptions, again with a doubling back-off until it
 * is up; subscribes in the named pub/sub components; delivers each message to the route its
 * rules select, retrying failures and RETRY answers `max_delivery_attempts` times in all, with
 * `delivery_backoff` between attempts, and settles DROP (dead-letter topic if the app named one).
 *
 * Stats, under `runtime_api.<app_id>.pubsub.`: `delivered`, `retried` (attempts after the
 * first), `dropped` (DROP, 404, unmatched route, expired, or attempts exhausted),
 * `dead_lettered`, and the gauge `subscriptions`.
 */
export class SubscriptionManagerImpl implements SubscriptionManager {
  private readonly log: Logger
  private readonly scope: Scope
  private readonly apps = new Map<string, AppState>()
  private readonly deliveryTimeoutMs: number
  private readonly discoveryTimeoutMs: number
  private readonly backoffInitialMs: number
  private readonly backoffMaxMs: number

  constructor(log: Logger, scope: Scope, options: SubscriptionManagerOptions = {}) {
    // The caller's logger already names the component (the RuntimeHost's `runtime`).
    this.log = log
    // Stats live under runtime_api.<app_id>; accept the root scope or one already at runtime_api.
    this.scope = scope.prefix.endsWith('runtime_api.') ? scope : scope.createScope('runtime_api')
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 60_000
    this.discoveryTimeoutMs = options.discoveryTimeoutMs ?? 5_000
    this.backoffInitialMs = options.discoveryBackoffInitialMs ?? 250
    this.backoffMaxMs = options.discoveryBackoffMaxMs ?? 5_000
  }

  // SubscriptionManager
  async start(config: RuntimeApi, components: RuntimeComponents): Promise<void> {
    const app = config.app
    if (app === undefined || app.app_id === '' || app.app_port === 0) return
    const existing = this.apps.get(app.app_id)
    if (existing !== undefined) {
      // Another listener serving the same app: its pub/subs may hold subscriptions still missing.
      if (!existing.componentSets.includes(components)) existing.componentSets.push(components)
      if (existing.discovered !== undefined) await this.subscribeAll(existing)
      return
    }
    const host = app.app_host === '' ? '127.0.0.1' : app.app_host
    const channel = app.app_protocol === 'GRPC' ? new GrpcAppChannel(host, app.app_port) : new HttpAppChannel(host, app.app_port)
    const scope = this.scope.createScope(app.app_id).createScope('pubsub')
    const stats: AppStats = {
      delivered: scope.counter('delivered'),
      retried: scope.counter('retried'),
      dropped: scope.counter('dropped'),
      deadLettered: scope.counter('dead_lettered'),
      subscriptions: scope.gauge('subscriptions', 'NeverImport'),
    }
    const maxAttempts = Math.max(1, app.max_delivery_attempts ?? DEFAULT_MAX_DELIVERY_ATTEMPTS)
    const backoffMs = durationToMs(app.delivery_backoff, DEFAULT_DELIVERY_BACKOFF_MS)
    const state = new AppState(app.app_id, channel, maxAttempts, backoffMs, stats,
      this.log.child({ app_id: app.app_id }))
    state.componentSets.push(components)
    this.apps.set(app.app_id, state)
    state.log.info({ app_host: host, app_port: app.app_port, app_protocol: app.app_protocol }, 'discovering subscriptions')
    void this.discover(state, this.backoffInitialMs)
  }

  subscriptions(appId: string): Array<{ pubsubName: string; topic: string; route: string; metadata: Record<string, string> }> {
    const state = this.apps.get(appId)
    if (state?.discovered === undefined) return []
    return state.discovered.map((s) => ({
      pubsubName: s.pubsubName,
      topic: s.topic,
      route: s.rules.find((r) => r.match === undefined)?.path ?? s.rules[0]?.path ?? '',
      metadata: { ...s.metadata },
    }))
  }

  async stop(): Promise<void> {
    const apps = [...this.apps.values()]
    this.apps.clear()
    await Promise.all(apps.map(async (state) => {
      state.stopped = true
      state.timer?.disableTimer()
      for (const wake of state.sleepers) wake()
      const active = [...state.active.values()]
      state.active.clear()
      await Promise.all(active.map((a) => a.unsubscribe().catch((err: unknown) => {
        state.log.debug({ err: (err as Error).message }, 'unsubscribe failed')
      })))
      state.channel.close()
    }))
  }

  /** One discovery attempt; schedules the next with a doubled back-off while the app is down. */
  private async discover(state: AppState, backoffMs: number): Promise<void> {
    if (state.stopped) return
    const result = await state.channel.discover(this.discoveryTimeoutMs)
    if (state.stopped) return
    if (result.kind === 'retry') {
      state.log.debug({ reason: result.reason, retry_in_ms: backoffMs }, 'app not reachable yet')
      state.timer = startTimer(backoffMs, () => void this.discover(state, Math.min(backoffMs * 2, this.backoffMaxMs)))
      return
    }
    for (const p of result.problems) state.log.error({ problem: p }, 'subscription refused')
    state.discovered = result.subscriptions
    state.log.info({ via: result.via, subscriptions: result.subscriptions.map((s) => `${s.pubsubName}/${s.topic}`) }, 'app subscriptions')
    await this.subscribeAll(state)
  }

  /** Subscribes what is not yet subscribed; failures (not missing pub/subs) are retried. */
  private async subscribeAll(state: AppState): Promise<void> {
    let failed = false
    for (const sub of state.discovered ?? []) {
      const key = subscriptionKey(sub)
      if (state.active.has(key) || state.stopped) continue
      const pubsub = this.findPubSub(state, sub.pubsubName)
      if (pubsub === undefined) {
        if (!state.missing.has(key)) {
          state.missing.add(key)
          state.log.warn({ pubsub: sub.pubsubName, topic: sub.topic }, 'subscription to a pub/sub that is not configured')
        }
        continue
      }
      // Reserve the key so a concurrent start() does not subscribe twice.
      const placeholder: ActiveSubscription = { sub, unsubscribe: async () => {} }
      state.active.set(key, placeholder)
      try {
        const unsubscribe = await pubsub.subscribe(sub.topic, (m) => this.handle(state, sub, pubsub, m), sub.metadata)
        if (state.stopped) {
          await unsubscribe()
          return
        }
        placeholder.unsubscribe = unsubscribe
        state.missing.delete(key)
        state.stats.subscriptions.set(state.active.size)
      } catch (err) {
        state.active.delete(key)
        failed = true
        state.log.error({ pubsub: sub.pubsubName, topic: sub.topic, err: (err as Error).message }, 'subscribe failed')
      }
    }
    if (failed && !state.stopped) {
      state.timer?.disableTimer()
      state.timer = startTimer(this.backoffMaxMs, () => void this.subscribeAll(state))
    }
  }

  private findPubSub(state: AppState, name: string): PubSub | undefined {
    for (const c of state.componentSets) {
      const p = c.get('pubsub', name)
      if (p !== undefined) return p
    }
    return undefined
  }

  /** The pub/sub component's handler: one message, settled SUCCESS or DROP unless stopping. */
  private async handle(state: AppState, sub: AppSubscription, pubsub: PubSub, m: PubSubMessage): Promise<DeliveryStatus> {
    const ev = toDeliveredEvent(m)
    const id = typeof ev.event['id'] === 'string' ? ev.event['id'] : m.id
    if (isExpired(ev.event)) {
      state.stats.dropped.inc()
      state.log.warn({ pubsub: m.pubsubName, topic: m.topic, id, expiration: ev.event['expiration'] }, 'dropping expired message')
      return 'DROP'
    }
    const path = selectRoute(sub.rules, ev.event)
    if (path === undefined) {
      state.stats.dropped.inc()
      state.log.debug({ pubsub: m.pubsubName, topic: m.topic, id }, 'no route matches, message skipped')
      return 'DROP'
    }
    for (let attempt = 1; ; attempt++) {
      const result = await state.channel.deliver(sub, m, ev, path, this.deliveryTimeoutMs)
      if (result.status === 'SUCCESS') {
        state.stats.delivered.inc()
        return 'SUCCESS'
      }
      if (result.status === 'DROP') {
        state.stats.dropped.inc()
        state.log.warn({ pubsub: m.pubsubName, topic: m.topic, id, reason: result.reason }, 'message dropped by the app')
        await this.deadLetter(state, sub, pubsub, m)
        return 'DROP'
      }
      // Stopping: leave the message to the component (it stays unacknowledged).
      if (state.stopped) return 'RETRY'
      if (attempt >= state.maxAttempts) {
        state.stats.dropped.inc()
        state.log.warn({ pubsub: m.pubsubName, topic: m.topic, id, attempts: attempt, reason: result.reason }, 'delivery attempts exhausted, message dropped')
        await this.deadLetter(state, sub, pubsub, m)
        return 'DROP'
      }
      state.log.debug({ pubsub: m.pubsubName, topic: m.topic, id, attempt, reason: result.reason }, 'delivery failed, retrying')
      state.stats.retried.inc()
      await this.sleep(state, state.backoffMs)
      if (state.stopped) return 'RETRY'
    }
  }

  private async deadLetter(state: AppState, sub: AppSubscription, pubsub: PubSub, m: PubSubMessage): Promise<void> {
    if (sub.deadLetterTopic === '' || sub.deadLetterTopic === m.topic) return
    try {
      await pubsub.publish(sub.deadLetterTopic, m.data, m.contentType, m.metadata)
      state.stats.deadLettered.inc()
    } catch (err) {
      state.log.error({ pubsub: m.pubsubName, topic: sub.deadLetterTopic, err: (err as Error).message }, 'dead-letter publish failed')
    }
  }

  private sleep(state: AppState, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        t.disableTimer()
        state.sleepers.delete(wake)
        resolve()
      }
      const t = startTimer(ms, wake)
      state.sleepers.add(wake)
    })
  }
}
