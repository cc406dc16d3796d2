import type { Logger } from 'pino'
import type { RuntimeApi } from '../protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { RpcChannel } from '../thread/rpc-channel.js'
import type { Registry } from '../../envoy/registry/registry.js'
import type { ComponentKind, ConfigurationItem, DeliveryStatus, PubSubMessage } from '../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../envoy/runtime-api/errors.js'
import type { RuntimeAppSubscription, RuntimeResult } from '../../envoy/runtime-api/host-rpc.js'
import type { RuntimeComponents, RuntimeHostApi, RuntimeStreamEvent } from '../../envoy/runtime-api/runtime-host.js'
import type { MainEvents, MainMethods, WorkerEvents, WorkerMethods } from '../../envoy/server/worker.js'
import { PROXY_METHODS } from './proxy-methods.js'
import { RuntimeApiError, fromRuntimeApiErrorData } from './runtime-api-error.js'
import { declaredComponents, RuntimeComponentsImpl } from './runtime-components.js'

/** A worker's end of its channel to main. */
export type WorkerChannel = RpcChannel<MainMethods, WorkerMethods, WorkerEvents, MainEvents>

function unwrap<T>(r: RuntimeResult<T>): T {
  if (r.ok) return r.value
  throw fromRuntimeApiErrorData(r.error)
}

/**
 * A copy of `v` that owns exactly its bytes. Structured clone copies a view's whole
 * ArrayBuffer, and decoded protobuf bytes are views into the (much larger) request buffer.
 */
function compact(v: Uint8Array): Uint8Array {
  return v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : Uint8Array.prototype.slice.call(v)
}

type Item = { value: Uint8Array }

/** Compacts the byte arrays a component call carries, by method. */
function prepare(kind: ComponentKind, method: string, args: unknown[]): unknown[] {
  if (kind === 'state') {
    if (method === 'set') args[0] = (args[0] as Item[]).map((i) => ({ ...i, value: compact(i.value) }))
    else if (method === 'transaction') {
      args[0] = (args[0] as Array<{ op: string; item?: Item }>).map((o) => o.item === undefined ? o : { ...o, item: { ...o.item, value: compact(o.item.value) } })
    }
  } else if ((kind === 'pubsub' && method === 'publish') || (kind === 'bindings' && method === 'invoke') || (kind === 'file' && method === 'put')) {
    // publish(topic, data, ...), invoke(operation, data, ...), put(name, data, ...)
    if (args[1] instanceof Uint8Array) args[1] = compact(args[1])
  }
  // Trailing undefined arguments need not travel.
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop()
  return args
}

/**
 * The RuntimeHost as a worker sees it: `components()` builds local instances of networked
 * components (one per thread, e.g. Redis clients) and proxies for embedded ones, whose calls go
 * to main (`runtime.call`) and come back with `{ status, errorCode, message }` errors rethrown
 * as RuntimeApiError. Subscriptions run on main and stream their events to this worker.
 */
export class RuntimeHostProxy implements RuntimeHostApi {
  private readonly rpc: WorkerChannel
  private readonly registry: Registry
  private readonly log: Logger
  private readonly index: number
  /** Built instances by (kind, name, fingerprint): shared by every config of this thread. */
  private readonly instances = new Map<string, unknown>()
  private readonly streams = new Map<string, (ev: RuntimeStreamEvent) => void>()
  private nextSubscription = 1

  constructor(rpc: WorkerChannel, registry: Registry, log: Logger, workerIndex: number) {
    this.rpc = rpc
    this.registry = registry
    this.log = log
    this.index = workerIndex
    rpc.on('runtime.stream', (ev) => this.streams.get(ev.subscriptionId)?.(ev))
  }

  // RuntimeHostApi
  components(config: RuntimeApi, path: string): RuntimeComponents {
    const entries = []
    for (const d of declaredComponents(this.registry, config, path)) {
      // Main built this config before starting us, so every type resolves.
      if (d.factory === undefined) throw new RuntimeApiError(RuntimeStatus.INTERNAL, 'ERR_INTERNAL', `${d.path}: unknown component type ${d.config.type}`)
      const key = `${d.kind}\u0000${d.name}\u0000${d.fingerprint}`
      let instance = this.instances.get(key)
      if (instance === undefined) {
        instance = d.factory.embedded
          ? this.proxy(d.kind, d.name, config)
          : d.factory.create(d.name, d.config.metadata ?? {}, { log: this.log.child({ kind: d.kind, name: d.name }), appId: config.app?.app_id ?? '' }, d.path)
        this.instances.set(key, instance)
      }
      entries.push({ kind: d.kind, name: d.name, type: d.factory.name, instance })
    }
    return new RuntimeComponentsImpl(config, entries)
  }

