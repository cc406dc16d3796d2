import type { Logger } from 'pino'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import type { RuntimeApi } from '../protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { RpcChannel } from '../thread/rpc-channel.js'
import type { Registry } from '../../envoy/registry/registry.js'
import type { ComponentKind, ComponentTypes, ConfigurationItem, DeliveryStatus, PubSubMessage } from '../../envoy/runtime-api/components.js'
import { type RuntimeApiErrorData, RuntimeStatus } from '../../envoy/runtime-api/errors.js'
import type { RuntimeAppSubscription, RuntimeCallParams, RuntimeResult, RuntimeSubscribeParams } from '../../envoy/runtime-api/host-rpc.js'
import type { RuntimeComponents, RuntimeHostApi } from '../../envoy/runtime-api/runtime-host.js'
import type { SubscriptionManager } from '../../envoy/runtime-api/subscriptions.js'
import type { MainEvents, MainMethods, WorkerEvents, WorkerMethods } from '../../envoy/server/worker.js'
import { apiTokenFromEnv, DAPR_API_TOKEN_ENV } from './api-token.js'
import { PROXY_METHODS } from './proxy-methods.js'
import { RuntimeApiError, isRuntimeApiErrorData } from './runtime-api-error.js'
import { declaredComponents, RuntimeComponentsImpl, unknownTypeError } from './runtime-components.js'

/** Main's end of one worker's channel. */
export type MainChannel = RpcChannel<WorkerMethods, MainMethods, MainEvents, WorkerEvents>

export interface RuntimeHostOptions {
  registry: Registry
  log: Logger
  /** Dapr's Shutdown rpc: starts the server's graceful shutdown. */
  shutdown: (reason: string) => void
}

interface Built {
  kind: ComponentKind
  name: string
  type: string
  path: string
  fingerprint: string
  instance: unknown
}

interface Subscription {
  /** The worker whose stream receives the events; -1: a subscriber on main. */
  worker: number
  stop(): Promise<void>
  ack?(deliveryId: string, status: DeliveryStatus): void
}

/** A thrown error as it crosses threads. Plain errors keep their message with status INTERNAL and no code. */
export function toRuntimeErrorData(err: unknown): RuntimeApiErrorData {
  if (isRuntimeApiErrorData(err)) return { status: err.status, errorCode: err.errorCode, message: err.message }
  return { status: RuntimeStatus.INTERNAL, errorCode: '', message: err instanceof Error ? err.message : String(err) }
}

/**
 * The RuntimeHost on main (DESIGN.md, Runtime API): builds every runtime config's components,
 * one instance per (kind, name) for the whole process, while main validates the listeners;
 * serves the workers' calls on embedded components (`runtime.*` requests); runs configuration
 * and topic subscriptions for worker streams; keeps the extended metadata; and starts the
 * application's SubscriptionManager for every runtime config once the server is up.
 */
export class RuntimeHostImpl implements RuntimeHostApi {
  private readonly registry: Registry
  private readonly log: Logger
  private readonly onShutdown: (reason: string) => void
  private readonly built = new Map<string, Built>()
  private readonly configs: Array<{ config: RuntimeApi; components: RuntimeComponents }> = []
  private readonly extended = new Map<string, string>()
  private readonly subs = new Map<string, Subscription>()
  private nextSubscription = 1
  private subscriptionManager: SubscriptionManager | undefined
  private started = false
  private envTokenLogged = false

  constructor(o: RuntimeHostOptions) {
    this.registry = o.registry
    this.log = o.log
    this.onShutdown = o.shutdown
  }

  /** Delivery to the application (pub/sub helper). Started for each runtime config by `start()`. */
  setSubscriptionManager(sm: SubscriptionManager): void {
    this.subscriptionManager = sm
  }

  /** After the workers are up: starts app deliveries for every runtime config seen. */
  async start(): Promise<void> {
    this.started = true
    const sm = this.subscriptionManager
    if (sm === undefined) return
    for (const { config, components } of this.configs) {
      await sm.start(config, components).catch((err: unknown) => this.log.warn({ err }, 'subscription manager failed to start'))
    }
  }

