/**
 * Real application callback servers for the delivery tests: an HTTP app (node:http) speaking
 * Dapr's /dapr/subscribe + POST protocol, and a gRPC app (@grpc/grpc-js) serving Dapr's or
 * Layotto's AppCallback from envoy-ts's own api/ protos. Each records what it received and
 * answers what the test scripts.
 */
import http from 'node:http'
import net from 'node:net'
import * as grpc from '@grpc/grpc-js'
import type protobuf from 'protobufjs'
import pino from 'pino'
import { loadSchema } from '../../../../source/common/protobuf/schema.js'
import { ThreadLocalStoreImpl } from '../../../../source/common/stats/thread-local-store.js'
import { MAIN_SHARD, StatMemory } from '../../../../source/common/stats/stat-memory.js'
import type { RuntimeApi } from '../../../../source/common/protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { ComponentKind, ComponentTypes, PubSub } from '../../../../source/envoy/runtime-api/components.js'
import type { RuntimeComponents } from '../../../../source/envoy/runtime-api/runtime-host.js'
import { InMemoryPubSub } from '../../../../source/extensions/runtime/pubsub/in-memory/in-memory.js'

export const silentLog = pino({ level: 'silent' })

export async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export function newStore(): ThreadLocalStoreImpl {
  return new ThreadLocalStoreImpl(StatMemory.create(256, 4), MAIN_SHARD)
}

export function runtimeConfig(app: Partial<NonNullable<RuntimeApi['app']>>): RuntimeApi {
  return {
    stat_prefix: 'rt', apis: [], state: {}, pub_subs: { pubsub: { type: 'in-memory' } }, lock: {}, sequencer: {},
    config_store: {}, secret_store: {}, file: {}, bindings: {}, rpcs: {}, api_token: '',
    app: { app_id: 'orders-app', app_host: '127.0.0.1', app_port: 0, app_protocol: 'HTTP', ...app },
  }
}

/** RuntimeComponents holding in-memory pub/subs by name. */
export function fakeComponents(config: RuntimeApi, pubsubs: Record<string, PubSub>): RuntimeComponents {
  return {
    config,
    get<K extends ComponentKind>(kind: K, name: string): ComponentTypes[K] | undefined {
      return kind === 'pubsub' ? pubsubs[name] as ComponentTypes[K] | undefined : undefined
    },
    list: () => Object.keys(pubsubs).map((name) => ({ kind: 'pubsub' as const, name, type: 'in-memory' })),
  }
}

export function newPubSub(name = 'pubsub'): InMemoryPubSub {
  return new InMemoryPubSub(name, { maxQueueLength: 1000, maxAttempts: 10, retryIntervalMs: 10 }, silentLog)
}

const enc = new TextEncoder()

/** A CloudEvent as the publish handler builds it. */
export function cloudEvent(data: unknown, extra: Record<string, unknown> = {}): Uint8Array {
  return enc.encode(JSON.stringify({
    id: extra['id'] ?? `ev-${Math.random().toString(36).slice(2)}`,
    source: 'publisher-app',
    type: 'com.dapr.event.sent',
    specversion: '1.0',
    datacontenttype: 'application/json',
    data,
    topic: 'orders',
    pubsubname: 'pubsub',
    traceid: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    ...extra,
  }))
}

export interface HttpDelivery { path: string; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }

/** Dapr-protocol HTTP app. `answer` decides each delivery's response. */
export class HttpApp {
  readonly deliveries: HttpDelivery[] = []
  subscribeCalls = 0
  subscriptions: unknown = []
  subscribeStatus = 200
  answer: (d: HttpDelivery, n: number) => { status: number; body?: string; delayMs?: number } = () => ({ status: 200, body: '{"status":"SUCCESS"}' })
  private server: http.Server | undefined

  async listen(port = 0): Promise<number> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/dapr/subscribe') {
          this.subscribeCalls++
          res.writeHead(this.subscribeStatus, { 'content-type': 'application/json' })
          res.end(JSON.stringify(this.subscriptions))
          return
        }
        const d: HttpDelivery = { path: req.url!, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') as Record<string, unknown> }
        this.deliveries.push(d)
        const a = this.answer(d, this.deliveries.length)
        const send = (): void => {
          if (res.destroyed) return
          res.writeHead(a.status, { 'content-type': 'application/json' })
          res.end(a.body ?? '')
        }
        if (a.delayMs !== undefined) setTimeout(send, a.delayMs)
        else send()
      })
    })
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r))
    return (this.server.address() as net.AddressInfo).port
  }

  async close(): Promise<void> {
    if (this.server === undefined) return
    this.server.closeAllConnections()
    await new Promise<void>((r) => this.server!.close(() => r()))
  }
}

export interface GrpcDelivery { request: Record<string, unknown>; metadata: Record<string, unknown> }

