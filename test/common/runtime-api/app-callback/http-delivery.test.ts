import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { SubscriptionManagerImpl, type SubscriptionManagerOptions } from '../../../../source/common/runtime-api/app-callback/subscription-manager-impl.js'
import type { RuntimeApi } from '../../../../source/common/protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { InMemoryPubSub } from '../../../../source/extensions/runtime/pubsub/in-memory/in-memory.js'
import { cloudEvent, fakeComponents, freePort, HttpApp, newPubSub, newStore, runtimeConfig, silentLog, until } from './app-servers.js'

const FAST: SubscriptionManagerOptions = { deliveryTimeoutMs: 2000, discoveryTimeoutMs: 1000, discoveryBackoffInitialMs: 20, discoveryBackoffMaxMs: 100 }

interface Harness {
  app: HttpApp
  pubsub: InMemoryPubSub
  manager: SubscriptionManagerImpl
  store: ReturnType<typeof newStore>
  config: RuntimeApi
  stat(name: string): number
}

const open: Harness[] = []
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.manager.stop()
    await h.pubsub.close()
    await h.app.close()
  }
})

async function harness(subscriptions: unknown, app: Partial<NonNullable<RuntimeApi['app']>> = {}, opts: SubscriptionManagerOptions = FAST, listen = true): Promise<Harness> {
  const a = new HttpApp()
  a.subscriptions = subscriptions
  const port = listen ? await a.listen() : await freePort()
  const pubsub = newPubSub()
  const store = newStore()
  const manager = new SubscriptionManagerImpl(silentLog, store, opts)
  const config = runtimeConfig({ app_port: port, delivery_backoff: '0.020s', ...app })
  const h: Harness = {
    app: a, pubsub, manager, store, config,
    stat: (n) => store.counter(`runtime_api.orders-app.pubsub.${n}`).value(),
  }
  open.push(h)
  await manager.start(config, fakeComponents(config, { pubsub }))
  return h
}

const ORDERS = [{ pubsubname: 'pubsub', topic: 'orders', route: '/orders' }]