  /** Stops subscriptions and deliveries, then closes components that can be closed. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.subs.values()].map((s) => s.stop()))
    this.subs.clear()
    await this.subscriptionManager?.stop().catch(() => {})
    for (const b of this.built.values()) {
      const close = (b.instance as { close?: () => unknown }).close
      if (typeof close === 'function') {
        try {
          await close.call(b.instance)
        } catch (err) {
          this.log.debug({ err, component: b.name }, 'component close failed')
        }
      }
    }
  }

  /** Serves one worker's `runtime.*` requests; called for every (re)started worker thread. */
  serve(rpc: MainChannel, worker: number): void {
    // A restarted worker: the streams of its previous thread are gone.
    for (const [id, s] of this.subs) if (s.worker === worker) void this.stopSubscription(id)
    rpc.handle('runtime.call', (p) => this.call(p))
    rpc.handle('runtime.subscribe', async (p) => {
      try {
        await this.open(p, worker, (ev) => rpc.emit('runtime.stream', ev))
        return { ok: true, value: null }
      } catch (err) {
        return { ok: false, error: toRuntimeErrorData(err) }
      }
    })
    rpc.handle('runtime.unsubscribe', ({ id }) => this.unsubscribe(id))
    rpc.on('runtime.ack', (a) => this.subs.get(a.subscriptionId)?.ack?.(a.deliveryId, a.status))
    rpc.handle('runtime.metadata', ({ set }) => {
      if (set !== undefined) this.extended.set(set.key, set.value)
      return Object.fromEntries(this.extended)
    })
    rpc.handle('runtime.subscriptions', ({ appId }) => this.subscriptions(appId))
    rpc.handle('runtime.shutdown', () => {
      this.shutdown()
      return null
    })
  }

  // RuntimeHostApi
  components(config: RuntimeApi, path: string): RuntimeComponents {
    if (!this.envTokenLogged && apiTokenFromEnv(config.api_token)) {
      // Once per process, and never the token itself.
      this.envTokenLogged = true
      this.log.info({ env: DAPR_API_TOKEN_ENV, first: path }, `runtime API: ${DAPR_API_TOKEN_ENV} is set; every runtime API without api_token requires it as dapr-api-token`)
    }
    const errors: string[] = []
    const entries: Built[] = []
    const ctx = { log: this.log, appId: config.app?.app_id ?? '' }
    for (const d of declaredComponents(this.registry, config, path)) {
      if (d.factory === undefined) {
        errors.push(unknownTypeError(this.registry, d))
        continue
      }
      const key = `${d.kind}\u0000${d.name}`
      const prev = this.built.get(key)
      if (prev !== undefined) {
        if (prev.fingerprint === d.fingerprint) entries.push(prev)
        else errors.push(`${d.path}: ${d.kind} component '${d.name}' is already declared with another type or metadata at ${prev.path} (a name is one component in the whole process)`)
        continue
      }
      try {
        const instance = d.factory.create(d.name, d.config.metadata ?? {}, { ...ctx, log: this.log.child({ kind: d.kind, name: d.name }) }, d.path)
        const b: Built = { kind: d.kind, name: d.name, type: d.factory.name, path: d.path, fingerprint: d.fingerprint, instance }
        this.built.set(key, b)
        entries.push(b)
      } catch (err) {
        const e = err as { errors?: unknown; message?: string }
        errors.push(...(Array.isArray(e.errors) ? e.errors.map(String) : [`${d.path}: ${e.message ?? String(err)}`]))
      }
    }
    if (errors.length > 0) throw new ConfigError(ErrorCode.CONFIG_INVALID, errors)
    const components = new RuntimeComponentsImpl(config, entries)
    this.configs.push({ config, components })
    if (this.started && this.subscriptionManager !== undefined) {
      this.subscriptionManager.start(config, components).catch((err: unknown) => this.log.warn({ err }, 'subscription manager failed to start'))
    }
    return components
  }

  async subscribeConfiguration(store: string, _config: RuntimeApi, keys: string[], onEvent: (items: ConfigurationItem[]) => void, onEnd?: () => void): Promise<{ id: string; stop(): Promise<void> }> {
    const id = `main:${this.nextSubscription++}`
    let stopping = false
    await this.open({ id, kind: 'configuration', store, keys }, -1, (ev) => {
      if (ev.kind === 'configuration') onEvent(ev.items)
      else if (ev.kind === 'end' && !stopping) onEnd?.()
    })
    return {
      id,
      stop: () => {
        stopping = true
        return this.stopSubscription(id)
      },
    }
  }

  async subscribeTopic(pubsub: string, _config: RuntimeApi, topic: string, metadata: Record<string, string>, onMessage: (deliveryId: string, m: PubSubMessage) => void): Promise<{ id: string; ack(deliveryId: string, status: DeliveryStatus): void; stop(): Promise<void> }> {
    const id = `main:${this.nextSubscription++}`
    await this.open({ id, kind: 'topic', pubsub, topic, metadata }, -1, (ev) => { if (ev.kind === 'topic') onMessage(ev.deliveryId, ev.message) })
    return {
      id,
      ack: (deliveryId, status) => this.subs.get(id)?.ack?.(deliveryId, status),
      stop: () => this.stopSubscription(id),
    }
  }

