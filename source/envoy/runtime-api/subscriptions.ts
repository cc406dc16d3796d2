import type { RuntimeApi } from '../../common/protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { RuntimeComponents } from './runtime-host.js'

/**
 * Pub/sub delivery to the application (Dapr's programmatic subscriptions), on main: asks the
 * app which topics it wants (gRPC `AppCallback.ListTopicSubscriptions` for Layotto and Dapr, or
 * HTTP `GET /dapr/subscribe`), subscribes in the pub/sub components, and delivers each message
 * (`OnTopicEvent`, or `POST` to the subscription's route) with retries on RETRY or failure and
 * DROP honoured.
 */
export interface SubscriptionManager {
  /** Starts for one runtime config (its app and its pub/sub components). Idempotent per app. */
  start(config: RuntimeApi, components: RuntimeComponents): Promise<void>
  /** Subscriptions the app has, for GetMetadata. */
  subscriptions(appId: string): Array<{ pubsubName: string; topic: string; route: string; metadata: Record<string, string> }>
  stop(): Promise<void>
}