describe('SubscriptionManagerImpl over HTTP', () => {
  it('discovers subscriptions and delivers the CloudEvent to the route', async () => {
    const h = await harness(ORDERS)
    await until(() => h.manager.subscriptions('orders-app').length === 1, 5000, 'discovery')
    assert.deepEqual(h.manager.subscriptions('orders-app'), [{ pubsubName: 'pubsub', topic: 'orders', route: '/orders', metadata: {} }])
    assert.deepEqual(h.manager.subscriptions('other-app'), [])
    await until(() => h.store.gauge('runtime_api.orders-app.pubsub.subscriptions', 'NeverImport').value() === 1)
    const body = cloudEvent({ orderId: 7 }, { id: 'e1' })
    await h.pubsub.publish('orders', body, 'application/cloudevents+json', { 'x-tenant': 'acme', 'bad header': 'x' })
    await until(() => h.stat('delivered') === 1)
    const d = h.app.deliveries[0]!
    assert.equal(d.path, '/orders')
    assert.equal(d.headers['content-type'], 'application/cloudevents+json')
    assert.equal(d.headers['pubsubname'], 'pubsub')
    assert.equal(d.headers['x-tenant'], 'acme')
    assert.equal(d.body['id'], 'e1')
    assert.deepEqual(d.body['data'], { orderId: 7 })
    assert.equal(d.body['specversion'], '1.0')
    assert.equal(h.stat('retried'), 0)
    assert.equal(h.stat('dropped'), 0)
  })

  it('keeps asking until an app that starts late answers', async () => {
    const h = await harness(ORDERS, {}, FAST, false)
    await sleep(150)
    assert.deepEqual(h.manager.subscriptions('orders-app'), [])
    await h.app.listen(h.config.app!.app_port)
    await until(() => h.manager.subscriptions('orders-app').length === 1, 5000, 'late discovery')
    assert.equal(h.app.subscribeCalls, 1)
    await h.pubsub.publish('orders', cloudEvent('late'), 'application/cloudevents+json')
    await until(() => h.app.deliveries.length === 1)
    assert.equal(h.app.deliveries[0]!.body['data'], 'late')
  })

  it('RETRY, then SUCCESS: redelivered after the back-off, in order', async () => {
    const h = await harness(ORDERS)
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = (_d, n) => n === 1 ? { status: 200, body: '{"status":"RETRY"}' } : n === 2 ? { status: 500, body: 'oops' } : { status: 200, body: '{"status":"SUCCESS"}' }
    await h.pubsub.publish('orders', cloudEvent(1, { id: 'a' }), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent(2, { id: 'b' }), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 2)
    assert.deepEqual(h.app.deliveries.map((d) => d.body['id']), ['a', 'a', 'a', 'b'])
    assert.equal(h.stat('retried'), 2)
    assert.equal(h.stat('dropped'), 0)
  })

  it('empty or non-JSON 2xx bodies are SUCCESS; unknown status is RETRY', async () => {
    const h = await harness(ORDERS)
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = (_d, n) => n === 1 ? { status: 204 } : n === 2 ? { status: 200, body: 'ok' } : n === 3 ? { status: 200, body: '{"status":"MAYBE"}' } : { status: 200, body: '{}' }
    await h.pubsub.publish('orders', cloudEvent(1), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent(2), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent(3), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 3)
    assert.equal(h.app.deliveries.length, 4)
    assert.equal(h.stat('retried'), 1)
  })

  it('DROP and 404 drop without retry', async () => {
    const h = await harness(ORDERS)
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = (_d, n) => n === 1 ? { status: 200, body: '{"status":"DROP"}' } : { status: 404, body: 'no such route' }
    await h.pubsub.publish('orders', cloudEvent(1), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent(2), 'application/cloudevents+json')
    await until(() => h.stat('dropped') === 2)
    await sleep(60)
    assert.equal(h.app.deliveries.length, 2)
    assert.equal(h.stat('retried'), 0)
    assert.equal(h.stat('delivered'), 0)
  })

  it('gives up after max_delivery_attempts and dead-letters', async () => {
    const h = await harness([{ pubsubname: 'pubsub', topic: 'orders', route: '/orders', deadLetterTopic: 'orders-dlq' },
      { pubsubname: 'pubsub', topic: 'orders-dlq', route: '/dlq' }], { max_delivery_attempts: 2 })
    await until(() => h.manager.subscriptions('orders-app').length === 2)
    h.app.answer = (d) => d.path === '/dlq' ? { status: 200 } : { status: 503 }
    await h.pubsub.publish('orders', cloudEvent('poison', { id: 'p' }), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 1)
    assert.deepEqual(h.app.deliveries.map((d) => d.path), ['/orders', '/orders', '/dlq'])
    assert.equal(h.app.deliveries[2]!.body['id'], 'p')
    assert.equal(h.stat('retried'), 1)
    assert.equal(h.stat('dropped'), 1)
    assert.equal(h.stat('dead_lettered'), 1)
  })

  it('a delivery that takes longer than the timeout is retried', async () => {
    const h = await harness(ORDERS, {}, { ...FAST, deliveryTimeoutMs: 100 })
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = (_d, n) => n === 1 ? { status: 200, delayMs: 400 } : { status: 200 }
    await h.pubsub.publish('orders', cloudEvent('slow'), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 1)
    assert.equal(h.app.deliveries.length, 2)
    assert.equal(h.stat('retried'), 1)
  })

  it('routes by rules (event.type), default otherwise; unmatched events are dropped', async () => {
    const h = await harness([
      { pubsubname: 'pubsub', topic: 'orders', routes: { rules: [{ match: 'event.type == "widget"', path: '/widgets' }, { match: "event.data.amount > 100", path: '/big' }], default: '/other' } },
      { pubsubname: 'pubsub', topic: 'strict', routes: { rules: [{ match: 'event.type == "only"', path: '/only' }] } },
    ])
    await until(() => h.manager.subscriptions('orders-app').length === 2)
    assert.equal(h.manager.subscriptions('orders-app')[0]!.route, '/other')
    await h.pubsub.publish('orders', cloudEvent({}, { type: 'widget' }), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent({ amount: 500 }), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent({ amount: 5 }), 'application/cloudevents+json')
    await h.pubsub.publish('strict', cloudEvent({}, { type: 'nope' }), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 3 && h.stat('dropped') === 1)
    assert.deepEqual(h.app.deliveries.map((d) => d.path).sort(), ['/big', '/other', '/widgets'])
  })

  it('refuses subscriptions with unsupported rules or no route, keeps the rest', async () => {
    const h = await harness([
      { pubsubname: 'pubsub', topic: 'a', routes: { rules: [{ match: 'size(event.data) > 1', path: '/a' }] } },
      { pubsubname: 'pubsub', topic: 'b' },
      { topic: 'c', route: '/c' },
      { pubsubname: 'pubsub', topic: 'd', route: 'd' },
    ])
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    assert.equal(h.manager.subscriptions('orders-app')[0]!.topic, 'd')
    await h.pubsub.publish('d', cloudEvent('x'), 'application/cloudevents+json')
    await until(() => h.app.deliveries.length === 1)
    assert.equal(h.app.deliveries[0]!.path, '/d')
  })

  it('a 404 on /dapr/subscribe means no subscriptions', async () => {
    const h = await harness([])
    h.app.subscribeStatus = 404
    await until(() => h.app.subscribeCalls === 1)
    await sleep(50)
    assert.equal(h.app.subscribeCalls, 1)
    assert.deepEqual(h.manager.subscriptions('orders-app'), [])
  })

  it('raw payloads and non-CloudEvent data are wrapped; expired events are dropped', async () => {
    const h = await harness(ORDERS)
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    await h.pubsub.publish('orders', new TextEncoder().encode('plain bytes'), 'text/plain', { rawPayload: 'true' })
    await h.pubsub.publish('orders', cloudEvent('old', { expiration: new Date(Date.now() - 1000).toISOString() }), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 1 && h.stat('dropped') === 1)
    const body = h.app.deliveries[0]!.body
    assert.equal(body['datacontenttype'], 'application/octet-stream')
    assert.equal(Buffer.from(body['data_base64'] as string, 'base64').toString(), 'plain bytes')
    assert.equal(body['topic'], 'orders')
    assert.equal(body['pubsubname'], 'pubsub')
  })

  it('start is idempotent per app; a later config can supply a missing pub/sub', async () => {
    const h = await harness([...ORDERS, { pubsubname: 'other', topic: 't', route: '/t' }])
    await until(() => h.manager.subscriptions('orders-app').length === 2)
    await h.manager.start(h.config, fakeComponents(h.config, { pubsub: h.pubsub }))
    const other = newPubSub('other')
    await h.manager.start(h.config, fakeComponents(h.config, { other }))
    assert.equal(h.app.subscribeCalls, 1)
    await other.publish('t', cloudEvent('o'), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent('p'), 'application/cloudevents+json')
    await until(() => h.app.deliveries.length === 2)
    assert.deepEqual(h.app.deliveries.map((d) => d.path).sort(), ['/orders', '/t'])
    await other.close()
  })

  it('does nothing for an app without a port', async () => {
    const store = newStore()
    const m = new SubscriptionManagerImpl(silentLog, store, FAST)
    const config = runtimeConfig({ app_port: 0 })
    await m.start(config, fakeComponents(config, {}))
    assert.deepEqual(m.subscriptions('orders-app'), [])
    await m.stop()
  })

  it('stop() unsubscribes and ends pending retries', async () => {
    const h = await harness(ORDERS, { delivery_backoff: '5s', max_delivery_attempts: 10 })
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = () => ({ status: 500 })
    await h.pubsub.publish('orders', cloudEvent('x'), 'application/cloudevents+json')
    await until(() => h.app.deliveries.length === 1)
    const t0 = Date.now()
    await h.manager.stop()
    assert.ok(Date.now() - t0 < 1000)
    await h.pubsub.publish('orders', cloudEvent('y'), 'application/cloudevents+json')
    await sleep(50)
    assert.equal(h.app.deliveries.length, 1)
  })

  it('bulk subscriptions get Dapr bulk envelopes (one entry each) and per-entry statuses', async () => {
    const h = await harness([{ pubsubname: 'pubsub', topic: 'orders', route: 'bulk-orders', bulkSubscribe: { enabled: true, maxMessagesCount: 10 } }])
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = (d, n) => {
      const entries = d.body['entries'] as Array<{ entryId: string }>
      return { status: 200, body: JSON.stringify({ statuses: n === 1 ? [] : [{ entryId: entries[0]!.entryId, status: n === 2 ? 'RETRY' : 'SUCCESS' }] }) }
    }
    await h.pubsub.publish('orders', cloudEvent({ n: 1 }, { id: 'b1' }), 'application/cloudevents+json', { k: 'v' })
    await h.pubsub.publish('orders', new TextEncoder().encode('raw'), 'application/octet-stream', { rawPayload: 'true' })
    await until(() => h.stat('delivered') === 2)
    assert.equal(h.stat('retried'), 2)
    const first = h.app.deliveries[0]!
    assert.equal(first.path, '/bulk-orders')
    assert.equal(first.headers['content-type'], 'application/json')
    assert.equal(first.body['type'], 'com.dapr.event.sent.bulk')
    assert.equal(first.body['topic'], 'orders')
    assert.equal(first.body['pubsubname'], 'pubsub')
    const e = (first.body['entries'] as Array<Record<string, unknown>>)[0]!
    assert.equal(e['contentType'], 'application/cloudevents+json')
    assert.equal((e['event'] as Record<string, unknown>)['id'], 'b1')
    assert.deepEqual(e['metadata'], { k: 'v' })
    const raw = (h.app.deliveries[3]!.body['entries'] as Array<Record<string, unknown>>)[0]!
    assert.equal(raw['contentType'], 'application/octet-stream')
    assert.equal(Buffer.from(raw['event'] as string, 'base64').toString(), 'raw')
  })
})
