import type { PubSub } from '../../../envoy/runtime-api/components.js'
import { CLOUDEVENTS_CONTENT_TYPE, cloudEventEnvelope } from './cloud-events.js'
import type { RuntimeApiContext } from './context.js'
import { componentError, invalid, missingComponent } from './errors.js'

/** Publish API (Dapr PublishEvent / BulkPublishEvent, Layotto PublishEvent). */

function pubsubFor(ctx: RuntimeApiContext, pubsubName: string, topic: string): PubSub {
  if (pubsubName === '') {
    if (!ctx.components.list().some((c) => c.kind === 'pubsub')) throw missingComponent(ctx, 'pubsub', pubsubName)
    throw invalid('ERR_PUBSUB_EMPTY', 'pubsub name is empty')
  }
  const ps = ctx.components.get('pubsub', pubsubName)
  if (ps === undefined) throw missingComponent(ctx, 'pubsub', pubsubName)
  if (topic === '') throw invalid('ERR_TOPIC_NAME_EMPTY', `topic is empty in pubsub ${pubsubName}`)
  return ps
}

function isRaw(metadata: Record<string, string> | undefined): boolean {
  const v = metadata?.['rawPayload']
  return v === 'true' || v === 'True' || v === '1'
}

/**
 * The bytes and content type that go to the component: a CloudEvent, unless `rawPayload` is
 * set (then the data as published).
 */
export function publishPayload(ctx: RuntimeApiContext, pubsubName: string, topic: string, data: Uint8Array, contentType: string, metadata: Record<string, string> | undefined): { data: Uint8Array; contentType: string } {
  if (isRaw(metadata)) return { data, contentType }
  return {
    data: cloudEventEnvelope({ data, contentType, topic, pubsubName, source: ctx.appId, metadata }),
    contentType: CLOUDEVENTS_CONTENT_TYPE,
  }
}

export async function publishEvent(ctx: RuntimeApiContext, pubsubName: string, topic: string, data: Uint8Array, contentType: string, metadata?: Record<string, string>): Promise<void> {
  const ps = pubsubFor(ctx, pubsubName, topic)
  const payload = publishPayload(ctx, pubsubName, topic, data, contentType, metadata)
  try {
    await ps.publish(topic, payload.data, payload.contentType, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_PUBSUB_PUBLISH_MESSAGE', `error when publish to topic ${topic} in pubsub ${pubsubName}`)
  }
}

export interface BulkEntry {
  entryId: string
  event: Uint8Array
  contentType: string
  metadata: Record<string, string> | undefined
}

/** Publishes every entry; the ones that failed come back with their error (Dapr's failedEntries). */
export async function bulkPublishEvent(ctx: RuntimeApiContext, pubsubName: string, topic: string, entries: BulkEntry[], metadata?: Record<string, string>): Promise<Array<{ entryId: string; error: string }>> {
  const ps = pubsubFor(ctx, pubsubName, topic)
  const seen = new Set<string>()
  for (const e of entries) {
    if (e.entryId === '') throw invalid('ERR_PUBSUB_EVENTS_SER', `entryId is empty in bulk publish to topic ${topic} in pubsub ${pubsubName}`)
    if (seen.has(e.entryId)) throw invalid('ERR_PUBSUB_EVENTS_SER', `entryId ${e.entryId} is duplicated in bulk publish to topic ${topic} in pubsub ${pubsubName}`)
    seen.add(e.entryId)
  }
  const results = await Promise.allSettled(entries.map((e) => {
    const md = e.metadata === undefined ? metadata : { ...metadata, ...e.metadata }
    const payload = publishPayload(ctx, pubsubName, topic, e.event, e.contentType, md)
    return ps.publish(topic, payload.data, payload.contentType, md)
  }))
  const failed: Array<{ entryId: string; error: string }> = []
  results.forEach((r, i) => {
    if (r.status === 'rejected') {
      failed.push({ entryId: entries[i]!.entryId, error: componentError(r.reason, 'ERR_PUBSUB_PUBLISH_MESSAGE', `error when publish to topic ${topic} in pubsub ${pubsubName}`).message })
    }
  })
  return failed
}