  async subscribeConfiguration(store: string, _config: RuntimeApi, keys: string[], onEvent: (items: ConfigurationItem[]) => void, onEnd?: () => void): Promise<{ id: string; stop(): Promise<void> }> {
    return this.open({ kind: 'configuration', store, keys }, (ev) => { if (ev.kind === 'configuration') onEvent(ev.items) }, onEnd)
  }

  async subscribeTopic(pubsub: string, _config: RuntimeApi, topic: string, metadata: Record<string, string>, onMessage: (deliveryId: string, m: PubSubMessage) => void): Promise<{ id: string; ack(deliveryId: string, status: DeliveryStatus): void; stop(): Promise<void> }> {
    const s = await this.open({ kind: 'topic', pubsub, topic, metadata }, (ev) => { if (ev.kind === 'topic') onMessage(ev.deliveryId, ev.message) })
    return { ...s, ack: (deliveryId, status) => this.rpc.emit('runtime.ack', { subscriptionId: s.id, deliveryId, status }) }
  }

  unsubscribe(id: string): Promise<boolean> {
    return this.rpc.call('runtime.unsubscribe', { id })
  }

  async setMetadata(key: string, value: string): Promise<void> {
    await this.rpc.call('runtime.metadata', { set: { key, value } })
  }

  getMetadata(): Promise<Record<string, string>> {
    return this.rpc.call('runtime.metadata', {})
  }

  subscriptions(appId: string): Promise<RuntimeAppSubscription[]> {
    return this.rpc.call('runtime.subscriptions', { appId })
  }

  shutdown(): void {
    void this.rpc.call('runtime.shutdown', {}).catch((err: unknown) => this.log.warn({ err }, 'shutdown request failed'))
  }

  // Internals

  private async open(p: { kind: 'configuration'; store: string; keys: string[] } | { kind: 'topic'; pubsub: string; topic: string; metadata: Record<string, string> }, onEvent: (ev: RuntimeStreamEvent) => void, onEnd?: () => void): Promise<{ id: string; stop(): Promise<void> }> {
    const id = `${this.index}:${this.nextSubscription++}`
    // Listen before asking: events may arrive before the reply.
    this.streams.set(id, (ev) => {
      if (ev.kind !== 'end') onEvent(ev)
      else if (this.streams.delete(id)) onEnd?.()
    })
    let r: RuntimeResult<null>
    try {
      r = await this.rpc.call('runtime.subscribe', { id, ...p })
    } catch (err) {
      this.streams.delete(id)
      throw err
    }
    if (!r.ok) {
      this.streams.delete(id)
      throw fromRuntimeApiErrorData(r.error)
    }
    return {
      id,
      stop: async () => {
        if (!this.streams.delete(id)) return
        await this.rpc.call('runtime.unsubscribe', { id }).catch(() => false)
      },
    }
  }

  /** A component object whose methods run on main. */
  private proxy(kind: ComponentKind, name: string, config: RuntimeApi): unknown {
    const rpc = this.rpc
    const target: Record<string, unknown> = {}
    for (const method of PROXY_METHODS[kind]) {
      target[method] = async (...args: unknown[]) => unwrap(await rpc.call('runtime.call', { kind, name, method, args: prepare(kind, method, args) }))
    }
    if (kind === 'configuration') {
      target['subscribe'] = async (keys: string[], onChange: (items: ConfigurationItem[]) => void) => {
        const s = await this.subscribeConfiguration(name, config, keys, onChange)
        return () => s.stop()
      }
    } else if (kind === 'pubsub') {
      target['subscribe'] = () => Promise.reject(new RuntimeApiError(RuntimeStatus.INTERNAL, 'ERR_INTERNAL', 'pub/sub subscriptions run on main'))
    }
    return target
  }
}
