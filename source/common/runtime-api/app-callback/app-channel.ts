import { randomUUID } from 'node:crypto'
import http from 'node:http'
import * as grpc from '@grpc/grpc-js'
import type protobuf from 'protobufjs'
import type { DeliveryStatus, PubSubMessage } from '../../../envoy/runtime-api/components.js'
import { loadSchema } from '../../protobuf/schema.js'
import { toProtoStruct, topicEventFields, type DeliveredEvent } from './cloud-event.js'
import { buildRouteRules, type RouteRule } from './route-rules.js'
import { startTimer } from '../../event/timer-impl.js'
import { setOwn } from '../../common/own-keys.js'

/** One subscription the app asked for (Dapr's programmatic subscription). */
export interface AppSubscription {
  pubsubName: string
  topic: string
  metadata: Record<string, string>
  rules: RouteRule[]
  /** Where dropped messages go (same pub/sub); '' for none. */
  deadLetterTopic: string
  /** Dapr bulk subscribe: the app takes batches (envoy-ts sends batches of one message). */
  bulk: boolean
}

export type DiscoveryResult =
  /** The app answered; `problems` are subscriptions it listed that were refused. */
  | { kind: 'ok'; subscriptions: AppSubscription[]; problems: string[]; via: string }
  /** Not reachable yet (connection refused, timeout, UNAVAILABLE): ask again later. */
  | { kind: 'retry'; reason: string }

export interface DeliveryResult {
  /** SUCCESS and DROP settle the message; RETRY asks for another attempt. */
  status: DeliveryStatus
  /** Why, for logs (the app's answer, status code, or error). */
  reason: string
}

/** How envoy-ts reaches the app's callback server. Main thread only. */
export interface AppChannel {
  /** Asks the app for its subscriptions. */
  discover(timeoutMs: number): Promise<DiscoveryResult>
  /** Delivers one message to `path` (the matched route); never throws. */
  deliver(sub: AppSubscription, m: PubSubMessage, ev: DeliveredEvent, path: string, timeoutMs: number): Promise<DeliveryResult>
  close(): void
}

// Headers envoy-ts sets itself or that must not be copied from message metadata.
const RESERVED_HEADERS = new Set(['host', 'content-type', 'content-length', 'connection', 'transfer-encoding', 'te',
  'keep-alive', 'upgrade', 'trailer', 'proxy-connection', 'user-agent', 'expect'])
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const GRPC_KEY = /^[0-9a-z_.-]+$/

/** Message metadata as request headers (Dapr's custom metadata), plus `pubsubname`. */
function metadataHeaders(m: PubSubMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(m.metadata)) {
    const key = k.toLowerCase()
    if (!TOKEN.test(k) || RESERVED_HEADERS.has(key) || key.startsWith(':') || /[\r\n\0]/.test(v)) continue
    setOwn(out, key, v)
  }
  out['pubsubname'] = m.pubsubName
  return out
}

/** Message metadata as gRPC metadata (keys gRPC accepts, no reserved or binary ones). */
function grpcMetadata(m: PubSubMessage): grpc.Metadata {
  const md = new grpc.Metadata()
  for (const [k, v] of Object.entries(metadataHeaders(m))) {
    if (GRPC_KEY.test(k) && !k.startsWith('grpc-') && !k.endsWith('-bin')) md.set(k, v)
  }
  return md
}

