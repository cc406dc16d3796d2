/**
 * The runtime API fuzz target: client-supplied names (component names, keys, topics, metadata
 * keys and values) through Dapr's gRPC API, Layotto's gRPC API and Dapr's HTTP API of the real
 * binary. Names are every `Object.prototype` member first (cases 0..n-1 of every seed try each of
 * them through each API and operation, starting with the secret key `constructor` over HTTP),
 * then random mixes of prototype names, control characters and odd Unicode.
 *
 * Checks per case: the process is alive; a gRPC answer is a result or a status with a known code
 * (not UNAVAILABLE, not a deadline) whose message carries no internal error text; an HTTP answer
 * is a well-formed HTTP/1.1 response without internal error text. Every 50 cases: no fatal log
 * line, no worker restart, RSS bounded.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import * as grpc from '@grpc/grpc-js'
import type protobuf from 'protobufjs'
import { tempDir } from '../integration/helpers/envoy-process.js'
import { loadApiProtos } from '../integration/helpers/runtime-grpc.js'
import { parseResponses } from './lib/http1-response.js'
import { internalErrorLine, oddName, PROTOTYPE_NAMES } from './lib/mutate.js'
import type { Prng } from './lib/prng.js'
import { FuzzProxy } from './lib/proxy.js'
import type { FuzzHarness, FuzzTarget } from './lib/runner.js'

const APIS = ['dapr-http', 'dapr-grpc', 'layotto-grpc'] as const
const OPS = ['secret', 'file-secret', 'secret-store', 'bulk-secret', 'get-state', 'save-state', 'delete-state', 'bulk-state', 'state-store', 'publish', 'lock', 'config', 'metadata', 'next-id', 'binding'] as const
type Api = typeof APIS[number]
type Op = typeof OPS[number]

export interface RuntimeInput {
  api: Api
  op: Op
  /** Component name (store, pub/sub, binding). */
  store: string
  /** Key, topic, resource id or metadata key. */
  key: string
  value: string
  /** Request metadata pairs (gRPC map fields, HTTP `metadata.<k>` query parameters). */
  meta: Array<[string, string]>
}

const CALL_DEADLINE_MS = 5000
const STORE_FOR: Record<Op, string> = {
  'secret': 'secretstore', 'file-secret': 'filestore', 'secret-store': 'secretstore', 'bulk-secret': 'secretstore', 'get-state': 'statestore', 'save-state': 'statestore',
  'delete-state': 'statestore', 'bulk-state': 'statestore', 'state-store': 'statestore', 'publish': 'pubsub', 'lock': 'lockstore',
  'config': 'configstore', 'metadata': '', 'next-id': 'sequencer', 'binding': 'nobinding',
}

/**
 * Cases 0..n-1: each `Object.prototype` member name as a key and as a component name, through
 * each API and operation (the secret key `constructor` over Dapr's HTTP API first).
 */
function directed(): RuntimeInput[] {
  const names = Object.getOwnPropertyNames(Object.prototype)
  names.sort((a, b) => (a === 'constructor' ? -1 : b === 'constructor' ? 1 : 0))
  const out: RuntimeInput[] = []
  for (const name of names) {
    for (const api of APIS) {
      for (const op of ['secret', 'file-secret', 'secret-store', 'get-state', 'save-state', 'state-store', 'publish', 'metadata', 'lock', 'next-id', 'config'] as const) {
        const byStore = op === 'secret-store' || op === 'state-store'
        out.push({ api, op, store: byStore ? name : STORE_FOR[op], key: name, value: 'v', meta: [[name, name]] })
      }
    }
  }
  return out
}
const DIRECTED = directed()

function generate(rng: Prng, index: number): RuntimeInput {
  if (index < DIRECTED.length) return DIRECTED[index]!
  const op = rng.pick(OPS)
  const name = (): string => (rng.chance(0.6) ? oddName(rng) : rng.pick(PROTOTYPE_NAMES))
  return {
    api: rng.pick(APIS),
    op,
    store: rng.chance(0.6) ? (op.includes('secret') && rng.chance(0.5) ? 'filestore' : STORE_FOR[op]) : name(),
    key: name(),
    value: rng.chance(0.8) ? rng.string(rng.range(0, 32)) : oddName(rng),
    meta: Array.from({ length: rng.weighted([[3, 0], [2, 1], [1, 3]]) }, () => [name(), rng.chance(0.5) ? name() : 'v'] as [string, string]),
  }
}

