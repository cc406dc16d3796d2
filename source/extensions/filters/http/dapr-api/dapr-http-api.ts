import { timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import type { ConfigurationItem, StateOperation } from '../../../../envoy/runtime-api/components.js'
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
import type { ApiName, ApiRequest, ApiResponse, ApiRoute } from './api-types.js'
import {
  ALPHA1, API_VERSION, forwardedHeaders, matchPattern, methodFromPath, NOT_RETURNED, type Params, segmentsOf, targetFromHeaders,
  targetFromInvokePath, UNIMPLEMENTED, V1,
} from './api-paths.js'
import {
  concurrencyOf, daprItems, eventBytes, field, isObject, json, JSON_TYPE, lockBody, lockString, merged, metadataHeaders, NO_BODY, noContent,
  optString, parseJson, queryMetadata, rawJson, stateItemOf, stringMap,
} from './json-body.js'

/** What the API needs besides the handler context. */
export interface DaprHttpApiOptions {
  readonly ctx: RuntimeApiContext
  /** Where configuration updates of HTTP subscriptions go; undefined without an HTTP app. */
  readonly appChannel: HttpAppChannel | undefined
  readonly log: Logger
  readonly stats: { configurationDelivered: Counter; configurationFailed: Counter }
}

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
    for (const [k, v] of res.headers) if (!NOT_RETURNED.has(k)) headers.push([k, v])
    const d = res.data
    const out = { status: res.status, headers, body: Buffer.from(d.buffer, d.byteOffset, d.byteLength) }
    return res.contentType === '' ? out : { ...out, contentType: res.contentType }
  }
}

const UNLOCK_STATUS = { SUCCESS: 0, LOCK_DOES_NOT_EXIST: 1, LOCK_BELONGS_TO_OTHERS: 2, INTERNAL_ERROR: 3 } as const

function noAppId(): Error {
  return daprError('ERR_DIRECT_INVOKE', 'failed getting app id either from the URL path or the header dapr-app-id', RuntimeStatus.NOT_FOUND)
}

/** Constant-time comparison of the `dapr-api-token` header with the configured token. */
export function tokenMatches(expected: Buffer, values: readonly string[]): boolean {
  // Exactly one value: a repeated header is refused even when its first value is right.
  if (values.length !== 1) return false
  const b = Buffer.from(values[0]!)
  return b.length === expected.length && timingSafeEqual(b, expected)
}