/** Dapr's subscription JSON (GET /dapr/subscribe) → subscriptions; bad entries go to problems. */
export function parseHttpSubscriptions(body: unknown): { subscriptions: AppSubscription[]; problems: string[] } {
  const subscriptions: AppSubscription[] = []
  const problems: string[] = []
  if (!Array.isArray(body)) return { subscriptions, problems: ['the subscription list is not a JSON array'] }
  for (const [i, raw] of body.entries()) {
    if (raw === null || typeof raw !== 'object') { problems.push(`[${i}]: not an object`); continue }
    const e = raw as Record<string, unknown>
    const pubsubName = typeof e['pubsubname'] === 'string' ? e['pubsubname'] : ''
    const topic = typeof e['topic'] === 'string' ? e['topic'] : ''
    if (pubsubName === '' || topic === '') { problems.push(`[${i}]: pubsubname and topic are required`); continue }
    const routes = (e['routes'] !== null && typeof e['routes'] === 'object' ? e['routes'] : {}) as Record<string, unknown>
    const rawRules = Array.isArray(routes['rules']) ? routes['rules'] as Array<Record<string, unknown>> : []
    const dflt = typeof routes['default'] === 'string' && routes['default'] !== '' ? routes['default']
      : typeof e['route'] === 'string' ? e['route'] : ''
    let rules: RouteRule[]
    try {
      rules = buildRouteRules(rawRules.map((r) => ({ match: str(r?.['match']), path: str(r?.['path']) })), dflt)
    } catch (err) {
      problems.push(`${pubsubName}/${topic}: bad routing rule: ${(err as Error).message}`)
      continue
    }
    // HTTP needs a path to POST to (Dapr drops subscriptions without routes).
    if (rules.length === 0) { problems.push(`${pubsubName}/${topic}: no route`); continue }
    const bulk = e['bulkSubscribe'] !== null && typeof e['bulkSubscribe'] === 'object' && (e['bulkSubscribe'] as Record<string, unknown>)['enabled'] === true
    subscriptions.push({ pubsubName, topic, metadata: stringMap(e['metadata']), rules, deadLetterTopic: str(e['deadLetterTopic']), bulk })
  }
  return { subscriptions, problems }
}

const BULK_EVENT_TYPE = 'com.dapr.event.sent.bulk'

/** One entry's status in a bulk answer (Dapr: missing or empty means RETRY). */
function bulkEntryResult(status: unknown): DeliveryResult {
  if (status === 'SUCCESS') return { status: 'SUCCESS', reason: 'SUCCESS' }
  if (status === 'DROP') return { status: 'DROP', reason: 'app answered DROP' }
  if (status === undefined || status === '' || status === 'RETRY') return { status: 'RETRY', reason: 'app answered RETRY (or no status) for the entry' }
  return { status: 'RETRY', reason: `unknown status ${JSON.stringify(status)} returned from app` }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : ''
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (v === null || typeof v !== 'object') return out
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') setOwn(out, k, x)
  return out
}

/**
 * The app's HTTP callback server: `GET /dapr/subscribe`, then `POST /<route>` with the
 * CloudEvent (`application/cloudevents+json`). Answers: 2xx with `{"status": ...}` (empty or
 * unparsable body: SUCCESS; unknown status: RETRY), 404 → DROP, anything else → RETRY.
 */
export class HttpAppChannel implements AppChannel {
  private readonly host: string
  private readonly port: number
  private readonly agent = new http.Agent({ keepAlive: true })

  constructor(host: string, port: number) {
    this.host = host
    this.port = port
  }

  async discover(timeoutMs: number): Promise<DiscoveryResult> {
    let res: { status: number; body: Buffer }
    try {
      res = await this.request('GET', '/dapr/subscribe', { 'content-type': 'application/json' }, undefined, timeoutMs)
    } catch (err) {
      return { kind: 'retry', reason: (err as Error).message }
    }
    // Dapr: 404 means "no subscriptions"; other statuses are logged and mean none too.
    if (res.status === 404) return { kind: 'ok', subscriptions: [], problems: [], via: 'http' }
    if (res.status !== 200) return { kind: 'ok', subscriptions: [], problems: [`app returned http status code ${res.status} from /dapr/subscribe`], via: 'http' }
    let body: unknown
    try {
      body = JSON.parse(res.body.toString('utf8'))
    } catch (err) {
      return { kind: 'ok', subscriptions: [], problems: [`cannot parse the subscription list: ${(err as Error).message}`], via: 'http' }
    }
    return { kind: 'ok', ...parseHttpSubscriptions(body), via: 'http' }
  }

  async deliver(sub: AppSubscription, m: PubSubMessage, ev: DeliveredEvent, path: string, timeoutMs: number): Promise<DeliveryResult> {
    if (sub.bulk) return this.deliverBulk(m, ev, path, timeoutMs)
    const headers = { ...metadataHeaders(m), 'content-type': 'application/cloudevents+json' }
    let res: { status: number; body: Buffer }
    try {
      res = await this.request('POST', `/${path.replace(/^\/+/, '')}`, headers, ev.body, timeoutMs)
    } catch (err) {
      return { status: 'RETRY', reason: (err as Error).message }
    }
    if (res.status >= 200 && res.status <= 299) {
      let answer: unknown
      try {
        answer = JSON.parse(res.body.toString('utf8'))
      } catch {
        return { status: 'SUCCESS', reason: 'no status in the answer' }
      }
      const status = answer !== null && typeof answer === 'object' ? (answer as Record<string, unknown>)['status'] : undefined
      if (status === undefined || status === '' || status === 'SUCCESS') return { status: 'SUCCESS', reason: 'SUCCESS' }
      if (status === 'DROP') return { status: 'DROP', reason: 'app answered DROP' }
      if (status === 'RETRY') return { status: 'RETRY', reason: 'app answered RETRY' }
      return { status: 'RETRY', reason: `unknown status ${JSON.stringify(status)} returned from app` }
    }
    const snippet = res.body.subarray(0, 256).toString('utf8')
    if (res.status === 404) return { status: 'DROP', reason: `app answered 404: ${snippet}` }
    return { status: 'RETRY', reason: `app answered ${res.status}: ${snippet}` }
  }

