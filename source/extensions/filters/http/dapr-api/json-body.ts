import type { ConfigurationItem, StateItem } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'
import { nonEmpty } from '../../../../common/runtime-api/handlers/errors.js'
import type { ApiResponse } from './api-types.js'
import { daprError, malformed } from './http-errors.js'
import { setOwn } from '../../../../common/common/own-keys.js'

// Request bodies as Dapr's HTTP server decodes them (Go's encoding/json rules) and the JSON
// shapes of its answers.

export const JSON_TYPE = 'application/json'
export const NO_BODY = Buffer.alloc(0)

export const noContent = (headers?: ReadonlyArray<readonly [string, string]>): ApiResponse => (headers === undefined ? { status: 204 } : { status: 204, headers })

export function json(status: number, value: unknown, headers?: ReadonlyArray<readonly [string, string]>): ApiResponse {
  const body = Buffer.from(JSON.stringify(value))
  return headers === undefined ? { status, contentType: JSON_TYPE, body } : { status, contentType: JSON_TYPE, body, headers }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Go's encoding/json matches field names case-insensitively; protojson also takes the proto name. */
export function field(o: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (Object.hasOwn(o, n)) return o[n]
  for (const n of names) {
    const lower = n.toLowerCase()
    for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k]
  }
  return undefined
}

export function parseJson(body: Buffer): unknown {
  // Go's decoder answers an empty body with EOF.
  if (body.length === 0) throw malformed('EOF')
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch (err) {
    throw malformed((err as Error).message)
  }
}

export function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw malformed(`json: cannot unmarshal ${typeof v} into field ${what} of type string`)
  return v
}

/** A `map[string]string`; numbers and booleans are taken as their text. */
export function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined
  if (!isObject(v)) throw malformed(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into field ${what} of type map[string]string`)
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string') setOwn(out, k, x)
    else if (typeof x === 'number' || typeof x === 'boolean') setOwn(out, k, String(x))
    else if (x !== null) throw malformed(`json: cannot unmarshal ${typeof x} into field ${what}.${k} of type string`)
  }
  return out
}

/** Dapr's `metadata.<key>=<value>` query parameters (the first value of each). */
export function queryMetadata(q: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of q) if (k.startsWith('metadata.') && !Object.hasOwn(out, k.slice(9))) setOwn(out, k.slice(9), v)
  return out
}

export function merged(body: Record<string, string> | undefined, query: Record<string, string>): Record<string, string> | undefined {
  return nonEmpty(body === undefined ? query : { ...body, ...query })
}

/** `metadata.<key>` response headers (Dapr's setResponseMetadataHeaders). */
export function metadataHeaders(md: Record<string, string> | undefined): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = []
  if (md !== undefined) for (const [k, v] of Object.entries(md)) if (isHeaderSafe(k) && isHeaderSafe(v)) out.push([`metadata.${k.toLowerCase()}`, v])
  return out
}

function isHeaderSafe(s: string): boolean {
  return !/[\r\n\0]/.test(s)
}

/** JSON bytes as a raw JSON value; anything else as a JSON string (bulk get `data`). */
export function rawJson(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  try {
    JSON.parse(text)
    return text
  } catch {
    return JSON.stringify(text)
  }
}

/** Dapr stores a JSON value as its JSON text (`"abc"` for a string); bytes as given. */
function jsonValueBytes(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v === undefined ? null : v))
}

export function concurrencyOf(v: unknown): StateItem['concurrency'] {
  return v === 'first-write' || v === 'last-write' ? v : undefined
}

function consistencyOf(v: unknown): StateItem['consistency'] {
  return v === 'eventual' || v === 'strong' ? v : undefined
}

/** One `state.SetRequest` of a save or transaction body. */
export function stateItemOf(x: unknown, query: Record<string, string>, what: string): StateItem {
  if (!isObject(x)) throw malformed(`json: cannot unmarshal ${Array.isArray(x) ? 'array' : typeof x} into Go value of type state.SetRequest`)
  const item: StateItem = { key: optString(field(x, 'key'), `${what}.key`) ?? '', value: jsonValueBytes(field(x, 'value')) }
  const etag = optString(field(x, 'etag'), `${what}.etag`)
  if (etag !== undefined && etag !== '') item.etag = etag
  const md = merged(stringMap(field(x, 'metadata'), `${what}.metadata`), query)
  if (md !== undefined) {
    item.metadata = md
    const ct = md['contentType']
    if (ct !== undefined && ct !== '') item.contentType = ct
  }
  const options = field(x, 'options')
  if (isObject(options)) {
    const concurrency = concurrencyOf(field(options, 'concurrency'))
    if (concurrency !== undefined) item.concurrency = concurrency
    const consistency = consistencyOf(field(options, 'consistency'))
    if (consistency !== undefined) item.consistency = consistency
  }
  return item
}

/** Dapr's ConvertEventToBytes for bulk publish entries. */
export function eventBytes(event: unknown, contentType: string): Buffer {
  const ct = contentType.split(';', 1)[0]!.trim().toLowerCase()
  if (ct === 'application/octet-stream') {
    if (typeof event !== 'string') throw daprError('ERR_PUBSUB_EVENTS_SER', `error: expected base64 encoded string for binary content type ${contentType}`, RuntimeStatus.INVALID_ARGUMENT)
    return Buffer.from(event, 'base64')
  }
  if (ct.startsWith('text/') || ct === 'application/xml' || ct.endsWith('+xml')) {
    if (typeof event !== 'string') throw daprError('ERR_PUBSUB_EVENTS_SER', 'error: mismatch between contentType and event', RuntimeStatus.INVALID_ARGUMENT)
    return Buffer.from(event)
  }
  if (ct === 'application/json' || ct.endsWith('+json')) return Buffer.from(JSON.stringify(event ?? null))
  throw daprError('ERR_PUBSUB_EVENTS_SER', `error: cannot convert event of contentType ${contentType}`, RuntimeStatus.INVALID_ARGUMENT)
}

export function lockBody(body: Buffer): Record<string, unknown> {
  const b = parseJson(body)
  if (!isObject(b)) throw malformed('proto: syntax error: expected a JSON object')
  return b
}

export function lockString(body: Record<string, unknown>, ...names: string[]): string {
  return optString(field(body, ...names), names[0]!) ?? ''
}

/** ConfigurationItem list → Dapr's `{ key: { value, version, metadata } }` (Go's omitempty). */
export function daprItems(items: ConfigurationItem[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const i of items) {
    const o: Record<string, unknown> = {}
    if (i.value !== '') o['value'] = i.value
    if (i.version !== '') o['version'] = i.version
    if (i.metadata !== undefined && Object.keys(i.metadata).length > 0) o['metadata'] = i.metadata
    setOwn(out, i.key, o)
  }
  return out
}
