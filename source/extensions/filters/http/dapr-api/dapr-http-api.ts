import { timingSafeEqual } from 'node:crypto'
import { posix } from 'node:path'
import type { Logger } from 'pino'
import type { ConfigurationItem, StateItem, StateOperation } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'
import type { Counter } from '../../../../envoy/stats/stats.js'
import { invokeBinding } from '../../../../common/runtime-api/handlers/bindings.js'
import type { RuntimeApiContext } from '../../../../common/runtime-api/handlers/context.js'
import {
  getConfiguration, subscribeConfiguration, unsubscribeConfiguration,
} from '../../../../common/runtime-api/handlers/configuration.js'
import { missingComponent, nonEmpty } from '../../../../common/runtime-api/handlers/errors.js'
import { invokeService } from '../../../../common/runtime-api/handlers/invoke.js'
import { tryLock, unlock } from '../../../../common/runtime-api/handlers/lock.js'
import { getMetadata, setMetadata, shutdown } from '../../../../common/runtime-api/handlers/metadata.js'
import { bulkPublishEvent, publishEvent } from '../../../../common/runtime-api/handlers/pubsub.js'
import { getBulkSecret, getSecret } from '../../../../common/runtime-api/handlers/secrets.js'
import {
  deleteState, executeStateTransaction, getBulkState, getState, saveState, stateOperation, stateStore,
} from '../../../../common/runtime-api/handlers/state.js'
import type { HttpAppChannel } from './app-channel.js'
import { daprError, malformed } from './http-errors.js'

/** One request as the API handlers see it, body complete. */
export interface ApiRequest {
  readonly method: string
  /** The path as received, without the query string. */
  readonly path: string
  /** The query string as received, without `?`. */
  readonly rawQuery: string
  readonly query: URLSearchParams
  readonly headers: HeaderMap
  readonly body: Buffer
}

/** A handler's answer; the filter adds `content-length` and encodes it. */
export interface ApiResponse {
  readonly status: number
  readonly headers?: ReadonlyArray<readonly [string, string]>
  readonly contentType?: string
  readonly body?: Buffer
}

/** The building blocks, for stats (`dapr_api.<stat_prefix>.<api>.rq_total`). */
export const API_NAMES = [
  'state', 'publish', 'invoke', 'bindings', 'secrets', 'configuration', 'lock', 'metadata', 'healthz', 'shutdown', 'unimplemented', 'unknown',
] as const
export type ApiName = (typeof API_NAMES)[number]

/** A matched request: which API, whether it needs the api token, and what answers it. */
export interface ApiRoute {
  readonly api: ApiName
  /** Dapr's always-allowed endpoints (health checks) need no `dapr-api-token`. */
  readonly public: boolean
  run(req: ApiRequest): Promise<ApiResponse>
}

/** What the API needs besides the handler context. */
export interface DaprHttpApiOptions {
  readonly ctx: RuntimeApiContext
  /** Where configuration updates of HTTP subscriptions go; undefined without an HTTP app. */
  readonly appChannel: HttpAppChannel | undefined
  readonly log: Logger
  readonly stats: { configurationDelivered: Counter; configurationFailed: Counter }
}

// -----------------------------------------------------------------------------------------------
// Small helpers.

const JSON_TYPE = 'application/json'
const NO_BODY = Buffer.alloc(0)
/** `v1.0`, `v1.0-alpha1`, `v1.0-beta1`, ...: the paths Dapr's HTTP server owns. */
const API_VERSION = /^v1\.0(?:-(?:alpha|beta)\d+)?$/
const V1 = 'v1.0'
const ALPHA1 = 'v1.0-alpha1'

const noContent = (headers?: ReadonlyArray<readonly [string, string]>): ApiResponse => (headers === undefined ? { status: 204 } : { status: 204, headers })

function json(status: number, value: unknown, headers?: ReadonlyArray<readonly [string, string]>): ApiResponse {
  const body = Buffer.from(JSON.stringify(value))
  return headers === undefined ? { status, contentType: JSON_TYPE, body } : { status, contentType: JSON_TYPE, body, headers }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Go's encoding/json matches field names case-insensitively; protojson also takes the proto name. */
function field(o: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (Object.hasOwn(o, n)) return o[n]
  for (const n of names) {
    const lower = n.toLowerCase()
    for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k]
  }
  return undefined
}