  /**
   * Dapr's bulk subscribe over HTTP, one entry per request: `POST` a JSON envelope (`id`,
   * `type: com.dapr.event.sent.bulk`, `topic`, `pubsubname`, `metadata`, `entries[{entryId, event,
   * contentType, metadata}]`); the app answers `{"statuses": [{entryId, status}]}`, where a
   * missing or empty status means RETRY.
   */
  private async deliverBulk(m: PubSubMessage, ev: DeliveredEvent, path: string, timeoutMs: number): Promise<DeliveryResult> {
    const entryId = m.id
    const envelope = {
      id: randomUUID(),
      type: BULK_EVENT_TYPE,
      topic: m.topic,
      pubsubname: m.pubsubName,
      metadata: { ...m.metadata },
      entries: [{
        entryId,
        event: ev.raw !== undefined ? Buffer.from(ev.raw).toString('base64') : ev.event,
        contentType: ev.raw !== undefined ? 'application/octet-stream' : 'application/cloudevents+json',
        metadata: { ...m.metadata },
      }],
    }
    const headers = { ...metadataHeaders(m), 'content-type': 'application/json' }
    let res: { status: number; body: Buffer }
    try {
      res = await this.request('POST', `/${path.replace(/^\/+/, '')}`, headers, new TextEncoder().encode(JSON.stringify(envelope)), timeoutMs)
    } catch (err) {
      return { status: 'RETRY', reason: (err as Error).message }
    }
    if (res.status >= 200 && res.status <= 299) {
      let answer: unknown
      try {
        answer = JSON.parse(res.body.toString('utf8'))
      } catch (err) {
        return { status: 'RETRY', reason: `cannot parse the bulk answer: ${(err as Error).message}` }
      }
      const statuses = answer !== null && typeof answer === 'object' ? (answer as Record<string, unknown>)['statuses'] : undefined
      const mine = Array.isArray(statuses) ? statuses.find((x: { entryId?: unknown }) => x?.entryId === entryId) as { status?: unknown } | undefined : undefined
      return bulkEntryResult(mine?.status)
    }
    if (res.status === 404) return { status: 'DROP', reason: 'app answered 404 to a bulk delivery' }
    return { status: 'RETRY', reason: `app answered ${res.status} to a bulk delivery` }
  }

  close(): void {
    this.agent.destroy()
  }

  private request(method: string, path: string, headers: Record<string, string>, body: Uint8Array | undefined, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent })
      const timer = startTimer(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)))
      req.on('error', (err) => { timer.disableTimer(); reject(err) })
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => { timer.disableTimer(); resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }) })
        res.on('error', (err) => { timer.disableTimer(); reject(err) })
      })
      req.end(body)
    })
  }
}

type Flavour = 'dapr' | 'layotto'
const SERVICE: Record<Flavour, string> = {
  dapr: 'dapr.proto.runtime.v1.AppCallback',
  layotto: 'spec.proto.runtime.v1.AppCallback',
}

interface Types {
  empty: protobuf.Type
  list: protobuf.Type
  request: protobuf.Type
  response: protobuf.Type
  /** Dapr only. */
  bulkRequest: protobuf.Type | undefined
  bulkResponse: protobuf.Type | undefined
}
const typesCache = new Map<Flavour, Types>()

function types(f: Flavour): Types {
  let t = typesCache.get(f)
  if (t === undefined) {
    const root = loadSchema()
    const pkg = SERVICE[f].slice(0, -'.AppCallback'.length)
    t = {
      empty: root.lookupType('google.protobuf.Empty'),
      list: root.lookupType(`${pkg}.ListTopicSubscriptionsResponse`),
      request: root.lookupType(`${pkg}.TopicEventRequest`),
      response: root.lookupType(`${pkg}.TopicEventResponse`),
      bulkRequest: f === 'dapr' ? root.lookupType(`${pkg}.TopicEventBulkRequest`) : undefined,
      bulkResponse: f === 'dapr' ? root.lookupType(`${pkg}.TopicEventBulkResponse`) : undefined,
    }
    typesCache.set(f, t)
  }
  return t
}

