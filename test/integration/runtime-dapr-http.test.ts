/**
 * Dapr's HTTP API end to end through the real binary (--concurrency 4): the official
 * @dapr/dapr DaprClient in HTTP mode against the dapr_api HTTP filter, a DaprServer (HTTP) app
 * receiving pub/sub deliveries and configuration updates, service invocation reaching a real
 * upstream through an internal listener's route table, and raw requests for Dapr's status codes
 * and error bodies.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import {
  CommunicationProtocolEnum, DaprClient, DaprPubSubStatusEnum, DaprServer, HttpMethod, LogLevel, StateConcurrencyEnum,
} from '@dapr/dapr'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import { request, type SimpleResponse } from './helpers/http-client.js'
import { type Action, type HttpUpstream, startHttpUpstream } from './helpers/http-upstream.js'
import { loadApiProtos, type RuntimeClient, runtimeClient } from './helpers/runtime-grpc.js'
import { listenerPort, statsMap, statValue } from './helpers/tcp.js'

const APP_ID = 'http-app'
const TOKEN = 's3cret'
const quiet = { level: LogLevel.Error }

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    // Deliveries happen in another process: there is nothing to await but the outcome.
    await new Promise((r) => setTimeout(r, 25))
  }
}

function bootstrap(o: { appPort: number; upstreamPort: number }): string {
  const runtime = (statPrefix: string, token: string): string => `
              runtime:
                stat_prefix: ${statPrefix}
                api_token: "${token}"
                app: { app_id: ${APP_ID}, app_host: 127.0.0.1, app_port: ${o.appPort}, app_protocol: HTTP, delivery_backoff: 0.1s }
                rpcs: { default: { listener: egress, timeout: 5s } }
                state: { statestore: { type: in-memory } }
                pub_subs: { pubsub: { type: in-memory } }
                lock: { lockstore: { type: in-memory } }
                config_store: { configstore: { type: in-memory, metadata: { items: { feature: "on", color: blue } } } }
                secret_store: { envstore: { type: local.env, metadata: { prefix: DAPR_HTTP_TEST_ } } }`
  const daprListener = (name: string, token: string): string => `
  - name: ${name}
    stat_prefix: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    per_connection_buffer_limit_bytes: 262144
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          route_config: { name: ${name}, virtual_hosts: [] }
          http_filters:
          - name: envoy_ts.filters.http.dapr_api
            typed_config:
              "@type": type.googleapis.com/envoy_ts.extensions.filters.http.dapr_api.v1.DaprApi${runtime(name, token)}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${daprListener('dapr_http', '')}${daprListener('dapr_http_token', TOKEN)}
  # Service invocation enters here: its route table decides where an app id goes.
  - name: egress
    internal_listener: {}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: egress
          route_config:
            name: egress
            virtual_hosts:
            - name: orders
              domains: ["orders-svc"]
              routes: [{ match: { prefix: "/" }, route: { cluster: orders } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  # Layotto's API, to change configuration items (Dapr's API only reads them).
  - name: layotto
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy_ts.filters.network.runtime_api
        typed_config:
          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi
          stat_prefix: layotto
          apis: [LAYOTTO]
          config_store: { configstore: { type: in-memory, metadata: { items: { feature: "on", color: blue } } } }
  clusters:
  - name: orders
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: orders
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${o.upstreamPort} } } } }] }]
`
}

function httpClient(port: number, token?: string): DaprClient {
  return new DaprClient({
    daprHost: '127.0.0.1',
    daprPort: String(port),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger: quiet,
    ...(token !== undefined ? { daprApiToken: token } : {}),
  })
}

/** The SDK's HTTP errors carry `{ error, error_msg, status }` as their message. */
function sdkStatus(err: unknown): { status: number; body: { errorCode?: string; message?: string } } {
  const e = JSON.parse((err as Error).message) as { status: number; error_msg: string }
  return { status: e.status, body: e.error_msg === '' ? {} : JSON.parse(e.error_msg) as { errorCode?: string; message?: string } }
}

function jsonOf(r: SimpleResponse): Record<string, unknown> {
  assert.equal(r.headers['content-type'], 'application/json', `JSON answer expected: ${r.status} ${r.body}`)
  return JSON.parse(r.body) as Record<string, unknown>
}