function parseJson(body: Buffer): unknown {
  // Go's decoder answers an empty body with EOF.
  if (body.length === 0) throw malformed('EOF')
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch (err) {
    throw malformed((err as Error).message)
  }
}

function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw malformed(`json: cannot unmarshal ${typeof v} into field ${what} of type string`)
  return v
}

/** A `map[string]string`; numbers and booleans are taken as their text. */
function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined
  if (!isObject(v)) throw malformed(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into field ${what} of type map[string]string`)
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string') out[k] = x
    else if (typeof x === 'number' || typeof x === 'boolean') out[k] = String(x)
    else if (x !== null) throw malformed(`json: cannot unmarshal ${typeof x} into field ${what}.${k} of type string`)
  }
  return out
}

/** Dapr's `metadata.<key>=<value>` query parameters (the first value of each). */
function queryMetadata(q: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of q) if (k.startsWith('metadata.') && !Object.hasOwn(out, k.slice(9))) out[k.slice(9)] = v
  return out
}

function merged(body: Record<string, string> | undefined, query: Record<string, string>): Record<string, string> | undefined {
  return nonEmpty(body === undefined ? query : { ...body, ...query })
}

function decodeParam(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** `metadata.<key>` response headers (Dapr's setResponseMetadataHeaders). */
function metadataHeaders(md: Record<string, string> | undefined): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = []
  if (md !== undefined) for (const [k, v] of Object.entries(md)) if (isHeaderSafe(k) && isHeaderSafe(v)) out.push([`metadata.${k.toLowerCase()}`, v])
  return out
}

function isHeaderSafe(s: string): boolean {
  return !/[\r\n\0]/.test(s)
}

/** JSON bytes as a raw JSON value; anything else as a JSON string (bulk get `data`). */
function rawJson(bytes: Uint8Array): string {
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

function concurrencyOf(v: unknown): StateItem['concurrency'] {
  return v === 'first-write' || v === 'last-write' ? v : undefined
}

function consistencyOf(v: unknown): StateItem['consistency'] {
  return v === 'eventual' || v === 'strong' ? v : undefined
}

/** One `state.SetRequest` of a save or transaction body. */
function stateItemOf(x: unknown, query: Record<string, string>, what: string): StateItem {
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
function eventBytes(event: unknown, contentType: string): Buffer {
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

/** Request headers that do not go to an invoked app (framing, hop-by-hop, the api token). */
const NOT_FORWARDED = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'expect',
  'dapr-api-token', 'dapr-app-id',
])

function forwardedHeaders(h: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {}
  h.forEach((k, v) => {
    if (k.startsWith(':') || NOT_FORWARDED.has(k)) return
    out[k] = out[k] === undefined ? v : `${out[k]}${k === 'cookie' ? '; ' : ', '}${v}`
  })
  return out
}

/** Response headers of an invoked app that the codec owns. */
const NOT_RETURNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'content-type'])

/**
 * Dapr's findTargetIDAndMethod, header part: the `dapr-app-id` header, or HTTP basic auth with
 * user `dapr-app-id` (`http://dapr-app-id:<app>@localhost:3500/<method>`).
 */
export function targetFromHeaders(h: HeaderMap): string | undefined {
  const id = h.get('dapr-app-id')
  if (id !== undefined && id !== '') return id
  const auth = h.get('authorization')
  if (auth !== undefined && auth.startsWith('Basic ')) {
    const pair = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')
    if (pair.length === 2 && pair[0] === 'dapr-app-id' && pair[1] !== '') return pair[1]
  }
  return undefined
}

/** The method of a header-based invocation: the cleaned path without its leading slash (Go's path.Clean). */
export function methodFromPath(path: string): string {
  let p = posix.normalize(path.startsWith('/') ? path : `/${path}`)
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1)
  return p.slice(1)
}

/** `/v1.0/invoke/<app>/method/<method>` → app (unescaped) and method (as received). */
function targetFromInvokePath(path: string): { appId: string; method: string } | undefined {
  const m = /^\/+v1\.0\/+invoke\/+/.exec(path)
  if (m === null) return undefined
  const rest = path.slice(m[0].length)
  const idx = rest.indexOf('/method/')
  if (idx <= 0) return undefined
  return { appId: decodeParam(rest.slice(0, idx)), method: rest.slice(idx + '/method/'.length) }
}

