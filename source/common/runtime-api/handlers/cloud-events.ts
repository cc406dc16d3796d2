import { randomUUID } from 'node:crypto'

/** CloudEvents content type: data published with it already is an event. */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json'
/** Dapr's defaults for the envelope. */
export const DEFAULT_EVENT_TYPE = 'com.dapr.event.sent'
export const DEFAULT_DATA_CONTENT_TYPE = 'text/plain'

function isJson(contentType: string): boolean {
  const ct = contentType.split(';', 1)[0]!.trim().toLowerCase()
  return ct === 'application/json' || ct.endsWith('+json')
}

function isText(contentType: string): boolean {
  const ct = contentType.split(';', 1)[0]!.trim().toLowerCase()
  return ct.startsWith('text/') || ct === 'application/xml' || ct.endsWith('+xml')
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

export interface EnvelopeInput {
  data: Uint8Array
  contentType: string
  topic: string
  pubsubName: string
  /** The publishing app (CloudEvent `source`). */
  source: string
  /** Publish metadata: `cloudevent.id`, `cloudevent.source`, `cloudevent.type`, `cloudevent.traceparent`, ... override. */
  metadata: Record<string, string> | undefined
}

/**
 * Wraps published data in a CloudEvent the way Dapr does before it hands it to the pub/sub
 * component: data that already is a CloudEvent (content type `application/cloudevents+json`)
 * keeps its attributes and gets the missing ones; anything else becomes the `data` of a new
 * event (JSON as JSON, text as a string, other bytes as `data_base64`). Both get `topic` and
 * `pubsubname`. Returns the event's JSON bytes.
 */
export function cloudEventEnvelope(o: EnvelopeInput): Buffer {
  const md = o.metadata
  const override = (attr: string): string | undefined => {
    const v = md?.[`cloudevent.${attr}`]
    return v === undefined || v === '' ? undefined : v
  }
  let event: Record<string, unknown> | undefined
  if (o.contentType.split(';', 1)[0]!.trim().toLowerCase() === CLOUDEVENTS_CONTENT_TYPE) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength).toString('utf8'))
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) event = parsed as Record<string, unknown>
    } catch {
      // Not an event after all: wrapped below as bytes.
    }
  }
  if (event === undefined) {
    const contentType = o.contentType === '' ? DEFAULT_DATA_CONTENT_TYPE : o.contentType
    event = { specversion: '1.0', datacontenttype: contentType }
    const bytes = Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength)
    if (isJson(contentType)) {
      try {
        event['data'] = JSON.parse(bytes.toString('utf8')) as unknown
      } catch {
        event['data'] = bytes.toString('utf8')
      }
    } else if (isText(contentType) || contentType === DEFAULT_DATA_CONTENT_TYPE) {
      try {
        event['data'] = utf8.decode(bytes)
      } catch {
        event['data_base64'] = bytes.toString('base64')
      }
    } else {
      event['data_base64'] = bytes.toString('base64')
    }
  }
  event['id'] = override('id') ?? (typeof event['id'] === 'string' && event['id'] !== '' ? event['id'] : randomUUID())
  event['source'] = override('source') ?? (typeof event['source'] === 'string' && event['source'] !== '' ? event['source'] : o.source)
  event['type'] = override('type') ?? (typeof event['type'] === 'string' && event['type'] !== '' ? event['type'] : DEFAULT_EVENT_TYPE)
  event['specversion'] ??= '1.0'
  event['topic'] = o.topic
  event['pubsubname'] = o.pubsubName
  event['time'] ??= new Date().toISOString()
  for (const attr of ['traceparent', 'tracestate', 'traceid']) {
    const v = override(attr)
    if (v !== undefined) event[attr] = v
  }
  return Buffer.from(JSON.stringify(event))
}
