import type { handleBidiStreamingCall } from '@grpc/grpc-js'
import type { DeliveryStatus, PubSubMessage } from '../../../envoy/runtime-api/components.js'
import { toDeliveredEvent, toProtoStruct, topicEventFields } from '../app-callback/cloud-event.js'
import type { RuntimeApiContext } from '../handlers/context.js'
import { componentError, invalid, missingComponent } from '../handlers/errors.js'
import { type ApiTokenCheck, bidiStream } from './calls.js'
import { DELIVERY_STATUS } from './common-methods.js'
import type { PSubscribeTopicEventsRequest } from './messages.js'

/** A message as Layotto's / Dapr's TopicEventRequest (Dapr's has `path` and `extensions`). */
export function topicEventRequest(m: PubSubMessage, flavor: 'layotto' | 'dapr'): Record<string, unknown> & { id: string } {
  const f = topicEventFields(toDeliveredEvent(m).event)
  const base = {
    id: f.id !== '' ? f.id : m.id,
    source: f.source,
    type: f.type,
    spec_version: f.spec_version,
    data_content_type: f.data_content_type,
    data: f.data,
    topic: m.topic,
    pubsub_name: m.pubsubName,
  }
  return flavor === 'dapr' ? { ...base, path: '', extensions: toProtoStruct(f.extensions) } : { ...base, metadata: m.metadata }
}

/**
 * Layotto's SubscribeTopicEvents and Dapr's SubscribeTopicEventsAlpha1: the first request
 * names the pub/sub and topic, and the subscription runs on main (runtimeHost.subscribeTopic);
 * the stream answers `initial_response`, then one `event_message` per message, and each later
 * request settles one event by its id (SUCCESS, RETRY or DROP). Events not settled when the
 * stream ends are retried.
 */
export function topicEventsStream(ctx: RuntimeApiContext, auth: ApiTokenCheck, flavor: 'layotto' | 'dapr'): handleBidiStreamingCall<PSubscribeTopicEventsRequest, unknown> {
  return bidiStream(auth, (call) => new Promise<void>((resolve, reject) => {
    let state: 'new' | 'subscribing' | 'open' | 'closed' = 'new'
    let sub: { ack(deliveryId: string, status: DeliveryStatus): void; stop(): Promise<void> } | undefined
    const pending = new Map<string, string>() // event id → delivery id
    const early: unknown[] = [] // events that came before the subscription was confirmed
    const close = (): void => {
      if (state === 'closed') return
      state = 'closed'
      for (const d of pending.values()) sub?.ack(d, 'RETRY')
      pending.clear()
      void sub?.stop()
    }
    const fail = (err: unknown): void => {
      close()
      reject(err)
    }
    call.on('data', (req: PSubscribeTopicEventsRequest) => {
      if (state === 'closed') return
      if (state === 'new') {
        const init = req.initial_request
        if (init === undefined || init === null) {
          fail(invalid('ERR_MALFORMED_REQUEST', 'the first message of a topic subscription stream must be initial_request'))
          return
        }
        if (ctx.components.get('pubsub', init.pubsub_name) === undefined) {
          fail(init.pubsub_name === '' ? invalid('ERR_PUBSUB_EMPTY', 'pubsub name is empty') : missingComponent(ctx, 'pubsub', init.pubsub_name))
          return
        }
        if (init.topic === '') {
          fail(invalid('ERR_TOPIC_NAME_EMPTY', `topic is empty in pubsub ${init.pubsub_name}`))
          return
        }
        state = 'subscribing'
        ctx.host.subscribeTopic(init.pubsub_name, ctx.config, init.topic, { ...init.metadata }, (deliveryId, m) => {
          if (state === 'closed') return // main retries what it does not hear back about
          const ev = topicEventRequest(m, flavor)
          pending.set(ev.id, deliveryId)
          if (state === 'open') call.write({ event_message: ev })
          else early.push({ event_message: ev })
        }).then((s) => {
          sub = s
          if (state === 'closed') {
            void s.stop()
            return
          }
          state = 'open'
          call.write({ initial_response: {} })
          for (const m of early.splice(0)) call.write(m)
        }, (err: unknown) => fail(componentError(err, 'ERR_PUBSUB_SUBSCRIBE', `failed to subscribe to topic ${init.topic} in pubsub ${init.pubsub_name}`)))
        return
      }
      const done = req.event_processed
      if (done === undefined || done === null) {
        fail(invalid('ERR_MALFORMED_REQUEST', 'after initial_request a topic subscription stream only takes event_processed'))
        return
      }
      const deliveryId = pending.get(done.id)
      if (deliveryId === undefined || sub === undefined) return
      pending.delete(done.id)
      sub.ack(deliveryId, DELIVERY_STATUS[done.status?.status ?? 0] ?? 'RETRY')
    })
    call.on('end', () => {
      close()
      call.end()
      resolve()
    })
    call.on('cancelled', () => {
      close()
      resolve()
    })
    call.on('error', () => {
      close()
      resolve()
    })
  }))
}