/** Matching segments: repeated slashes collapse and a trailing slash goes (Dapr's CleanPath / StripSlashes). */
function segmentsOf(path: string): string[] {
  let p = path.replace(/\/{2,}/g, '/')
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1)
  return p.split('/').slice(1)
}

// -----------------------------------------------------------------------------------------------
// Routes.

type Params = Record<string, string>
type Handler = (p: Params, req: ApiRequest) => Promise<ApiResponse>

interface Endpoint {
  readonly versions: readonly string[]
  /** Empty: any method. */
  readonly methods: readonly string[]
  /** `name` static, `:name` one segment (unescaped), `*name` the rest (unescaped, may be empty). */
  readonly pattern: readonly string[]
  readonly api: ApiName
  readonly public?: boolean
  readonly handler: Handler
}

function matchPattern(pattern: readonly string[], segs: readonly string[]): Params | undefined {
  const params: Params = {}
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!
    if (p.startsWith('*')) {
      params[p.slice(1)] = decodeParam(segs.slice(i).join('/'))
      return params
    }
    const s = segs[i]
    if (s === undefined) return undefined
    if (p.startsWith(':')) {
      if (s === '') return undefined
      params[p.slice(1)] = decodeParam(s)
    } else if (p !== s) {
      return undefined
    }
  }
  return segs.length === pattern.length ? params : undefined
}

/** Dapr APIs envoy-ts does not serve (actors, workflows, crypto, jobs, conversation): 501. */
const UNIMPLEMENTED: ReadonlyArray<{ versions: readonly string[]; first: string; name: string }> = [
  { versions: [V1], first: 'actors', name: 'the actors API' },
  { versions: ['v1.0-alpha1', 'v1.0-beta1'], first: 'workflows', name: 'the workflow API' },
  { versions: [ALPHA1], first: 'crypto', name: 'the cryptography API' },
  { versions: [ALPHA1], first: 'subtlecrypto', name: 'the subtle cryptography API' },
  { versions: [ALPHA1], first: 'jobs', name: 'the jobs API' },
  { versions: ['v1.0-alpha1', 'v1.0-alpha2'], first: 'conversation', name: 'the conversation API' },
]

/**
 * Dapr's HTTP API (the `/v1.0/...` routes of daprd's HTTP server) on the API-neutral runtime
 * handlers: routing, request decoding, Dapr's response shapes and status codes. One per filter
 * config per thread; stateless per request except for the configuration subscriptions it made.
 */
export class DaprHttpApi {
  private readonly ctx: RuntimeApiContext
  private readonly appChannel: HttpAppChannel | undefined
  private readonly log: Logger
  private readonly stats: DaprHttpApiOptions['stats']
  private readonly endpoints: Endpoint[]

  constructor(o: DaprHttpApiOptions) {
    this.ctx = o.ctx
    this.appChannel = o.appChannel
    this.log = o.log
    this.stats = o.stats
    this.endpoints = this.buildEndpoints()
  }

  /**
   * The route of a request, from its method, path and headers (the body comes later), or
   * undefined for a request that is not Dapr's (not under `/v1.0*`, no target app): it goes on
   * to the next filter. Dapr's fallback applies otherwise: an unmatched request with a target
   * app (`dapr-app-id` header or basic auth) is a service invocation of its path, and one
   * without answers 404 `ERR_DIRECT_INVOKE`.
   */
  route(method: string, path: string, headers: HeaderMap): ApiRoute | undefined {
    const segs = segmentsOf(path)
    const version = segs[0] ?? ''
    if (API_VERSION.test(version)) {
      const rest = segs.slice(1)
      const allow = new Set<string>()
      for (const e of this.endpoints) {
        if (!e.versions.includes(version)) continue
        const params = matchPattern(e.pattern, rest)
        if (params === undefined) continue
        if (e.methods.length > 0 && !e.methods.includes(method)) {
          for (const m of e.methods) allow.add(m)
          continue
        }
        return { api: e.api, public: e.public === true, run: (req) => e.handler(params, req) }
      }
      const unimplemented = UNIMPLEMENTED.find((u) => u.versions.includes(version) && rest[0] === u.first)
      if (unimplemented !== undefined) {
        return this.fixed('unimplemented', false, () => {
          throw daprError('ERR_API_UNIMPLEMENTED', `${unimplemented.name} (${version}/${unimplemented.first}) is not implemented by envoy-ts`, RuntimeStatus.UNIMPLEMENTED)
        })
      }
      const target = targetFromHeaders(headers)
      if (target !== undefined) return this.invokeRoute(target, methodFromPath(path))
      if (allow.size > 0) {
        const allowed = [...allow].join(', ')
        return this.fixed('unknown', false, () => Promise.resolve({ status: 405, headers: [['allow', allowed]] }))
      }
      return this.fixed('unknown', false, () => {
        throw noAppId()
      })
    }
    const target = targetFromHeaders(headers)
    return target === undefined ? undefined : this.invokeRoute(target, methodFromPath(path))
  }

