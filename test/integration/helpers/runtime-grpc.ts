import fs from 'node:fs'
import path from 'node:path'
import * as grpc from '@grpc/grpc-js'
import protobuf from 'protobufjs'
import { ROOT } from './envoy-process.js'

/**
 * gRPC clients for the runtime API built from the wire-contract protos in `api/` with plain
 * protobufjs (objects in and out with proto field names, 64-bit as strings, enums as names),
 * the way a generic client would see the service.
 */
export function loadApiProtos(files: string[]): protobuf.Root {
  const apiRoot = path.join(ROOT, 'api')
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => {
    const local = path.join(apiRoot, target)
    return fs.existsSync(local) ? local : protobuf.util.path.resolve(_origin, target)
  }
  root.loadSync(files.map((f) => path.join(apiRoot, f)), { keepCase: true })
  root.resolveAll()
  return root
}

export type Obj = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RuntimeClient {
  client: grpc.Client
  unary(method: string, req: Obj, metadata?: grpc.Metadata): Promise<Obj>
  /** A bidi or server stream of `method`; server streams are started with `req`. */
  stream(method: string, req?: Obj, metadata?: grpc.Metadata): grpc.ClientDuplexStream<Obj, Obj> & grpc.ClientReadableStream<Obj>
  clientStream(method: string, send: Obj[]): Promise<Obj>
  close(): void
}

export function runtimeClient(root: protobuf.Root, service: string, port: number): RuntimeClient {
  const svc = root.lookupService(service)
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
  const method = (name: string): { path: string; ser: (o: Obj) => Buffer; de: (b: Buffer) => Obj } => {
    const m = svc.methods[name]
    if (m === undefined) throw new Error(`no method ${service}.${name}`)
    m.resolve()
    const req = m.resolvedRequestType!
    const res = m.resolvedResponseType!
    return {
      path: `/${service}/${name}`,
      ser: (o) => Buffer.from(req.encode(req.fromObject(o)).finish()),
      de: (b) => res.toObject(res.decode(b), { longs: String, enums: String, defaults: true, oneofs: true }),
    }
  }
  return {
    client,
    unary: (name, req, metadata = new grpc.Metadata()) => new Promise((resolve, reject) => {
      const m = method(name)
      client.makeUnaryRequest(m.path, m.ser, m.de, req, metadata, (err, res) => (err ? reject(err) : resolve(res!)))
    }),
    stream: (name, req, metadata = new grpc.Metadata()) => {
      const m = method(name)
      const def = svc.methods[name]!
      if (def.requestStream) return client.makeBidiStreamRequest(m.path, m.ser, m.de, metadata) as never
      return client.makeServerStreamRequest(m.path, m.ser, m.de, req ?? {}, metadata) as never
    },
    clientStream: (name, send) => new Promise((resolve, reject) => {
      const m = method(name)
      const call = client.makeClientStreamRequest(m.path, m.ser, m.de, (err, res) => (err ? reject(err) : resolve(res!)))
      for (const s of send) call.write(s)
      call.end()
    }),
    close: () => client.close(),
  }
}

/** Resolves with the next message of a stream (rejects if it ends first). */
export function nextMessage(s: grpc.ClientReadableStream<Obj>, timeoutMs = 5000): Promise<Obj> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(t)
      s.off('data', onData)
      s.off('error', onError)
      s.off('end', onEnd)
    }
    const onData = (m: Obj): void => { cleanup(); resolve(m) }
    const onError = (e: Error): void => { cleanup(); reject(e) }
    const onEnd = (): void => { cleanup(); reject(new Error('stream ended')) }
    const t = setTimeout(() => { cleanup(); reject(new Error('no message in time')) }, timeoutMs)
    s.on('data', onData)
    s.once('error', onError)
    s.once('end', onEnd)
  })
}

/** Rejects with the gRPC error of `p`, checked against `code` and `re`. */
export async function grpcFails(p: Promise<unknown>, code: grpc.status, re: RegExp): Promise<void> {
  try {
    await p
  } catch (err) {
    const e = err as grpc.ServiceError
    if (e.code !== code || !re.test(e.details)) throw new Error(`expected ${grpc.status[code]} ${re}, got ${grpc.status[e.code]} ${e.details}`)
    return
  }
  throw new Error(`expected ${grpc.status[code]} ${re}, but the call succeeded`)
}

/**
 * A bootstrap with the runtime API twice, both with the same components: gRPC (Dapr and
 * Layotto) on the listener `grpc`, Dapr's HTTP API on `dapr_http`, admin and both listeners on
 * loopback port 0. `runtime` is the runtime config's YAML lines (`api_token: x`, `state: {...}`),
 * unindented; `stat_prefix` is set.
 */
export function runtimeApiBootstrap(runtime: readonly string[]): string {
  const at = (indent: string): string => runtime.map((l) => indent + l).join('\n')
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: grpc
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy_ts.filters.network.runtime_api
        typed_config:
          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi
          stat_prefix: grpc
${at('          ')}
  - name: dapr_http
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: dapr_http
          route_config: { virtual_hosts: [] }
          http_filters:
          - name: envoy_ts.filters.http.dapr_api
            typed_config:
              "@type": type.googleapis.com/envoy_ts.extensions.filters.http.dapr_api.v1.DaprApi
              runtime:
                stat_prefix: dapr_http
${at('                ')}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`
}