/** gRPC app serving Dapr's (or Layotto's) AppCallback. */
export class GrpcApp {
  readonly deliveries: GrpcDelivery[] = []
  listCalls = 0
  subscriptions: Array<Record<string, unknown>> = []
  /** Status name, or a gRPC error code to fail with, or a delay. */
  answer: (d: GrpcDelivery, n: number) => { status?: 'SUCCESS' | 'RETRY' | 'DROP'; code?: number; delayMs?: number } = () => ({ status: 'SUCCESS' })
  readonly flavour: 'dapr' | 'layotto'
  /** Leave OnTopicEvent out of the service (UNIMPLEMENTED). */
  readonly withoutOnTopicEvent: boolean
  /** Where bulk events are served: AppCallback (v1), AppCallbackAlpha (like the JS SDK), or nowhere. */
  readonly bulk: 'v1' | 'alpha' | 'none'
  readonly bulkDeliveries: GrpcDelivery[] = []
  bulkAnswer: (d: GrpcDelivery) => Record<string, unknown> = (d) => ({
    statuses: (d.request['entries'] as Array<{ entry_id: string }>).map((e) => ({ entry_id: e.entry_id, status: 'SUCCESS' })),
  })
  private server: grpc.Server | undefined
  private bulkHandler: ((call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => void) | undefined

  constructor(flavour: 'dapr' | 'layotto' = 'dapr', opts: { withoutOnTopicEvent?: boolean; bulk?: 'v1' | 'alpha' | 'none' } = {}) {
    this.flavour = flavour
    this.withoutOnTopicEvent = opts.withoutOnTopicEvent ?? false
    this.bulk = opts.bulk ?? 'none'
  }

  async listen(port = 0): Promise<number> {
    const root = loadSchema()
    const pkg = this.flavour === 'dapr' ? 'dapr.proto.runtime.v1' : 'spec.proto.runtime.v1'
    const T = (n: string): protobuf.Type => root.lookupType(n)
    const empty = T('google.protobuf.Empty')
    const list = T(`${pkg}.ListTopicSubscriptionsResponse`)
    const req = T(`${pkg}.TopicEventRequest`)
    const res = T(`${pkg}.TopicEventResponse`)
    const ser = (t: protobuf.Type) => (v: Record<string, unknown>): Buffer => Buffer.from(t.encode(t.fromObject(v)).finish())
    const de = (t: protobuf.Type) => (b: Buffer): Record<string, unknown> => t.toObject(t.decode(b), { enums: String, defaults: true, bytes: Buffer as unknown as StringConstructor }) as Record<string, unknown>
    const service: Record<string, grpc.MethodDefinition<Record<string, unknown>, Record<string, unknown>>> = {
      ListTopicSubscriptions: {
        path: `/${pkg}.AppCallback/ListTopicSubscriptions`, requestStream: false, responseStream: false,
        requestSerialize: ser(empty), requestDeserialize: de(empty), responseSerialize: ser(list), responseDeserialize: de(list),
      },
    }
    if (!this.withoutOnTopicEvent) {
      service['OnTopicEvent'] = {
        path: `/${pkg}.AppCallback/OnTopicEvent`, requestStream: false, responseStream: false,
        requestSerialize: ser(req), requestDeserialize: de(req), responseSerialize: ser(res), responseDeserialize: de(res),
      }
    }
    this.server = new grpc.Server()
    if (this.bulk !== 'none') {
      const breq = T(`${pkg}.TopicEventBulkRequest`)
      const bres = T(`${pkg}.TopicEventBulkResponse`)
      const name = this.bulk === 'v1' ? 'OnBulkTopicEvent' : 'OnBulkTopicEventAlpha1'
      const svc = this.bulk === 'v1' ? 'AppCallback' : 'AppCallbackAlpha'
      const def = {
        path: `/${pkg}.${svc}/${name}`, requestStream: false, responseStream: false,
        requestSerialize: ser(breq), requestDeserialize: de(breq), responseSerialize: ser(bres), responseDeserialize: de(bres),
      }
      const handler = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>): void => {
        const d: GrpcDelivery = { request: call.request, metadata: call.metadata.getMap() }
        this.bulkDeliveries.push(d)
        cb(null, this.bulkAnswer(d))
      }
      if (this.bulk === 'v1') {
        service[name] = def
      } else {
        this.server.addService({ [name]: def } as grpc.ServiceDefinition, { [name]: handler })
      }
      this.bulkHandler = handler
    }
    this.server.addService(service as grpc.ServiceDefinition, {
      OnBulkTopicEvent: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => this.bulkHandler?.(call, cb),
      ListTopicSubscriptions: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.listCalls++
        cb(null, { subscriptions: this.subscriptions })
      },
      OnTopicEvent: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const d: GrpcDelivery = { request: call.request, metadata: call.metadata.getMap() }
        this.deliveries.push(d)
        const a = this.answer(d, this.deliveries.length)
        const send = (): void => {
          if (a.code !== undefined) cb({ code: a.code, details: 'scripted failure' })
          else cb(null, { status: a.status ?? 'SUCCESS' })
        }
        if (a.delayMs !== undefined) setTimeout(send, a.delayMs)
        else send()
      },
    })
    return new Promise((resolve, reject) => {
      this.server!.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => err !== null ? reject(err) : resolve(p))
    })
  }

  close(): void {
    this.server?.forceShutdown()
  }
}