  private fixed(api: ApiName, isPublic: boolean, fn: () => Promise<ApiResponse>): ApiRoute {
    return { api, public: isPublic, run: async () => fn() }
  }

  private invokeRoute(appId: string, method: string): ApiRoute {
    return { api: 'invoke', public: false, run: (req) => this.invoke(appId, method, req) }
  }

  private buildEndpoints(): Endpoint[] {
    const v1 = [V1]
    const alpha = [ALPHA1]
    const both = [V1, ALPHA1]
    const write = ['POST', 'PUT']
    return [
      // State. Static segments come before parameters (`bulk`, `transaction`).
      { versions: v1, methods: write, pattern: ['state', ':store'], api: 'state', handler: (p, r) => this.saveState(p['store']!, r) },
      { versions: v1, methods: write, pattern: ['state', ':store', 'bulk'], api: 'state', handler: (p, r) => this.bulkGetState(p['store']!, r) },
      { versions: v1, methods: write, pattern: ['state', ':store', 'transaction'], api: 'state', handler: (p, r) => this.transaction(p['store']!, r) },
      { versions: alpha, methods: write, pattern: ['state', ':store', 'query'], api: 'state', handler: (p) => this.queryState(p['store']!) },
      { versions: v1, methods: ['GET'], pattern: ['state', ':store', ':key'], api: 'state', handler: (p, r) => this.getState(p['store']!, p['key']!, r) },
      { versions: v1, methods: ['DELETE'], pattern: ['state', ':store', ':key'], api: 'state', handler: (p, r) => this.deleteState(p['store']!, p['key']!, r) },
      // Pub/sub.
      { versions: alpha, methods: write, pattern: ['publish', 'bulk', ':pubsub', '*topic'], api: 'publish', handler: (p, r) => this.bulkPublish(p['pubsub']!, p['topic']!, r) },
      { versions: v1, methods: write, pattern: ['publish', ':pubsub', '*topic'], api: 'publish', handler: (p, r) => this.publish(p['pubsub']!, p['topic']!, r) },
      // Bindings, secrets.
      { versions: v1, methods: write, pattern: ['bindings', ':name'], api: 'bindings', handler: (p, r) => this.binding(p['name']!, r) },
      { versions: v1, methods: ['GET'], pattern: ['secrets', ':store', 'bulk'], api: 'secrets', handler: (p, r) => this.bulkSecret(p['store']!, r) },
      { versions: v1, methods: ['GET'], pattern: ['secrets', ':store', ':key'], api: 'secrets', handler: (p, r) => this.secret(p['store']!, p['key']!, r) },
      // Configuration (stable and alpha1 paths).
      { versions: both, methods: ['GET'], pattern: ['configuration', ':store'], api: 'configuration', handler: (p, r) => this.getConfiguration(p['store']!, r) },
      { versions: both, methods: ['GET'], pattern: ['configuration', ':store', 'subscribe'], api: 'configuration', handler: (p, r) => this.subscribeConfiguration(p['store']!, r) },
      { versions: both, methods: ['GET'], pattern: ['configuration', ':store', ':id', 'unsubscribe'], api: 'configuration', handler: (p) => this.unsubscribeConfiguration(p['store']!, p['id']!) },
      // Distributed lock.
      { versions: alpha, methods: ['POST'], pattern: ['lock', ':store'], api: 'lock', handler: (p, r) => this.lock(p['store']!, r) },
      { versions: alpha, methods: ['POST'], pattern: ['unlock', ':store'], api: 'lock', handler: (p, r) => this.unlock(p['store']!, r) },
      // Metadata, health, shutdown.
      { versions: v1, methods: ['GET'], pattern: ['metadata'], api: 'metadata', handler: () => this.getMetadata() },
      { versions: v1, methods: ['PUT'], pattern: ['metadata', ':key'], api: 'metadata', handler: (p, r) => this.putMetadata(p['key']!, r) },
      { versions: v1, methods: ['GET'], pattern: ['healthz'], api: 'healthz', public: true, handler: (_p, r) => this.healthz(r) },
      { versions: v1, methods: ['GET'], pattern: ['healthz', 'outbound'], api: 'healthz', public: true, handler: () => Promise.resolve(noContent()) },
      { versions: v1, methods: ['POST'], pattern: ['shutdown'], api: 'shutdown', handler: () => this.shutdown() },
      // Service invocation: any method (Dapr's fallback route).
      { versions: v1, methods: [], pattern: ['invoke', '*rest'], api: 'invoke', handler: (_p, r) => this.invokeByPath(r) },
    ]
  }