function bootstrap(secretsFile: string): string {
  const components = (indent: string): string => `
${indent}state: { statestore: { type: in-memory } }
${indent}pub_subs: { pubsub: { type: in-memory } }
${indent}lock: { lockstore: { type: in-memory } }
${indent}sequencer: { sequencer: { type: in-memory } }
${indent}config_store: { configstore: { type: in-memory, metadata: { items: { feature: "on" } } } }
${indent}secret_store:
${indent}  secretstore: { type: local.env }
${indent}  filestore: { type: local.file, metadata: { secretsFile: ${JSON.stringify(secretsFile)}, multiValued: true } }`
  const grpcListener = (name: string, api: string): string => `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy_ts.filters.network.runtime_api
        typed_config:
          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi
          stat_prefix: ${name}
          apis: [${api}]
          app: { app_id: fuzz-app, app_port: 0 }${components('          ')}`
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${grpcListener('dapr_grpc', 'DAPR')}${grpcListener('layotto_grpc', 'LAYOTTO')}
  - name: dapr_http
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: dapr_http
          route_config: { name: dapr_http, virtual_hosts: [] }
          http_filters:
          - name: envoy_ts.filters.http.dapr_api
            typed_config:
              "@type": type.googleapis.com/envoy_ts.extensions.filters.http.dapr_api.v1.DaprApi
              runtime:
                stat_prefix: dapr_http
                app: { app_id: fuzz-app, app_port: 0 }${components('                ')}
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`
}

/** Percent-encodes a path segment from its UTF-8 bytes (lone surrogates become U+FFFD). */
function segment(s: string): string {
  let out = ''
  for (const b of Buffer.from(s, 'utf8')) out += /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  return out
}

function httpRequest(input: RuntimeInput): { method: string; path: string; body?: string } {
  const st = segment(input.store)
  const k = segment(input.key)
  const q = input.meta.map(([mk, mv]) => `metadata.${segment(mk)}=${segment(mv)}`).join('&')
  const qs = (extra = ''): string => { const all = [extra, q].filter((x) => x !== '').join('&'); return all === '' ? '' : `?${all}` }
  switch (input.op) {
    case 'secret': case 'file-secret': case 'secret-store': return { method: 'GET', path: `/v1.0/secrets/${st}/${k}${qs()}` }
    case 'bulk-secret': return { method: 'GET', path: `/v1.0/secrets/${st}/bulk${qs()}` }
    case 'get-state': case 'state-store': return { method: 'GET', path: `/v1.0/state/${st}/${k}${qs()}` }
    case 'save-state': return { method: 'POST', path: `/v1.0/state/${st}${qs()}`, body: JSON.stringify([{ key: input.key, value: input.value, metadata: Object.fromEntries(input.meta) }]) }
    case 'delete-state': return { method: 'DELETE', path: `/v1.0/state/${st}/${k}${qs()}` }
    case 'bulk-state': return { method: 'POST', path: `/v1.0/state/${st}/bulk${qs()}`, body: JSON.stringify({ keys: [input.key, input.value], metadata: Object.fromEntries(input.meta) }) }
    case 'publish': return { method: 'POST', path: `/v1.0/publish/${st}/${k}${qs()}`, body: JSON.stringify({ v: input.value }) }
    case 'lock': return { method: 'POST', path: `/v1.0-alpha1/lock/${st}`, body: JSON.stringify({ resourceId: input.key, lockOwner: input.value, expiryInSeconds: 1 }) }
    case 'config': return { method: 'GET', path: `/v1.0/configuration/${st}${qs(`key=${k}`)}` }
    case 'metadata': return { method: 'PUT', path: `/v1.0/metadata/${k}`, body: input.value }
    case 'next-id': return { method: 'GET', path: `/v1.0/state/${st}/${k}` }
    default: return { method: 'POST', path: `/v1.0/bindings/${st}`, body: JSON.stringify({ operation: input.key, data: input.value, metadata: Object.fromEntries(input.meta) }) }
  }
}

function httpExchange(port: number, input: RuntimeInput): Promise<{ data: Buffer; error?: string; timedOut: boolean }> {
  const r = httpRequest(input)
  const body = r.body !== undefined ? Buffer.from(r.body) : undefined
  const head = `${r.method} ${r.path} HTTP/1.1\r\nhost: dapr\r\nconnection: close\r\n${body !== undefined ? `content-type: application/json\r\ncontent-length: ${body.length}\r\n` : ''}\r\n`
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    let error: string | undefined
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; s.destroy() }, CALL_DEADLINE_MS)
    s.on('connect', () => s.write(body !== undefined ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1')))
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message })
    s.on('close', () => {
      clearTimeout(timer)
      resolve({ data: Buffer.concat(chunks), timedOut, ...(error !== undefined ? { error } : {}) })
    })
  })
}

/** The request message of `op` in Dapr's or Layotto's shape (proto field names). */
function grpcCall(api: Api, input: RuntimeInput): { method: string; req: Record<string, unknown> } {
  const metadata = Object.fromEntries(input.meta)
  const value = Buffer.from(input.value)
  const dapr = api === 'dapr-grpc'
  switch (input.op) {
    case 'secret': case 'file-secret': case 'secret-store': return { method: 'GetSecret', req: { store_name: input.store, key: input.key, metadata } }
    case 'bulk-secret': return { method: 'GetBulkSecret', req: { store_name: input.store, metadata } }
    case 'get-state': case 'state-store': return { method: 'GetState', req: { store_name: input.store, key: input.key, metadata } }
    case 'save-state': return { method: 'SaveState', req: { store_name: input.store, states: [{ key: input.key, value, metadata }] } }
    case 'delete-state': return { method: 'DeleteState', req: { store_name: input.store, key: input.key, metadata } }
    case 'bulk-state': return { method: 'GetBulkState', req: { store_name: input.store, keys: [input.key, input.value], metadata } }
    case 'publish': return { method: 'PublishEvent', req: { pubsub_name: input.store, topic: input.key, data: value, data_content_type: 'text/plain', metadata } }
    case 'lock': return dapr
      ? { method: 'TryLockAlpha1', req: { store_name: input.store, resource_id: input.key, lock_owner: input.value, expiry_in_seconds: 1 } }
      : { method: 'TryLock', req: { store_name: input.store, resource_id: input.key, lock_owner: input.value, expire: 1 } }
    case 'config': return dapr
      ? { method: 'GetConfiguration', req: { store_name: input.store, keys: [input.key], metadata } }
      : { method: 'GetConfiguration', req: { store_name: input.store, app_id: input.value, keys: [input.key], metadata } }
    case 'metadata': return dapr
      ? { method: 'SetMetadata', req: { key: input.key, value: input.value } }
      : { method: 'GetState', req: { store_name: input.key, key: input.value, metadata } }
    case 'next-id': return dapr
      ? { method: 'GetBulkSecret', req: { store_name: input.key, metadata } }
      : { method: 'GetNextId', req: { store_name: input.store, key: input.key, metadata } }
    default: return dapr
      ? { method: 'InvokeBinding', req: { name: input.store, data: value, metadata, operation: input.key } }
      : { method: 'GetSecret', req: { store_name: input.key, key: input.store, metadata } }
  }
}

class GrpcCaller {
  private readonly client: grpc.Client
  private readonly svc: protobuf.Service
  private readonly service: string

  constructor(root: protobuf.Root, service: string, port: number) {
    this.service = service
    this.svc = root.lookupService(service)
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
  }

  /**
   * One unary call. The request is encoded with `Type.encode` on the plain object (not
   * `fromObject`, which would turn a `__proto__` map key into a prototype).
   */
  call(method: string, req: Record<string, unknown>): Promise<grpc.ServiceError | undefined> {
    const m = this.svc.methods[method]
    if (m === undefined) throw new Error(`no method ${this.service}.${method}`)
    m.resolve()
    const reqType = m.resolvedRequestType!
    const resType = m.resolvedResponseType!
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(`/${this.service}/${method}`, (o: Record<string, unknown>) => Buffer.from(reqType.encode(o).finish()), (b: Buffer) => resType.decode(b),
        req, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (err) => resolve(err ?? undefined))
    })
  }

  close(): void {
    this.client.close()
  }
}

const DAPR_ROOT = (): protobuf.Root => loadApiProtos(['dapr/proto/runtime/v1/dapr.proto'])
const LAYOTTO_ROOT = (): protobuf.Root => loadApiProtos(['spec/proto/runtime/v1/runtime.proto'])

async function start(): Promise<FuzzHarness<RuntimeInput>> {
  const dir = tempDir('envoy-ts-fuzz-runtime-')
  const secrets = path.join(dir, 'secrets.json')
  fs.writeFileSync(secrets, JSON.stringify({ db: { user: 'admin', password: 'pw' }, token: 't0k' }))
  const proxy = await FuzzProxy.start({ config: bootstrap(secrets), env: { FUZZ_SECRET: 'a' } })
  const httpPort = await proxy.port('dapr_http')
  const dapr = new GrpcCaller(DAPR_ROOT(), 'dapr.proto.runtime.v1.Dapr', await proxy.port('dapr_grpc'))
  const layotto = new GrpcCaller(LAYOTTO_ROOT(), 'spec.proto.runtime.v1.Runtime', await proxy.port('layotto_grpc'))
  return {
    async run(input) {
      if (input.api === 'dapr-http') {
        const r = await httpExchange(httpPort, input)
        if (!proxy.alive() || ((r.error !== undefined || r.data.length === 0) && await proxy.exitedWithin(1000))) return proxy.deathNote()
        if (r.timedOut) return `no HTTP answer within ${CALL_DEADLINE_MS} ms`
        const parsed = parseResponses(r.data, new Set())
        if (parsed.error !== undefined) return `malformed HTTP answer${r.error !== undefined ? ` (connection ${r.error})` : ''}: ${parsed.error}`
        if (parsed.responses.length === 0) return `no HTTP answer (connection ${r.error ?? 'closed'})`
        const internal = internalErrorLine(r.data.toString('utf8'))
        if (internal !== undefined) return `internal error text in the HTTP answer (${parsed.responses[0]!.status}): ${internal}`
        return undefined
      }
      const { method, req } = grpcCall(input.api, input)
      let err: grpc.ServiceError | undefined
      try {
        err = await (input.api === 'dapr-grpc' ? dapr : layotto).call(method, req)
      } catch (e) {
        // The client could not encode the request (e.g. a lone surrogate is fine, but a bad type is not).
        return `the client could not build the request: ${(e as Error).message}`
      }
      if (!proxy.alive() || (err?.code === grpc.status.UNAVAILABLE && await proxy.exitedWithin(1000))) return proxy.deathNote()
      if (err === undefined) return undefined
      if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) return `${method}: ${grpc.status[err.code]}: ${err.details}`
      if (!(err.code > 0 && err.code <= 16)) return `${method}: not a gRPC status code: ${err.code} ${err.details}`
      const internal = internalErrorLine(err.details ?? '')
      if (internal !== undefined) return `${method}: internal error text in the status (${grpc.status[err.code]}): ${internal}`
      return undefined
    },
    check: () => proxy.check(),
    broken: () => !proxy.alive(),
    peakRssBytes: () => proxy.peakRssBytes(),
    async stop() {
      dapr.close()
      layotto.close()
      await proxy.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

export const runtimeApiTarget: FuzzTarget<RuntimeInput> = {
  name: 'runtime-api',
  about: 'odd names and keys (every Object.prototype member first) through Dapr gRPC, Layotto gRPC and Dapr HTTP',
  generate,
  start,
}