const DECODE_OPTIONS: protobuf.IConversionOptions = { enums: String, longs: String, defaults: true, arrays: true, objects: true }

/**
 * The app's gRPC callback server: Dapr's `dapr.proto.runtime.v1.AppCallback`, or Layotto's
 * `spec.proto.runtime.v1.AppCallback` when the app answers UNIMPLEMENTED to Dapr's
 * ListTopicSubscriptions; events then go to that service's OnTopicEvent. Answers: the
 * response status; UNIMPLEMENTED → DROP; any other error → RETRY.
 */
export class GrpcAppChannel implements AppChannel {
  private readonly client: grpc.Client
  private flavour: Flavour = 'dapr'

  constructor(host: string, port: number) {
    const target = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
    // grpc-js backs reconnects off up to 120s by default; an app that starts late should be
    // found within the discovery back-off instead.
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 5000,
    })
  }

  async discover(timeoutMs: number): Promise<DiscoveryResult> {
    for (const f of ['dapr', 'layotto'] as const) {
      const t = types(f)
      let answer: Record<string, unknown>
      try {
        answer = await this.unary(SERVICE[f], 'ListTopicSubscriptions', t.empty, {}, t.list, new grpc.Metadata(), timeoutMs)
      } catch (err) {
        const code = (err as { code?: number }).code
        if (code === grpc.status.UNIMPLEMENTED) continue
        if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED) {
          return { kind: 'retry', reason: (err as Error).message }
        }
        return { kind: 'ok', subscriptions: [], problems: [`error getting topic list from app: ${(err as Error).message}`], via: f }
      }
      this.flavour = f
      return { kind: 'ok', ...parseGrpcSubscriptions(answer), via: f }
    }
    // Neither service: the app does not subscribe (Dapr logs this at info).
    return { kind: 'ok', subscriptions: [], problems: [], via: 'none' }
  }

  async deliver(sub: AppSubscription, m: PubSubMessage, ev: DeliveredEvent, path: string, timeoutMs: number): Promise<DeliveryResult> {
    const t = types(this.flavour)
    if (sub.bulk && t.bulkRequest !== undefined) return this.deliverBulk(t, m, ev, path, timeoutMs)
    let fields
    try {
      fields = topicEventFields(ev.event)
    } catch (err) {
      return { status: 'DROP', reason: `cannot build the event: ${(err as Error).message}` }
    }
    const request: Record<string, unknown> = {
      id: fields.id,
      source: fields.source,
      type: fields.type,
      spec_version: fields.spec_version,
      data_content_type: fields.data_content_type,
      data: fields.data,
      topic: m.topic,
      pubsub_name: m.pubsubName,
    }
    if (this.flavour === 'dapr') {
      request['path'] = path
      request['extensions'] = toProtoStruct(fields.extensions)
    } else {
      request['metadata'] = { ...m.metadata }
    }
    let answer: Record<string, unknown>
    try {
      answer = await this.unary(SERVICE[this.flavour], 'OnTopicEvent', t.request, request, t.response, grpcMetadata(m), timeoutMs)
    } catch (err) {
      const code = (err as { code?: number }).code
      if (code === grpc.status.UNIMPLEMENTED) return { status: 'DROP', reason: `app does not implement OnTopicEvent: ${(err as Error).message}` }
      return { status: 'RETRY', reason: (err as Error).message }
    }
    const status = answer['status']
    if (status === 'SUCCESS') return { status: 'SUCCESS', reason: 'SUCCESS' }
    if (status === 'DROP') return { status: 'DROP', reason: 'app answered DROP' }
    if (status === 'RETRY') return { status: 'RETRY', reason: 'app answered RETRY' }
    return { status: 'RETRY', reason: `unknown status ${String(status)} returned from app` }
  }

  /**
   * Dapr's bulk subscribe over gRPC, one entry per call: `AppCallback/OnBulkTopicEvent`, or
   * `AppCallbackAlpha/OnBulkTopicEventAlpha1` for apps that only have that (the JS SDK);
   * UNIMPLEMENTED by both → DROP.
   */
  private async deliverBulk(t: Types, m: PubSubMessage, ev: DeliveredEvent, path: string, timeoutMs: number): Promise<DeliveryResult> {
    const entry: Record<string, unknown> = { entry_id: m.id, metadata: { ...m.metadata } }
    if (ev.raw !== undefined) {
      entry['bytes'] = ev.raw
      entry['content_type'] = 'application/octet-stream'
    } else {
      let fields
      try {
        fields = topicEventFields(ev.event)
      } catch (err) {
        return { status: 'DROP', reason: `cannot build the event: ${(err as Error).message}` }
      }
      entry['cloud_event'] = {
        id: fields.id, source: fields.source, type: fields.type, spec_version: fields.spec_version,
        data_content_type: fields.data_content_type, data: fields.data, extensions: toProtoStruct(fields.extensions),
      }
      entry['content_type'] = 'application/cloudevents+json'
    }
    const request = {
      id: randomUUID(), entries: [entry], metadata: { ...m.metadata }, topic: m.topic, pubsub_name: m.pubsubName,
      type: BULK_EVENT_TYPE, path,
    }
    let answer: Record<string, unknown> | undefined
    let lastError: Error | undefined
    for (const [service, method] of [[SERVICE.dapr, 'OnBulkTopicEvent'], ['dapr.proto.runtime.v1.AppCallbackAlpha', 'OnBulkTopicEventAlpha1']] as const) {
      try {
        answer = await this.unary(service, method, t.bulkRequest!, request, t.bulkResponse!, grpcMetadata(m), timeoutMs)
        break
      } catch (err) {
        lastError = err as Error
        if ((err as { code?: number }).code !== grpc.status.UNIMPLEMENTED) return { status: 'RETRY', reason: lastError.message }
      }
    }
    if (answer === undefined) return { status: 'DROP', reason: `app does not implement bulk topic events: ${lastError?.message ?? ''}` }
    const statuses = Array.isArray(answer['statuses']) ? answer['statuses'] as Array<{ entry_id?: string; status?: string }> : []
    const mine = statuses.find((x) => x.entry_id === m.id)
    // gRPC's zero value is SUCCESS, but an entry the app did not answer is retried (Dapr).
    return mine === undefined ? { status: 'RETRY', reason: 'no status for the entry' } : bulkEntryResult(mine.status)
  }

  close(): void {
    this.client.close()
  }

  private unary(service: string, method: string, reqType: protobuf.Type, req: Record<string, unknown>, resType: protobuf.Type,
    md: grpc.Metadata, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `/${service}/${method}`,
        (v: Record<string, unknown>) => Buffer.from(reqType.encode(reqType.fromObject(v)).finish()),
        (b: Buffer) => resType.toObject(resType.decode(b), DECODE_OPTIONS),
        req,
        md,
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          if (err !== null || value === undefined) reject(err ?? new Error('empty answer'))
          else resolve(value)
        },
      )
    })
  }
}