  // State.

  private async saveState(store: string, req: ApiRequest): Promise<ApiResponse> {
    stateStore(this.ctx, store)
    const body = parseJson(req.body)
    if (!Array.isArray(body)) throw malformed(`json: cannot unmarshal ${isObject(body) ? 'object' : typeof body} into Go value of type []state.SetRequest`)
    const query = queryMetadata(req.query)
    await saveState(this.ctx, store, body.map((x, i) => stateItemOf(x, query, `[${i}]`)))
    return noContent()
  }

  private async getState(store: string, key: string, req: ApiRequest): Promise<ApiResponse> {
    const got = await getState(this.ctx, store, key, nonEmpty(queryMetadata(req.query)))
    if (got.value === undefined) return noContent()
    const headers = metadataHeaders(got.metadata)
    if (got.etag !== undefined && got.etag !== '') headers.unshift(['etag', got.etag])
    const v = got.value
    return { status: 200, headers, contentType: JSON_TYPE, body: Buffer.from(v.buffer, v.byteOffset, v.byteLength) }
  }

  private async deleteState(store: string, key: string, req: ApiRequest): Promise<ApiResponse> {
    const etag = req.headers.get('if-match')
    await deleteState(this.ctx, store, key, etag === undefined || etag === '' ? undefined : etag,
      nonEmpty(queryMetadata(req.query)), concurrencyOf(req.query.get('concurrency')))
    return noContent()
  }