  async unsubscribe(id: string): Promise<boolean> {
    if (!this.subs.has(id)) return false
    await this.stopSubscription(id)
    return true
  }

  async setMetadata(key: string, value: string): Promise<void> {
    this.extended.set(key, value)
  }

  async getMetadata(): Promise<Record<string, string>> {
    return Object.fromEntries(this.extended)
  }

  async subscriptions(appId: string): Promise<RuntimeAppSubscription[]> {
    return this.subscriptionManager?.subscriptions(appId) ?? []
  }

  shutdown(): void {
    this.log.info('shutdown requested through the runtime API')
    this.onShutdown('runtime API Shutdown')
  }

  // Internals

  /** The built instance of (kind, name), for calls and subscriptions. */
  private instance<K extends ComponentKind>(kind: K, name: string): ComponentTypes[K] {
    const b = this.built.get(`${kind}\u0000${name}`)
    if (b === undefined) throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_COMPONENT_NOT_FOUND', `${kind} component ${name} is not found`)
    return b.instance as ComponentTypes[K]
  }

  private async call(p: RuntimeCallParams): Promise<RuntimeResult<unknown>> {
    try {
      if (!PROXY_METHODS[p.kind]?.includes(p.method)) throw new RuntimeApiError(RuntimeStatus.INTERNAL, 'ERR_INTERNAL', `${p.method} is not a ${p.kind} method`)
      const target = this.instance(p.kind, p.name) as unknown as Record<string, unknown>
      const fn = target[p.method]
      if (typeof fn !== 'function') {
        throw new RuntimeApiError(RuntimeStatus.UNIMPLEMENTED, 'ERR_NOT_SUPPORTED', `${p.kind} component ${p.name} does not support ${p.method}`)
      }
      return { ok: true, value: await (fn as (...a: unknown[]) => unknown).apply(target, p.args) }
    } catch (err) {
      return { ok: false, error: toRuntimeErrorData(err) }
    }
  }

  /** Starts a subscription whose events go to `emit` (a worker's port, or a callback on main). */
  private async open(p: RuntimeSubscribeParams, worker: number, emit: (ev: MainEvents['runtime.stream']) => void): Promise<void> {
    const id = p.id
    if (this.subs.has(id)) throw new RuntimeApiError(RuntimeStatus.ALREADY_EXISTS, 'ERR_INTERNAL', `subscription ${id} exists`)
    if (p.kind === 'configuration') {
      const store = this.instance('configuration', p.store)
      const stop = await store.subscribe(p.keys, (items) => emit({ kind: 'configuration', subscriptionId: id, items }))
      this.subs.set(id, { worker, stop: async () => { emit({ kind: 'end', subscriptionId: id }); await stop() } })
      return
    }
    const pubsub = this.instance('pubsub', p.pubsub)
    const pending = new Map<string, (s: DeliveryStatus) => void>()
    let deliveries = 0
    let closed = false
    const handler = (message: PubSubMessage): Promise<DeliveryStatus> => {
      if (closed) return Promise.resolve('RETRY')
      return new Promise((resolve) => {
        const deliveryId = String(++deliveries)
        pending.set(deliveryId, resolve)
        emit({ kind: 'topic', subscriptionId: id, deliveryId, message })
      })
    }
    const sub: Subscription = {
      worker,
      ack: (deliveryId, status) => {
        const resolve = pending.get(deliveryId)
        if (resolve === undefined) return
        pending.delete(deliveryId)
        resolve(status)
      },
      stop: async () => {
        closed = true
        for (const resolve of pending.values()) resolve('RETRY')
        pending.clear()
        emit({ kind: 'end', subscriptionId: id })
        await unsubscribe?.()
      },
    }
    this.subs.set(id, sub)
    let unsubscribe: (() => Promise<void>) | undefined
    try {
      unsubscribe = await pubsub.subscribe(p.topic, handler, p.metadata)
    } catch (err) {
      this.subs.delete(id)
      throw err
    }
    if (closed) await unsubscribe()
  }

  private async stopSubscription(id: string): Promise<void> {
    const s = this.subs.get(id)
    if (s === undefined) return
    this.subs.delete(id)
    try {
      await s.stop()
    } catch (err) {
      this.log.debug({ err, subscription: id }, 'stopping a subscription failed')
    }
  }
}