/** ListTopicSubscriptionsResponse (either flavour, keepCase object form) → subscriptions. */
export function parseGrpcSubscriptions(answer: Record<string, unknown>): { subscriptions: AppSubscription[]; problems: string[] } {
  const subscriptions: AppSubscription[] = []
  const problems: string[] = []
  const list = Array.isArray(answer['subscriptions']) ? answer['subscriptions'] as Array<Record<string, unknown>> : []
  for (const s of list) {
    const pubsubName = str(s['pubsub_name'])
    const topic = str(s['topic'])
    if (pubsubName === '' || topic === '') { problems.push('a subscription without pubsub_name or topic'); continue }
    const routes = s['routes'] as { rules?: Array<{ match?: string; path?: string }>; default?: string } | null | undefined
    let rules: RouteRule[]
    try {
      rules = buildRouteRules(routes?.rules ?? [], routes?.default)
    } catch (err) {
      problems.push(`${pubsubName}/${topic}: bad routing rule: ${(err as Error).message}`)
      continue
    }
    // Without rules or default, gRPC still delivers: OnTopicEvent with an empty path.
    if (rules.length === 0) rules.push({ match: undefined, matchText: '', path: '' })
    const bulk = (s['bulk_subscribe'] as { enabled?: boolean } | null | undefined)?.enabled === true
    subscriptions.push({ pubsubName, topic, metadata: stringMap(s['metadata']), rules, deadLetterTopic: str(s['dead_letter_topic']), bulk })
  }
  return { subscriptions, problems }
}