  private async bulkGetState(store: string, req: ApiRequest): Promise<ApiResponse> {
    stateStore(this.ctx, store)
    const body = parseJson(req.body)
    if (!isObject(body)) throw malformed('json: cannot unmarshal into Go value of type http.BulkGetRequest')
    const keys = field(body, 'keys') ?? []
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) throw malformed('json: cannot unmarshal into Go struct field BulkGetRequest.keys of type []string')
    const md = merged(stringMap(field(body, 'metadata'), 'metadata'), queryMetadata(req.query))
    const items = await getBulkState(this.ctx, store, keys as string[], md)
    // Built as text: `data` is the stored JSON as is (json.RawMessage in Dapr).
    const parts = items.map((i) => {
      let s = `{"key":${JSON.stringify(i.key)}`
      if (i.error !== undefined && i.error !== '') return `${s},"error":${JSON.stringify(i.error)}}`
      if (i.value !== undefined && i.value.byteLength > 0) s += `,"data":${rawJson(i.value)}`
      if (i.etag !== undefined && i.etag !== '') s += `,"etag":${JSON.stringify(i.etag)}`
      if (i.metadata !== undefined && Object.keys(i.metadata).length > 0) s += `,"metadata":${JSON.stringify(i.metadata)}`
      return `${s}}`
    })
    return { status: 200, contentType: JSON_TYPE, body: Buffer.from(`[${parts.join(',')}]`) }
  }

  private async transaction(store: string, req: ApiRequest): Promise<ApiResponse> {
    stateStore(this.ctx, store)
    const body = parseJson(req.body)
    if (!isObject(body)) throw malformed('json: cannot unmarshal into Go value of type http.stateTransactionRequestBody')
    const operations = field(body, 'operations') ?? []
    if (!Array.isArray(operations)) throw malformed('json: cannot unmarshal into Go struct field stateTransactionRequestBody.operations')
    const query = queryMetadata(req.query)
    const md = merged(stringMap(field(body, 'metadata'), 'metadata'), query)
    const ops: StateOperation[] = operations.map((o, i) => {
      if (!isObject(o)) throw malformed(`operations[${i}] is not an object`)
      const kind = optString(field(o, 'operation'), `operations[${i}].operation`) ?? ''
      return stateOperation(kind, stateItemOf(field(o, 'request') ?? {}, query, `operations[${i}].request`))
    })
    await executeStateTransaction(this.ctx, store, ops, md)
    return noContent()
  }

  private async queryState(store: string): Promise<ApiResponse> {
    stateStore(this.ctx, store)
    throw daprError('ERR_STATE_STORE_NOT_SUPPORTED', 'state store does not support querying')
  }

  // Pub/sub.

  private async publish(pubsub: string, topic: string, req: ApiRequest): Promise<ApiResponse> {
    await publishEvent(this.ctx, pubsub, topic, req.body, req.headers.get('content-type') ?? '', nonEmpty(queryMetadata(req.query)))
    return noContent()
  }

  private async bulkPublish(pubsub: string, topic: string, req: ApiRequest): Promise<ApiResponse> {
    // The pub/sub is checked before the body, as Dapr does.
    if (this.ctx.components.get('pubsub', pubsub) === undefined) throw missingComponent(this.ctx, 'pubsub', pubsub)
    let body: unknown
    try {
      body = parseJson(req.body)
    } catch (err) {
      throw daprError('ERR_PUBSUB_EVENTS_SER', `error when unmarshaling the request for topic ${topic} pubsub ${pubsub}: ${(err as Error).message}`, RuntimeStatus.INVALID_ARGUMENT)
    }
    if (!Array.isArray(body)) {
      throw daprError('ERR_PUBSUB_EVENTS_SER', `error when unmarshaling the request for topic ${topic} pubsub ${pubsub}: expected a JSON array of entries`, RuntimeStatus.INVALID_ARGUMENT)
    }
    const entries = body.map((e, i) => {
      if (!isObject(e)) throw daprError('ERR_PUBSUB_EVENTS_SER', `error marshaling events to bytes for topic ${topic} pubsub ${pubsub}: entry ${i} is not an object`, RuntimeStatus.INVALID_ARGUMENT)
      const contentType = optString(field(e, 'contentType'), `[${i}].contentType`) ?? ''
      let event: Buffer
      try {
        event = eventBytes(field(e, 'event'), contentType)
      } catch (err) {
        throw daprError('ERR_PUBSUB_EVENTS_SER', `error marshaling events to bytes for topic ${topic} pubsub ${pubsub}. error: ${(err as Error).message}`, RuntimeStatus.INVALID_ARGUMENT)
      }
      return { entryId: optString(field(e, 'entryId'), `[${i}].entryId`) ?? '', event, contentType, metadata: nonEmpty(stringMap(field(e, 'metadata'), `[${i}].metadata`)) }
    })
    const failed = await bulkPublishEvent(this.ctx, pubsub, topic, entries, nonEmpty(queryMetadata(req.query)))
    if (failed.length === 0) return noContent()
    return json(500, { failedEntries: failed.map((f) => ({ entryId: f.entryId, error: f.error })), errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE' })
  }

  // Bindings, secrets.

  private async binding(name: string, req: ApiRequest): Promise<ApiResponse> {
    const body = parseJson(req.body)
    if (!isObject(body)) throw malformed('json: cannot unmarshal into Go value of type http.OutputBindingRequest')
    const data = field(body, 'data')
    // Dapr sends `data` JSON-encoded (a string keeps its quotes); no data sends nothing.
    const bytes = data === undefined ? NO_BODY : Buffer.from(JSON.stringify(data))
    const res = await invokeBinding(this.ctx, name, optString(field(body, 'operation'), 'operation') ?? '', bytes, stringMap(field(body, 'metadata'), 'metadata') ?? {})
    const headers = metadataHeaders(res.metadata)
    if (res.data.byteLength === 0) return noContent(headers)
    return { status: 200, headers, body: Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength) }
  }

  private async secret(store: string, key: string, req: ApiRequest): Promise<ApiResponse> {
    return json(200, await getSecret(this.ctx, store, key, nonEmpty(queryMetadata(req.query))))
  }

  private async bulkSecret(store: string, req: ApiRequest): Promise<ApiResponse> {
    return json(200, await getBulkSecret(this.ctx, store, nonEmpty(queryMetadata(req.query))))
  }

  // Configuration.

  private configurationStore(store: string): void {
    if (this.ctx.components.get('configuration', store) === undefined) throw missingComponent(this.ctx, 'configuration', store)
  }

  private async getConfiguration(store: string, req: ApiRequest): Promise<ApiResponse> {
    const md = nonEmpty(queryMetadata(req.query))
    const items = await getConfiguration(this.ctx, store, req.query.getAll('key'), md === undefined ? {} : { metadata: md })
    if (items.length === 0) return noContent()
    return json(200, daprItems(items))
  }

  /**
   * Dapr's HTTP subscription: answers the id, then POSTs each change to the app
   * (`/configuration/<store>/<key>`, once per changed key, the whole update as body).
   */
  private async subscribeConfiguration(store: string, req: ApiRequest): Promise<ApiResponse> {
    this.configurationStore(store)
    const channel = this.appChannel
    const app = this.ctx.config.app
    if (channel === undefined && app !== undefined && app.app_port > 0 && app.app_protocol === 'GRPC') {
      // TODO: daprd sends these through AppCallback.OnInvoke to gRPC apps; no app has asked yet.
      throw daprError('ERR_API_UNIMPLEMENTED', 'configuration updates of HTTP subscriptions are delivered to HTTP apps only (app_protocol: HTTP)', RuntimeStatus.UNIMPLEMENTED)
    }
    if (channel === undefined) {
      throw daprError('ERR_APP_CHANNEL_NIL', 'app channel is not initialized. cannot subscribe to configuration updates')
    }
    let id = ''
    const early: ConfigurationItem[][] = []
    let queue = Promise.resolve()
    const deliver = (items: ConfigurationItem[]): void => {
      // One update at a time per subscription, in order.
      queue = queue.then(() => this.deliverUpdate(channel, store, id, items))
    }
    // The subscription lives on main until someone unsubscribes it by id (from any worker) or
    // the process stops; its changes stream to this worker.
    const sub = await subscribeConfiguration(this.ctx, store, req.query.getAll('key'), (items) => {
      if (id === '') early.push(items)
      else deliver(items)
    })
    id = sub.id
    for (const items of early.splice(0)) deliver(items)
    return json(200, { id })
  }

  private async deliverUpdate(channel: HttpAppChannel, store: string, id: string, items: ConfigurationItem[]): Promise<void> {
    const body = Buffer.from(JSON.stringify({ id, items: daprItems(items) }))
    for (const item of items) {
      const path = `/configuration/${encodeURIComponent(store)}/${encodeURIComponent(item.key)}`
      try {
        const status = await channel.postJson(path, body)
        if (status === 200) {
          this.stats.configurationDelivered.inc()
          continue
        }
        this.stats.configurationFailed.inc()
        this.log.warn({ store, key: item.key, status }, 'error sending configuration item to the app')
      } catch (err) {
        this.stats.configurationFailed.inc()
        this.log.warn({ store, key: item.key, err: (err as Error).message }, 'error sending configuration item to the app')
      }
    }
  }

  private async unsubscribeConfiguration(store: string, id: string): Promise<ApiResponse> {
    this.configurationStore(store)
    let ok: boolean
    try {
      ok = await unsubscribeConfiguration(this.ctx, store, id)
    } catch (err) {
      return json(500, { message: `failed to unsubscribe to configuration request ${id}: ${(err as Error).message}` })
    }
    if (!ok) return json(500, { message: `failed to unsubscribe to configuration request ${id}: subscription with id ${id} does not exist` })
    return json(200, { ok: true })
  }

  // Lock.

  private async lock(store: string, req: ApiRequest): Promise<ApiResponse> {
    const body = lockBody(req.body)
    const expiry = field(body, 'expiryInSeconds', 'expiry_in_seconds')
    const seconds = typeof expiry === 'string' ? Number(expiry) : typeof expiry === 'number' ? expiry : 0
    const ok = await tryLock(this.ctx, store, lockString(body, 'resourceId', 'resource_id'), lockString(body, 'lockOwner', 'lock_owner'), seconds)
    return json(200, { success: ok })
  }

  private async unlock(store: string, req: ApiRequest): Promise<ApiResponse> {
    const body = lockBody(req.body)
    const status = await unlock(this.ctx, store, lockString(body, 'resourceId', 'resource_id'), lockString(body, 'lockOwner', 'lock_owner'))
    return json(200, { status: UNLOCK_STATUS[status] })
  }

  // Metadata, health, shutdown.

  private async getMetadata(): Promise<ApiResponse> {
    const m = await getMetadata(this.ctx)
    const appConnectionProperties: Record<string, unknown> = {}
    if (m.appConnection.port > 0) appConnectionProperties['port'] = m.appConnection.port
    appConnectionProperties['protocol'] = m.appConnection.protocol
    appConnectionProperties['channelAddress'] = m.appConnection.channelAddress
    return json(200, {
      id: m.id,
      runtimeVersion: m.runtimeVersion,
      enabledFeatures: [],
      actors: [],
      components: m.components,
      extended: m.extended,
      subscriptions: m.subscriptions.map((s) => ({
        pubsubname: s.pubsubName,
        topic: s.topic,
        ...(Object.keys(s.metadata).length > 0 ? { metadata: s.metadata } : {}),
        ...(s.route !== '' ? { rules: [{ path: s.route }] } : {}),
        deadLetterTopic: '',
      })),
      appConnectionProperties,
      actorRuntime: { runtimeStatus: 'DISABLED', hostReady: false },
    })
  }

  private async putMetadata(key: string, req: ApiRequest): Promise<ApiResponse> {
    await setMetadata(this.ctx, key, req.body.toString('utf8'))
    return noContent()
  }

  private async healthz(req: ApiRequest): Promise<ApiResponse> {
    // `?appid=` checks that this sidecar serves that app (Dapr: name resolvers use it).
    const want = req.query.get('appid')
    if (want !== null && want !== this.ctx.appId) throw daprError('ERR_HEALTH_APPID_NOT_MATCH', 'dapr app-id does not match')
    return noContent()
  }

  private async shutdown(): Promise<ApiResponse> {
    // Answered first: the shutdown starts on the next turn, after this response is written.
    shutdown(this.ctx)
    return noContent()
  }

  // Service invocation.

  private async invokeByPath(req: ApiRequest): Promise<ApiResponse> {
    // Dapr looks at the header before the path, even on /v1.0/invoke/.
    const header = targetFromHeaders(req.headers)
    if (header !== undefined) return this.invoke(header, methodFromPath(req.path), req)
    const t = targetFromInvokePath(req.path)
    if (t === undefined) throw noAppId()
    return this.invoke(t.appId, t.method, req)
  }

  private async invoke(appId: string, method: string, req: ApiRequest): Promise<ApiResponse> {
    const res = await invokeService(this.ctx, {
      appId,
      method,
      data: req.body,
      contentType: req.headers.get('content-type') ?? '',
      verb: req.method,
      querystring: req.rawQuery,
      headers: forwardedHeaders(req.headers),
    })
    const headers: Array<readonly [string, string]> = []
    for (const [k, v] of Object.entries(res.headers)) if (!NOT_RETURNED.has(k)) headers.push([k, v])
    const d = res.data
    const out = { status: res.status, headers, body: Buffer.from(d.buffer, d.byteOffset, d.byteLength) }
    return res.contentType === '' ? out : { ...out, contentType: res.contentType }
  }
}

