import type { PubSubMessage } from '../../../envoy/runtime-api/components.js'
import { own, setOwn } from '../../common/own-keys.js'

/** A message as the app receives it: the CloudEvent (parsed) and the HTTP body that carries it. */
export interface DeliveredEvent {
  event: Record<string, unknown>
  /** `application/cloudevents+json` body: the published bytes when they already are a CloudEvent. */
  body: Uint8Array
  /** The published bytes when they were wrapped (raw payload): bulk deliveries send them as is. */
  raw?: Uint8Array
}

const CE_ATTRIBUTES = new Set(['id', 'source', 'datacontenttype', 'type', 'specversion', 'data', 'data_base64'])

/**
 * The CloudEvent for a message. Published data normally is one already (the publish handler
 * wraps it, as Dapr does); it is used as is. Messages published with `rawPayload` metadata, and
 * data that is not a JSON object, are wrapped the way Dapr wraps raw payloads on the
 * subscriber side: `data_base64` with `datacontenttype: application/octet-stream`.
 */
export function toDeliveredEvent(m: PubSubMessage): DeliveredEvent {
  if (!isTruthy(m.metadata['rawPayload'])) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString('utf8'))
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        return { event: parsed as Record<string, unknown>, body: m.data }
      }
    } catch {
      // Not JSON: wrapped below.
    }
  }
  const event: Record<string, unknown> = {
    id: m.id,
    specversion: '1.0',
    datacontenttype: 'application/octet-stream',
    data_base64: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString('base64'),
    topic: m.topic,
    pubsubname: m.pubsubName,
  }
  return { event, body: new TextEncoder().encode(JSON.stringify(event)), raw: m.data }
}

/** True when the event carries an `expiration` (Dapr's message TTL) that has passed. */
export function isExpired(event: Record<string, unknown>, now: number = Date.now()): boolean {
  const exp = event['expiration']
  if (typeof exp !== 'string' || exp === '') return false
  const t = Date.parse(exp)
  return Number.isFinite(t) && t <= now
}

/** The fields of Dapr's / Layotto's TopicEventRequest taken from the CloudEvent. */
export interface TopicEventFields {
  id: string
  source: string
  type: string
  spec_version: string
  data_content_type: string
  data: Uint8Array
  /** Every other attribute (Dapr's `extensions` Struct). */
  extensions: Record<string, unknown>
}

/**
 * Flattens the CloudEvent the way Dapr's gRPC delivery does: `data_base64` decoded; `data`
 * as its text for string content types (text/*, XML), as JSON for JSON ones. Throws for a
 * `data_base64` that is not a string.
 */
export function topicEventFields(event: Record<string, unknown>): TopicEventFields {
  const str = (k: string): string => {
    const v = own(event, k)
    return typeof v === 'string' ? v : ''
  }
  const contentType = str('datacontenttype')
  let data: Uint8Array = new Uint8Array()
  const b64 = event['data_base64']
  const raw = event['data']
  if (b64 !== undefined && b64 !== null) {
    if (typeof b64 !== 'string') throw new Error('data_base64 is not a string')
    data = new Uint8Array(Buffer.from(b64, 'base64'))
  } else if (raw !== undefined && raw !== null) {
    if (isStringContentType(contentType) || (typeof raw === 'string' && !isJsonContentType(contentType))) {
      data = new TextEncoder().encode(typeof raw === 'string' ? raw : JSON.stringify(raw))
    } else {
      data = new TextEncoder().encode(JSON.stringify(raw))
    }
  }
  const extensions: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(event)) if (!CE_ATTRIBUTES.has(k)) setOwn(extensions, k, v)
  return {
    id: str('id'),
    source: str('source'),
    type: str('type'),
    spec_version: str('specversion'),
    data_content_type: contentType,
    data,
    extensions,
  }
}

function mediaType(ct: string): string {
  return ct.split(';')[0]!.trim().toLowerCase()
}

/** components-contrib's IsStringContentType: text/*, XML. */
export function isStringContentType(ct: string): boolean {
  const t = mediaType(ct)
  return t.startsWith('text/') || t === 'application/xml' || t.endsWith('+xml')
}

/** JSON (`application/json`, `*+json`), CloudEvents JSON included. */
export function isJsonContentType(ct: string): boolean {
  const t = mediaType(ct)
  return t === 'application/json' || t.endsWith('+json')
}

function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ['y', 'yes', 'true', 't', 'on', '1'].includes(v.trim().toLowerCase())
}

/**
 * A JSON value as google.protobuf.Value in protobufjs object form. The well-known types come
 * from protobufjs' bundled descriptors, whose field names are camelCase even under keepCase.
 */
export function toProtoValue(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { nullValue: 0 }
  if (typeof v === 'number') return { numberValue: v }
  if (typeof v === 'string') return { stringValue: v }
  if (typeof v === 'boolean') return { boolValue: v }
  if (Array.isArray(v)) return { listValue: { values: v.map(toProtoValue) } }
  if (typeof v === 'object') return { structValue: toProtoStruct(v as Record<string, unknown>) }
  return { stringValue: String(v) }
}

export function toProtoStruct(o: Record<string, unknown>): { fields: Record<string, Record<string, unknown>> } {
  const fields: Record<string, Record<string, unknown>> = {}
  for (const [k, v] of Object.entries(o)) setOwn(fields, k, toProtoValue(v))
  return { fields }
}
