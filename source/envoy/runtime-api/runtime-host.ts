import type { RuntimeApi } from '../../common/protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { ComponentKind, ComponentTypes, ConfigurationItem, PubSubMessage, DeliveryStatus } from './components.js'
import type { RuntimeAppSubscription } from './host-rpc.js'

/**
 * A runtime API config's components as one thread sees them: look-ups by kind and name. Built
 * per filter config; embedded components are proxies to main, networked ones are local.
 */
export interface RuntimeComponents {
  get<K extends ComponentKind>(kind: K, name: string): ComponentTypes[K] | undefined
  /** Every component: kind, name, type and features (for GetMetadata). */
  list(): Array<{ kind: ComponentKind; name: string; type: string }>
  readonly config: RuntimeApi
}

/** Events main pushes to the worker that owns a streaming subscription. */
export type RuntimeStreamEvent =
  | { kind: 'configuration'; subscriptionId: string; items: ConfigurationItem[] }
  | { kind: 'topic'; subscriptionId: string; deliveryId: string; message: PubSubMessage }
  /** The subscription was stopped elsewhere (`unsubscribe` from another thread): end the stream. */
  | { kind: 'end'; subscriptionId: string }

/**
 * The runtime API's cross-thread service (main's RuntimeHost and each worker's proxy to it):
 * builds a config's components, and carries streaming subscriptions (Dapr/Layotto
 * SubscribeConfiguration, Layotto SubscribeTopicEvents) whose source lives on main.
 */
export interface RuntimeHostApi {
  /**
   * The components of a runtime config. On main (validation and embedded instances) throws
   * ConfigError with the path for an unknown type or bad metadata; on workers it cannot fail for
   * a config main accepted.
   */
  components(config: RuntimeApi, path: string): RuntimeComponents
  /**
   * Starts a configuration subscription on main; updates arrive through `onEvent`. `onEnd`
   * (added by the runtime API foundation) is called when the subscription is stopped by
   * `unsubscribe` from anywhere, not when `stop()` of the result is called.
   */
  subscribeConfiguration(store: string, config: RuntimeApi, keys: string[], onEvent: (items: ConfigurationItem[]) => void, onEnd?: () => void): Promise<{ id: string; stop(): Promise<void> }>
  /** Layotto SubscribeTopicEvents: main delivers messages of `topic` to this stream; the returned ack settles one delivery. */
  subscribeTopic(pubsub: string, config: RuntimeApi, topic: string, metadata: Record<string, string>, onMessage: (deliveryId: string, m: PubSubMessage) => void): Promise<{ id: string; ack(deliveryId: string, status: DeliveryStatus): void; stop(): Promise<void> }>
  /**
   * Stops a subscription by id from any thread (Dapr's UnsubscribeConfiguration may arrive on
   * another connection, hence another worker); the stream that owns it gets an `end` event.
   * False when no such subscription exists. Added by the runtime API foundation.
   */
  unsubscribe(id: string): Promise<boolean>
  /** Extended metadata set through SetMetadata, shared by every thread. */
  setMetadata(key: string, value: string): Promise<void>
  getMetadata(): Promise<Record<string, string>>
  /**
   * The application's pub/sub subscriptions (from main's SubscriptionManager, empty when there
   * is none), for GetMetadata. Added by the runtime API foundation.
   */
  subscriptions(appId: string): Promise<RuntimeAppSubscription[]>
  /** Dapr's Shutdown: a graceful shutdown of the whole process. */
  shutdown(): void
}
