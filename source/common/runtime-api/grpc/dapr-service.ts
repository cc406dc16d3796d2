import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js'
import type { ConfigurationItem } from '../../../envoy/runtime-api/components.js'
import type { RuntimeApiContext } from '../handlers/context.js'
import { getConfiguration, subscribeConfiguration, unsubscribeConfiguration } from '../handlers/configuration.js'
import { nonEmpty } from '../handlers/errors.js'
import { tryLock, unlock } from '../handlers/lock.js'
import { getMetadata, setMetadata, shutdown } from '../handlers/metadata.js'
import { type ApiTokenCheck, serverStream, unary } from './calls.js'
import { bulkPublishMethod, sharedMethods } from './common-methods.js'
import { EMPTY, type StringMap } from './messages.js'
import { topicEventsStream } from './topic-stream.js'
import { setOwn } from '../../common/own-keys.js'

/** Dapr's service (api/dapr/proto/runtime/v1/dapr.proto). */
export const DAPR_SERVICE = 'dapr.proto.runtime.v1.Dapr'

const UNLOCK_STATUS = { SUCCESS: 0, LOCK_DOES_NOT_EXIST: 1, LOCK_BELONGS_TO_OTHERS: 2, INTERNAL_ERROR: 3 } as const
const SUBSCRIPTION_TYPE_PROGRAMMATIC = 2

/** ConfigurationItem list → Dapr's `map<key, {value, version, metadata}>`. */
function daprItems(items: ConfigurationItem[]): Record<string, { value: string; version: string; metadata: Record<string, string> }> {
  const out: Record<string, { value: string; version: string; metadata: Record<string, string> }> = {}
  for (const i of items) setOwn(out, i.key, { value: i.value, version: i.version, metadata: i.metadata ?? EMPTY })
  return out
}

interface PConfigurationRequest { store_name: string; keys: string[]; metadata: StringMap }

/** The rpcs of Dapr's service envoy-ts implements (the rest: dapr-unimplemented.ts). */
export function daprService(ctx: RuntimeApiContext, auth: ApiTokenCheck): UntypedServiceImplementation {
  const get = unary(auth, async (r: PConfigurationRequest) => {
    const md = nonEmpty(r.metadata)
    return { items: daprItems(await getConfiguration(ctx, r.store_name, r.keys, md !== undefined ? { metadata: md } : {})) }
  })
  const subscribe = serverStream(auth, (call: ServerWritableStream<PConfigurationRequest, unknown>) => new Promise<void>((resolve, reject) => {
    const r = call.request
    let sub: { id: string; stop(): Promise<void> } | undefined
    let ended = false
    const early: ConfigurationItem[][] = [] // changes that came before the subscription id
    const end = (): void => {
      if (ended) return
      ended = true
      if (!call.writableEnded) call.end()
      resolve()
    }
    call.on('cancelled', () => {
      void sub?.stop()
      end()
    })
    subscribeConfiguration(ctx, r.store_name, r.keys, (items) => {
      if (ended) return
      if (sub === undefined) early.push(items)
      else call.write({ id: sub.id, items: daprItems(items) })
    }, end).then((s) => {
      sub = s
      if (ended) {
        void s.stop()
        return
      }
      // The first message carries the id UnsubscribeConfiguration takes, and no items.
      call.write({ id: s.id, items: EMPTY })
      for (const items of early.splice(0)) call.write({ id: s.id, items: daprItems(items) })
    }, reject)
  }))
  const unsubscribe = unary(auth, async (r: { store_name: string; id: string }) => {
    const ok = await unsubscribeConfiguration(ctx, r.store_name, r.id)
    return ok ? { ok: true, message: '' } : { ok: false, message: `subscription ${r.id} not found` }
  })
  const bulkPublish = bulkPublishMethod(ctx, auth)
  return {
    ...sharedMethods(ctx, auth),
    BulkPublishEvent: bulkPublish,
    BulkPublishEventAlpha1: bulkPublish,
    SubscribeTopicEventsAlpha1: topicEventsStream(ctx, auth, 'dapr'),
    GetConfiguration: get,
    GetConfigurationAlpha1: get,
    SubscribeConfiguration: subscribe,
    SubscribeConfigurationAlpha1: subscribe,
    UnsubscribeConfiguration: unsubscribe,
    UnsubscribeConfigurationAlpha1: unsubscribe,
    TryLockAlpha1: unary(auth, async (r: { store_name: string; resource_id: string; lock_owner: string; expiry_in_seconds: number }) => ({
      success: await tryLock(ctx, r.store_name, r.resource_id, r.lock_owner, r.expiry_in_seconds),
    })),
    UnlockAlpha1: unary(auth, async (r: { store_name: string; resource_id: string; lock_owner: string }) => ({
      status: UNLOCK_STATUS[await unlock(ctx, r.store_name, r.resource_id, r.lock_owner)],
    })),
    GetMetadata: unary(auth, async () => {
      const m = await getMetadata(ctx)
      return {
        id: m.id,
        registered_components: m.components,
        extended_metadata: m.extended,
        subscriptions: m.subscriptions.map((s) => ({
          pubsub_name: s.pubsubName,
          topic: s.topic,
          metadata: s.metadata,
          rules: { rules: s.route === '' ? [] : [{ match: '', path: s.route }] },
          type: SUBSCRIPTION_TYPE_PROGRAMMATIC,
        })),
        app_connection_properties: { port: m.appConnection.port, protocol: m.appConnection.protocol, channel_address: m.appConnection.channelAddress },
        runtime_version: m.runtimeVersion,
        enabled_features: [],
      }
    }),
    SetMetadata: unary(auth, async (r: { key: string; value: string }) => {
      await setMetadata(ctx, r.key, r.value)
      return EMPTY
    }),
    Shutdown: unary(auth, async () => {
      shutdown(ctx)
      return EMPTY
    }),
  }
}
