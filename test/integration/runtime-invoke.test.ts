/**
 * InvokeService through the proxy: Dapr's and Layotto's InvokeService enter an internal listener
 * (no socket) whose HTTP route table sends them to a real upstream, so the route's rewrites,
 * headers, stats and access log apply to invocations like to any request.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { CommunicationProtocolEnum, DaprClient, HttpMethod } from '@dapr/dapr'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import { loadApiProtos, type RuntimeClient, runtimeClient } from './helpers/runtime-grpc.js'
import { listenerPort, statValue } from './helpers/tcp.js'

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

let upstream: http.Server
let envoy: EnvoyProcess
let port = 0
const seen: Seen[] = []

function config(upstreamPort: number): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: runtime
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy_ts.filters.network.runtime_api
        typed_config:
          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi
          stat_prefix: runtime
          app: { app_id: caller }
          rpcs: { default: { listener: egress, timeout: 3s } }
  - name: egress
    internal_listener: {}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: egress
          route_config:
            virtual_hosts:
            - name: apps
              domains: ["*"]
              routes:
              - match: { prefix: "/", headers: [{ name: dapr-app-id, string_match: { exact: orders } }] }
                route: { cluster: orders, prefix_rewrite: "/api/" }
                request_headers_to_add: [{ header: { key: x-via-route, value: orders } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: orders
    connect_timeout: 1s
    load_assignment:
      cluster_name: orders
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } } }] }]
`
}

describe('InvokeService through an internal listener', () => {
  before(async () => {
    upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() })
        if (req.url?.includes('huge') === true) {
          // One byte more than an invocation may buffer.
          res.writeHead(200, { 'content-type': 'application/octet-stream' })
          res.end(Buffer.alloc(4 * 1024 * 1024 + 1, 0x61))
          return
        }
        res.writeHead(req.url?.includes('missing') === true ? 404 : 200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ answered: req.url }))
      })
    })
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
    envoy = await startEnvoy({ config: config((upstream.address() as AddressInfo).port), args: ['--concurrency', '2', '--drain-time-s', '1'] })
    port = await listenerPort(envoy, 'runtime')
  })

  after(async () => {
    await envoy?.stop()
    await new Promise<void>((r) => upstream.close(() => r()))
  })

  it('Dapr InvokeService (the official client, gRPC) reaches the upstream through the route table', async () => {
    const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(port), communicationProtocol: CommunicationProtocolEnum.GRPC })
    const res = await client.invoker.invoke('orders', 'new-order', HttpMethod.POST, { id: 7 }) as { answered: string }
    assert.deepEqual(res, { answered: '/api/new-order' })
    const last = seen.at(-1)!
    assert.equal(last.method, 'POST')
    assert.equal(last.headers['dapr-app-id'], 'orders')
    assert.equal(last.headers['x-via-route'], 'orders')
    assert.deepEqual(JSON.parse(last.body), { id: 7 })
    await client.stop()
  })

  it('Layotto InvokeService carries verb, query string and content type', async () => {
    const root = loadApiProtos(['spec/proto/runtime/v1/runtime.proto'])
    const c: RuntimeClient = runtimeClient(root, 'spec.proto.runtime.v1.Runtime', port)
    const res = await c.unary('InvokeService', {
      id: 'orders',
      message: {
        method: 'status',
        content_type: 'text/plain',
        data: { type_url: '', value: Buffer.from('ping') },
        http_extension: { verb: 'PUT', querystring: 'a=1&b=2' },
      },
    })
    assert.equal(JSON.parse(Buffer.from(res.data.value, 'base64').toString()).answered, '/api/status?a=1&b=2')
    const last = seen.at(-1)!
    assert.equal(last.method, 'PUT')
    assert.equal(last.body, 'ping')
    assert.equal(last.headers['content-type'], 'text/plain')
    c.close()
  })

  it('a response body over 4 MiB is refused with RESOURCE_EXHAUSTED, not buffered', async () => {
    const root = loadApiProtos(['spec/proto/runtime/v1/runtime.proto'])
    const c: RuntimeClient = runtimeClient(root, 'spec.proto.runtime.v1.Runtime', port)
    await assert.rejects(
      c.unary('InvokeService', { id: 'orders', message: { method: 'huge', http_extension: { verb: 'GET' } } }),
      (err: { code?: number; details?: string }) => {
        assert.equal(err.code, 8)
        assert.match(err.details ?? '', /response body is larger than 4194304 bytes/)
        return true
      },
    )
    c.close()
  })

  it('an invocation no route matches gets the route table\'s 404, and the internal listener counts it', async () => {
    const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(port), communicationProtocol: CommunicationProtocolEnum.GRPC })
    await assert.rejects(client.invoker.invoke('billing', 'x', HttpMethod.GET))
    assert.ok(await statValue(envoy, 'http.egress.no_route') >= 1)
    assert.ok(await statValue(envoy, 'cluster.orders.upstream_rq_2xx') >= 2)
    await client.stop()
  })
})