const UNLOCK_STATUS = { SUCCESS: 0, LOCK_DOES_NOT_EXIST: 1, LOCK_BELONGS_TO_OTHERS: 2, INTERNAL_ERROR: 3 } as const

function noAppId(): Error {
  return daprError('ERR_DIRECT_INVOKE', 'failed getting app id either from the URL path or the header dapr-app-id', RuntimeStatus.NOT_FOUND)
}

function lockBody(body: Buffer): Record<string, unknown> {
  const b = parseJson(body)
  if (!isObject(b)) throw malformed('proto: syntax error: expected a JSON object')
  return b
}

function lockString(body: Record<string, unknown>, ...names: string[]): string {
  return optString(field(body, ...names), names[0]!) ?? ''
}

/** ConfigurationItem list → Dapr's `{ key: { value, version, metadata } }` (Go's omitempty). */
function daprItems(items: ConfigurationItem[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const i of items) {
    const o: Record<string, unknown> = {}
    if (i.value !== '') o['value'] = i.value
    if (i.version !== '') o['version'] = i.version
    if (i.metadata !== undefined && Object.keys(i.metadata).length > 0) o['metadata'] = i.metadata
    out[i.key] = o
  }
  return out
}

/** Constant-time comparison of the `dapr-api-token` header with the configured token. */
export function tokenMatches(expected: Buffer, got: string | undefined): boolean {
  if (got === undefined) return false
  const b = Buffer.from(got)
  return b.length === expected.length && timingSafeEqual(b, expected)
}
