// The `direct` rows of the runtime scenarios: the same calls answered by the plainest Node
// servers there are, from a Map, with no proxy and no runtime. They are the floor of what serving
// the API costs in Node, so envoy-ts's rows show what its filter, connection injection and
// RuntimeHost add on top.
//   dapr-grpc  @grpc/grpc-js Server with the Dapr service (protos from api/, loaded as envoy-ts
//              loads them), SaveState and GetState only (UNIMPLEMENTED for the rest)
//   dapr-http  node:http, POST /v1.0/state/<store> and GET /v1.0/state/<store>/<key>
import http from 'node:http'
import type net from 'node:net'
import * as grpc from '@grpc/grpc-js'
import { serviceDefinition } from '../../source/common/runtime-api/grpc/codec.js'

const DAPR_SERVICE = 'dapr.proto.runtime.v1.Dapr'

interface SaveStateRequest { store_name: string; states: Array<{ key: string; value: Buffer }> }
interface GetStateRequest { store_name: string; key: string }

export async function startDaprGrpcBaseline(host: string): Promise<{ port: number; close(): void }> {
  const store = new Map<string, Buffer>()
  const { definition } = serviceDefinition(DAPR_SERVICE)
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 })
  server.addService(definition, {
    SaveState(call: grpc.ServerUnaryCall<SaveStateRequest, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const r = call.request
      // The request's bytes are views into the received frame: copy what is kept.
      for (const s of r.states) store.set(`${r.store_name}||${s.key}`, Buffer.from(s.value))
      cb(null, {})
    },
    GetState(call: grpc.ServerUnaryCall<GetStateRequest, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const r = call.request
      cb(null, { data: store.get(`${r.store_name}||${r.key}`) ?? Buffer.alloc(0), etag: '', metadata: {} })
    },
  })
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err !== null ? reject(err) : resolve(p)))
  })
  return { port, close: () => server.forceShutdown() }
}

export async function startDaprHttpBaseline(host: string): Promise<{ port: number; server: http.Server }> {
  const store = new Map<string, string>()
  const prefix = '/v1.0/state/'
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    if (!url.startsWith(prefix)) {
      res.writeHead(404).end()
      return
    }
    const rest = url.slice(prefix.length)
    const slash = rest.indexOf('/')
    if (req.method === 'GET' && slash > 0) {
      req.resume()
      const v = store.get(`${rest.slice(0, slash)}||${decodeURIComponent(rest.slice(slash + 1))}`)
      if (v === undefined) res.writeHead(204).end()
      else res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(v) }).end(v)
      return
    }
    if (req.method === 'POST' && slash < 0) {
      const parts: Buffer[] = []
      req.on('data', (c: Buffer) => parts.push(c))
      req.on('end', () => {
        try {
          const items = JSON.parse(Buffer.concat(parts).toString('utf8')) as Array<{ key: string; value: unknown }>
          for (const it of items) store.set(`${rest}||${it.key}`, JSON.stringify(it.value))
          res.writeHead(204).end()
        } catch {
          res.writeHead(400).end()
        }
      })
      return
    }
    req.resume()
    res.writeHead(405).end()
  })
  keepIdleConnections(server)
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  return { port: (server.address() as net.AddressInfo).port, server }
}

/** Node's defaults close idle keep-alive connections after 5 s; the bench holds them longer. */
export function keepIdleConnections(server: http.Server): void {
  server.keepAliveTimeout = 300_000
  server.headersTimeout = 310_000
  server.requestTimeout = 0
}