describe('Dapr HTTP API with the official @dapr/dapr client (HTTP mode), --concurrency 4', () => {
  let envoy: EnvoyProcess
  let port: number
  let tokenPort: number
  let base: string
  let upstream: HttpUpstream
  let server: DaprServer
  let layotto: RuntimeClient
  const clients: DaprClient[] = []
  const received: unknown[] = []
  const configUpdates: Array<{ store: string; key: string; body: { id: string; items: Record<string, { value?: string; version?: string }> } }> = []

  before(async () => {
    upstream = await startHttpUpstream({
      name: 'orders',
      behavior: (_n, req): Action => (req.url?.startsWith('/teapot') === true
        ? { kind: 'status', status: 418, body: 'short and stout', headers: { 'content-type': 'text/plain', 'x-teapot': 'yes' } }
        : { kind: 'echo', headers: { 'x-upstream': 'orders' } }),
    })
    const appPort = await freePort()
    envoy = await startEnvoy({
      config: bootstrap({ appPort, upstreamPort: upstream.port }),
      args: ['--concurrency', '4', '--drain-time-s', '1'],
      env: { DAPR_HTTP_TEST_DB: 'pw', DAPR_HTTP_TEST_TOKEN: 't0k' },
    })
    port = await listenerPort(envoy, 'dapr_http')
    tokenPort = await listenerPort(envoy, 'dapr_http_token')
    base = `http://127.0.0.1:${port}`
    layotto = runtimeClient(loadApiProtos(['spec/proto/runtime/v1/runtime.proto']), 'spec.proto.runtime.v1.Runtime', await listenerPort(envoy, 'layotto'))

    // The app: a DaprServer in HTTP mode whose own client talks to the HTTP API under test.
    server = new DaprServer({
      serverHost: '127.0.0.1',
      serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      clientOptions: { daprHost: '127.0.0.1', daprPort: String(port), communicationProtocol: CommunicationProtocolEnum.HTTP, logger: quiet },
      logger: quiet,
    })
    await server.pubsub.subscribe('pubsub', 'orders', async (data: unknown) => {
      received.push(data)
      return DaprPubSubStatusEnum.SUCCESS
    })
    // Configuration updates of HTTP subscriptions: POST /configuration/<store>/<key> (Dapr's app contract).
    const express = (server.getDaprClient() as unknown as {
      getServer(): { post(path: string, h: (req: { params: Record<string, string>; body: unknown }, res: { sendStatus(code: number): void }) => void): void }
    }).getServer()
    express.post('/configuration/:store/:key', (req, res) => {
      configUpdates.push({ store: req.params['store']!, key: req.params['key']!, body: req.body as typeof configUpdates[number]['body'] })
      res.sendStatus(200)
    })
    await server.start()
    for (let i = 0; i < 4; i++) clients.push(httpClient(port))
    await Promise.all(clients.map((c) => c.start()))
  })

  after(async () => {
    layotto?.close()
    // HTTP clients share one keep-alive agent: stopping one closes it for all.
    await clients[0]?.stop().catch(() => {})
    await envoy?.stop()
    await server?.stop().catch(() => {})
    await new Promise<void>((r) => (upstream === undefined ? r() : upstream.server.close(() => r())))
  })

  it('state round trips with etags (If-Match), through the SDK and raw', async () => {
    const c = clients[0]!
    assert.deepEqual(await c.state.save('statestore', [{ key: 'order', value: { id: 1 } }]), {})
    assert.deepEqual(await c.state.get('statestore', 'order'), { id: 1 })
    const [item] = await c.state.getBulk('statestore', ['order']) as Array<{ key: string; data: unknown; etag: string }>
    assert.equal(item!.key, 'order')
    assert.deepEqual(item!.data, { id: 1 })
    const etag = item!.etag
    // GET carries the same etag in its ETag header.
    const raw = await request(`${base}/v1.0/state/statestore/order`)
    assert.equal(raw.status, 200)
    assert.equal(raw.headers['etag'], etag)
    assert.equal(raw.body, '{"id":1}')

    // A stale etag: 409 ERR_STATE_SAVE (the SDK's HTTP save reports it as `{ error }`).
    const stale = await c.state.save('statestore', [{ key: 'order', value: { id: 2 }, etag: '424242' }])
    const s = sdkStatus(stale.error)
    assert.equal(s.status, 409)
    assert.equal(s.body.errorCode, 'ERR_STATE_SAVE')
    assert.match(s.body.message!, /failed saving state in state store statestore: possible etag mismatch/)
    assert.deepEqual(await c.state.save('statestore', [{ key: 'order', value: { id: 2 }, etag }]), {})
    assert.deepEqual(await clients[1]!.state.get('statestore', 'order'), { id: 2 })

    // first-write without an etag on an existing key conflicts too.
    const fw = await c.state.save('statestore', [{ key: 'order', value: { id: 3 }, options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } as never }])
    assert.equal(sdkStatus(fw.error).status, 409)

    // Delete with If-Match: stale → 409 ERR_STATE_DELETE, current → 204.
    const bad = await c.state.delete('statestore', 'order', { etag: '424242' } as never)
    assert.equal(sdkStatus(bad.error).status, 409)
    assert.equal(sdkStatus(bad.error).body.errorCode, 'ERR_STATE_DELETE')
    const [now] = await c.state.getBulk('statestore', ['order']) as Array<{ etag: string }>
    assert.deepEqual(await c.state.delete('statestore', 'order', { etag: now!.etag } as never), {})
    // A missing key: 204 and no body (the SDK gives '').
    assert.equal(await c.state.get('statestore', 'order'), '')
    assert.equal((await request(`${base}/v1.0/state/statestore/order`)).status, 204)
    // Query metadata reaches the store (ttlInSeconds is validated by it).
    const ttl = await request(`${base}/v1.0/state/statestore?metadata.ttlInSeconds=abc`, { method: 'POST', body: '[{"key":"t","value":1}]' })
    assert.equal(ttl.status, 400)
    assert.equal(jsonOf(ttl)['errorCode'], 'ERR_STATE_SAVE')
  })

  it('state transactions and bulk get', async () => {
    const c = clients[1]!
    await c.state.save('statestore', [{ key: 'gone', value: 'x' }, { key: 'kept', value: 'k' }])
    await c.state.transaction('statestore', [
      { operation: 'upsert', request: { key: 'tx1', value: 'one' } },
      { operation: 'upsert', request: { key: 'tx2', value: { n: 2 } } },
      { operation: 'delete', request: { key: 'gone' } },
    ])
    const bulk = await clients[2]!.state.getBulk('statestore', ['tx1', 'tx2', 'gone', 'kept']) as Array<{ key: string; data?: unknown }>
    assert.deepEqual(bulk.map((b) => [b.key, b.data]), [['tx1', 'one'], ['tx2', { n: 2 }], ['gone', undefined], ['kept', 'k']])
    // A failing transaction (stale etag) is all or nothing: 500 ERR_STATE_TRANSACTION.
    await assert.rejects(c.state.transaction('statestore', [
      { operation: 'upsert', request: { key: 'tx3', value: 'three' } },
      { operation: 'upsert', request: { key: 'tx1', value: 'x', etag: '999999' } as never },
    ]), (err: Error) => {
      const s = sdkStatus(err)
      assert.equal(s.status, 500)
      assert.equal(s.body.errorCode, 'ERR_STATE_TRANSACTION')
      return true
    })
    assert.equal(await clients[2]!.state.get('statestore', 'tx3'), '')
    const unknownOp = await request(`${base}/v1.0/state/statestore/transaction`, { method: 'POST', body: '{"operations":[{"operation":"merge","request":{"key":"a"}}]}' })
    assert.equal(unknownOp.status, 400)
    assert.deepEqual(jsonOf(unknownOp), { errorCode: 'ERR_NOT_SUPPORTED_STATE_OPERATION', message: 'operation type merge not supported' })
  })

  it('publish and bulk publish are received by a DaprServer (HTTP) subscriber', async () => {
    await until(async () => (await statsMap(envoy, `^runtime_api\\.${APP_ID}\\.pubsub\\.subscriptions$`)).get(`runtime_api.${APP_ID}.pubsub.subscriptions`) === 1, 15_000, 'the subscription')
    const c = clients[0]!
    assert.deepEqual(await c.pubsub.publish('pubsub', 'orders', { orderId: 42 }), {})
    await until(() => received.length === 1, 10_000, 'the delivery')
    assert.deepEqual(received[0], { orderId: 42 })
    const res = await c.pubsub.publishBulk('pubsub', 'orders', [{ orderId: 43 }, { orderId: 44 }])
    assert.deepEqual(res.failedMessages, [])
    await until(() => received.length === 3, 10_000, 'the bulk deliveries')
    assert.deepEqual(received.slice(1).map((r) => (r as { orderId: number }).orderId).sort(), [43, 44])
    // Raw: 204, and 404 ERR_PUBSUB_NOT_FOUND for an unknown pub/sub.
    assert.equal((await request(`${base}/v1.0/publish/pubsub/orders`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' })).status, 204)
    await until(() => received.length === 4, 10_000, 'the text delivery')
    assert.equal(received[3], 'hi')
    const nf = await request(`${base}/v1.0/publish/nopubsub/orders`, { method: 'POST', body: '{}' })
    assert.equal(nf.status, 404)
    assert.deepEqual(jsonOf(nf), { errorCode: 'ERR_PUBSUB_NOT_FOUND', message: 'pubsub nopubsub not found' })
    const badEntry = await request(`${base}/v1.0-alpha1/publish/bulk/pubsub/orders`, { method: 'POST', body: '[{"entryId":"1","event":"x","contentType":"image/png"}]' })
    assert.equal(badEntry.status, 400)
    assert.equal(jsonOf(badEntry)['errorCode'], 'ERR_PUBSUB_EVENTS_SER')
  })

  it('invoke reaches the upstream through the egress route table (SDK, raw, dapr-app-id header)', async () => {
    const c = clients[2]!
    const echo = await c.invoker.invoke('orders-svc', 'neworder', HttpMethod.POST, { id: 7 }) as { method: string; path: string; headers: Record<string, string>; body: string; upstream: string }
    assert.equal(echo.upstream, 'orders')
    assert.equal(echo.method, 'POST')
    assert.equal(echo.path, '/neworder')
    assert.equal(echo.headers['dapr-app-id'], 'orders-svc')
    assert.equal(echo.headers['host'], 'orders-svc')
    assert.equal(echo.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(echo.body), { id: 7 })

    // Any verb, nested methods, the query string passed through, the app's status/headers/body back.
    const raw = await request(`${base}/v1.0/invoke/orders-svc/method/v2/orders/7?expand=items&x=1`, { method: 'PATCH', headers: { 'x-caller': 'test' }, body: 'patch' })
    assert.equal(raw.status, 200)
    assert.equal(raw.headers['x-upstream'], 'orders')
    const e = JSON.parse(raw.body) as { method: string; path: string; headers: Record<string, string>; body: string }
    assert.equal(e.method, 'PATCH')
    assert.equal(e.path, '/v2/orders/7?expand=items&x=1')
    assert.equal(e.headers['x-caller'], 'test')
    assert.equal(e.body, 'patch')

    // Header-based invocation: the path is the method.
    const byHeader = await request(`${base}/shop//cart/?id=3`, { method: 'PUT', headers: { 'dapr-app-id': 'orders-svc' }, body: 'c' })
    assert.equal(byHeader.status, 200)
    assert.equal((JSON.parse(byHeader.body) as { path: string }).path, '/shop/cart?id=3')

    // The app's non-2xx answer comes back as is.
    const tea = await request(`${base}/v1.0/invoke/orders-svc/method/teapot`)
    assert.equal(tea.status, 418)
    assert.equal(tea.headers['content-type'], 'text/plain')
    assert.equal(tea.headers['x-teapot'], 'yes')
    assert.equal(tea.body, 'short and stout')

    // No route for the app id in the egress route table: the router's 404 comes back.
    assert.equal((await request(`${base}/v1.0/invoke/unknown-app/method/x`)).status, 404)
    assert.ok(await statValue(envoy, 'http.egress.downstream_rq_total') >= 5)
  })

  it('lock contention between two clients', async () => {
    const [alice, bob] = [clients[0]!, clients[3]!]
    assert.deepEqual(await alice.lock.lock('lockstore', 'res-1', 'alice', 30), { success: true })
    assert.deepEqual(await bob.lock.lock('lockstore', 'res-1', 'bob', 30), { success: false })
    assert.deepEqual(await bob.lock.unlock('lockstore', 'res-1', 'bob'), { status: 2 }) // LockBelongsToOthers
    assert.deepEqual(await alice.lock.unlock('lockstore', 'res-1', 'alice'), { status: 0 }) // Success
    assert.deepEqual(await bob.lock.lock('lockstore', 'res-1', 'bob', 30), { success: true })
    assert.deepEqual(await alice.lock.unlock('lockstore', 'res-2', 'alice'), { status: 1 }) // LockDoesNotExist
    await assert.rejects(alice.lock.lock('nolocks', 'r', 'o', 1), (err: Error) => {
      assert.equal(sdkStatus(err).status, 400)
      assert.equal(sdkStatus(err).body.errorCode, 'ERR_LOCK_STORE_NOT_FOUND')
      return true
    })
    const empty = await request(`${base}/v1.0-alpha1/lock/lockstore`, { method: 'POST', body: '{"resourceId":"","lockOwner":"x","expiryInSeconds":1}' })
    assert.equal(empty.status, 400)
    assert.deepEqual(jsonOf(empty), { errorCode: 'ERR_MALFORMED_REQUEST', message: 'ResourceId is empty in lock store lockstore' })
  })

  it('configuration get, a subscription update delivered to the app, unsubscribe', async () => {
    const got = await request(`${base}/v1.0/configuration/configstore?key=feature`)
    assert.equal(got.status, 200)
    assert.deepEqual(jsonOf(got), { feature: { value: 'on', version: '1' } })
    const all = jsonOf(await request(`${base}/v1.0-alpha1/configuration/configstore`))
    assert.deepEqual(Object.keys(all).sort(), ['color', 'feature'])
    assert.equal((await request(`${base}/v1.0/configuration/configstore?key=nothing`)).status, 204)

    const sub = await request(`${base}/v1.0/configuration/configstore/subscribe?key=feature`)
    assert.equal(sub.status, 200)
    const id = jsonOf(sub)['id'] as string
    assert.ok(id !== '')
    await layotto.unary('SaveConfiguration', { store_name: 'configstore', items: [{ key: 'feature', content: 'off' }] })
    await until(() => configUpdates.length > 0, 10_000, 'the configuration update at the app')
    const u = configUpdates[0]!
    assert.equal(u.store, 'configstore')
    assert.equal(u.key, 'feature')
    assert.equal(u.body.id, id)
    assert.equal(u.body.items['feature']?.value, 'off')
    // A key outside the subscription is not delivered.
    await layotto.unary('SaveConfiguration', { store_name: 'configstore', items: [{ key: 'color', content: 'red' }] })
    await layotto.unary('SaveConfiguration', { store_name: 'configstore', items: [{ key: 'feature', content: 'on-again' }] })
    await until(() => configUpdates.length === 2, 10_000, 'the second update')
    assert.equal(configUpdates[1]!.body.items['feature']?.value, 'on-again')
    assert.equal(configUpdates.some((x) => x.key === 'color'), false)

    // Unsubscribe (any connection, hence any worker), then again: 500 with ok absent.
    const un = await request(`${base}/v1.0/configuration/configstore/${id}/unsubscribe`)
    assert.equal(un.status, 200)
    assert.deepEqual(jsonOf(un), { ok: true })
    const again = await request(`${base}/v1.0-alpha1/configuration/configstore/${id}/unsubscribe`)
    assert.equal(again.status, 500)
    assert.match(jsonOf(again)['message'] as string, /failed to unsubscribe to configuration request/)
    const nf = await request(`${base}/v1.0/configuration/nostore`)
    assert.equal(nf.status, 400)
    assert.equal(jsonOf(nf)['errorCode'], 'ERR_CONFIGURATION_STORE_NOT_FOUND')
  })

  it('secrets from local.env with a prefix', async () => {
    const c = clients[1]!
    assert.deepEqual(await c.secret.get('envstore', 'DB'), { DB: 'pw' })
    const bulk = await c.secret.getBulk('envstore') as Record<string, Record<string, string>>
    assert.deepEqual(bulk['DB'], { DB: 'pw' })
    assert.deepEqual(bulk['TOKEN'], { TOKEN: 't0k' })
    assert.equal(bulk['PATH'], undefined, 'only prefixed variables are visible')
    const missing = await request(`${base}/v1.0/secrets/envstore/NOT_SET`)
    assert.equal(missing.status, 500)
    assert.equal(jsonOf(missing)['errorCode'], 'ERR_SECRET_GET')
    const noStore = await request(`${base}/v1.0/secrets/nostore/x`)
    assert.equal(noStore.status, 401)
    assert.deepEqual(jsonOf(noStore), { errorCode: 'ERR_SECRET_STORE_NOT_FOUND', message: 'failed finding secret store with key nostore' })
  })

  it('metadata: app id, components, extended metadata, subscriptions, app connection', async () => {
    assert.equal(await clients[3]!.metadata.set('owner', 'team-a'), true)
    const m = await clients[0]!.metadata.get() as unknown as {
      id: string; runtimeVersion: string; components: Array<{ name: string; type: string; capabilities: string[] }>
      extended: Record<string, string>; subscriptions: Array<{ pubsubname: string; topic: string; rules?: Array<{ path: string }> }>
      appConnectionProperties: { port: number; protocol: string; channelAddress: string }
    }
    assert.equal(m.id, APP_ID)
    assert.match(m.runtimeVersion, /^envoy-ts-/)
    const state = m.components.find((x) => x.name === 'statestore')
    assert.equal(state?.type, 'state.in-memory')
    assert.deepEqual(state?.capabilities, ['ETAG', 'TRANSACTIONAL', 'TTL'])
    assert.equal(m.extended['owner'], 'team-a')
    assert.deepEqual(m.subscriptions.map((s) => [s.pubsubname, s.topic]), [['pubsub', 'orders']])
    assert.equal(m.appConnectionProperties.protocol, 'http')
    assert.equal(m.appConnectionProperties.channelAddress, '127.0.0.1')
    assert.ok(m.appConnectionProperties.port > 0)
  })

  it('healthz and healthz/outbound', async () => {
    const h = await request(`${base}/v1.0/healthz`)
    assert.equal(h.status, 204)
    assert.equal(h.body, '')
    assert.equal((await request(`${base}/v1.0/healthz/outbound`)).status, 204)
    assert.equal((await request(`${base}/v1.0/healthz?appid=${APP_ID}`)).status, 204)
    const other = await request(`${base}/v1.0/healthz?appid=someone-else`)
    assert.equal(other.status, 500)
    assert.equal(jsonOf(other)['errorCode'], 'ERR_HEALTH_APPID_NOT_MATCH')
  })

  it('api_token: the dapr-api-token header is required (except healthz)', async () => {
    const t = `http://127.0.0.1:${tokenPort}`
    const denied = await request(`${t}/v1.0/state/statestore/x`)
    assert.equal(denied.status, 401)
    assert.equal(denied.body, 'invalid api token\n')
    assert.equal((await request(`${t}/v1.0/metadata`, { headers: { 'dapr-api-token': 'wrong' } })).status, 401)
    assert.equal((await request(`${t}/some/path`, { headers: { 'dapr-app-id': 'orders-svc' } })).status, 401)
    assert.equal((await request(`${t}/v1.0/healthz`)).status, 204)
    // An SDK client with the token works; one without is refused.
    const withToken = httpClient(tokenPort, TOKEN)
    assert.deepEqual(await withToken.state.save('statestore', [{ key: 'tok', value: 'ok' }]), {})
    assert.equal(await withToken.state.get('statestore', 'tok'), 'ok')
    // The token is not passed on to an invoked app.
    const echo = await withToken.invoker.invoke('orders-svc', 'who', HttpMethod.GET) as { headers: Record<string, string> }
    assert.equal(echo.headers['dapr-api-token'], undefined)
    // (A client without the token cannot even start: its readiness probe, GET /v1.0/metadata, is refused.)
    assert.equal((await request(`${t}/v1.0/state/statestore/tok`)).status, 401)
    assert.equal((await request(`${t}/v1.0/state/statestore/tok`, { headers: { 'dapr-api-token': TOKEN } })).body, '"ok"')
    assert.ok(await statValue(envoy, 'dapr_api.dapr_http_token.rq_unauthorized') >= 4)
  })

  it('raw requests: status codes and error bodies as Dapr answers them', async () => {
    const noStore = await request(`${base}/v1.0/state/nostore/k`)
    assert.equal(noStore.status, 400)
    assert.deepEqual(jsonOf(noStore), { errorCode: 'ERR_STATE_STORE_NOT_FOUND', message: 'state store nostore is not found' })
    const malformed = await request(`${base}/v1.0/state/statestore`, { method: 'POST', body: '{"key":' })
    assert.equal(malformed.status, 400)
    assert.equal(jsonOf(malformed)['errorCode'], 'ERR_MALFORMED_REQUEST')
    const noKey = await request(`${base}/v1.0/state/statestore`, { method: 'POST', body: '[{"value":1}]' })
    assert.equal(noKey.status, 400)
    assert.equal(jsonOf(noKey)['errorCode'], 'ERR_MALFORMED_REQUEST')
    // An unknown API path, and a known one with another verb.
    const unknown = await request(`${base}/v1.0/nothing/here`)
    assert.equal(unknown.status, 404)
    assert.deepEqual(jsonOf(unknown), { errorCode: 'ERR_DIRECT_INVOKE', message: 'failed getting app id either from the URL path or the header dapr-app-id' })
    const verb = await request(`${base}/v1.0/publish/pubsub/orders`)
    assert.equal(verb.status, 405)
    assert.equal(verb.headers['allow'], 'POST, PUT')
    const actors = await request(`${base}/v1.0/actors/A/1/method/m`, { method: 'POST' })
    assert.equal(actors.status, 501)
    assert.equal(jsonOf(actors)['errorCode'], 'ERR_API_UNIMPLEMENTED')
    // Not Dapr's: the router answers (its route table is empty).
    const other = await request(`${base}/index.html`)
    assert.equal(other.status, 404)
    assert.notEqual(other.headers['content-type'], 'application/json')
    const binding = await request(`${base}/v1.0/bindings/nobinding`, { method: 'POST', body: '{"operation":"create","data":{}}' })
    assert.equal(binding.status, 500)
    assert.equal(jsonOf(binding)['errorCode'], 'ERR_INVOKE_OUTPUT_BINDING')
    const query = await request(`${base}/v1.0-alpha1/state/statestore/query`, { method: 'POST', body: '{"filter":{}}' })
    assert.equal(query.status, 500)
    assert.equal(jsonOf(query)['errorCode'], 'ERR_STATE_STORE_NOT_SUPPORTED')
    assert.ok(await statValue(envoy, 'dapr_api.dapr_http.rq_total') > 0)
    assert.ok(await statValue(envoy, 'dapr_api.dapr_http.state.rq_total') > 0)
  })

  it('a body over the buffer limit answers 413 before it is read', async () => {
    const s = net.connect(port, '127.0.0.1')
    await new Promise<void>((r) => s.once('connect', () => r()))
    s.write(`POST /v1.0/state/statestore HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${300 * 1024}\r\n\r\n`)
    const head = await new Promise<string>((resolve, reject) => {
      let got = ''
      s.setEncoding('utf8')
      s.on('data', (d: string) => {
        got += d
        if (got.includes('\r\n\r\n') && got.includes('ERR_BODY_READ')) resolve(got)
      })
      s.on('error', reject)
      s.on('close', () => resolve(got))
    })
    s.destroy()
    assert.match(head, /^HTTP\/1\.1 413 /)
    assert.match(head, /"errorCode":"ERR_BODY_READ"/)
    // A body under the limit is read whole, streamed or not (this one then fails to parse).
    const chunked = await request(`${base}/v1.0/state/statestore`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: Buffer.alloc(200 * 1024, 'a') })
    assert.equal(chunked.status, 400)
    assert.equal(jsonOf(chunked)['errorCode'], 'ERR_MALFORMED_REQUEST')
  })

  it('many connections over 4 workers: every read sees the latest write', async () => {
    for (let i = 0; i < 30; i++) {
      // `request` opens a new connection each time (agent: false).
      const w = await request(`${base}/v1.0/state/statestore`, { method: 'POST', body: JSON.stringify([{ key: 'shared', value: `v-${i}` }]) })
      assert.equal(w.status, 204)
      const reads = await Promise.all(Array.from({ length: 6 }, () => request(`${base}/v1.0/state/statestore/shared`)))
      for (const r of reads) assert.equal(r.body, JSON.stringify(`v-${i}`))
    }
    const perWorker = [...(await statsMap(envoy, '^listener\\.dapr_http\\.worker_\\d+\\.downstream_cx_total$')).entries()].filter(([, v]) => v > 0)
    assert.ok(perWorker.length > 1, `connections reached more than one worker: ${JSON.stringify(perWorker)}`)
  })

  it('shutdown answers 204, then the process stops gracefully', async () => {
    await clients[0]!.sidecar.shutdown()
    // Open connections would hold the drain until its timeout: close them.
    await clients[0]!.stop()
    layotto.close()
    const { code } = await envoy.exited
    assert.equal(code, 0)
  })
})
