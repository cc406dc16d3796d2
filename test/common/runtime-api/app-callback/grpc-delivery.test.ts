import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import * as grpc from '@grpc/grpc-js'
import { SubscriptionManagerImpl, type SubscriptionManagerOptions } from '../../../../source/common/runtime-api/app-callback/subscription-manager-impl.js'
import type { RuntimeApi } from '../../../../source/common/protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { InMemoryPubSub } from '../../../../source/extensions/runtime/pubsub/in-memory/in-memory.js'
import { cloudEvent, fakeComponents, freePort, GrpcApp, newPubSub, newStore, runtimeConfig, silentLog, until } from './app-servers.js'

const FAST: SubscriptionManagerOptions = { deliveryTimeoutMs: 2000, discoveryTimeoutMs: 1000, discoveryBackoffInitialMs: 20, discoveryBackoffMaxMs: 100 }

interface Harness {
  app: GrpcApp
  pubsub: InMemoryPubSub
  manager: SubscriptionManagerImpl
  config: RuntimeApi
  stat(name: string): number
}

const open: Harness[] = []
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.manager.stop()
    await h.pubsub.close()
    h.app.close()
  }
})

async function harness(app: GrpcApp, subscriptions: Array<Record<string, unknown>>, cfg: Partial<NonNullable<RuntimeApi['app']>> = {},
  opts: SubscriptionManagerOptions = FAST, listen = true): Promise<Harness> {
  app.subscriptions = subscriptions
  const port = listen ? await app.listen() : await freePort()
  const pubsub = newPubSub()
  const store = newStore()
  const manager = new SubscriptionManagerImpl(silentLog, store, opts)
  const config = runtimeConfig({ app_port: port, app_protocol: 'GRPC', delivery_backoff: '0.020s', ...cfg })
  const h: Harness = { app, pubsub, manager, config, stat: (n) => store.counter(`runtime_api.orders-app.pubsub.${n}`).value() }
  open.push(h)
  await manager.start(config, fakeComponents(config, { pubsub }))
  return h
}

const ORDERS = [{ pubsub_name: 'pubsub', topic: 'orders', metadata: { rawPayload: 'false' } }]

describe('SubscriptionManagerImpl over gRPC (Dapr AppCallback)', () => {
  it('lists subscriptions and delivers OnTopicEvent with the CloudEvent fields', async () => {
    const h = await harness(new GrpcApp('dapr'), ORDERS)
    await until(() => h.manager.subscriptions('orders-app').length === 1, 5000, 'discovery')
    assert.deepEqual(h.manager.subscriptions('orders-app'), [{ pubsubName: 'pubsub', topic: 'orders', route: '', metadata: { rawPayload: 'false' } }])
    await h.pubsub.publish('orders', cloudEvent({ orderId: 1 }, { id: 'g1' }), 'application/cloudevents+json', { 'x-tenant': 'acme' })
    await until(() => h.stat('delivered') === 1)
    const { request: r, metadata } = h.app.deliveries[0]!
    assert.equal(r['id'], 'g1')
    assert.equal(r['source'], 'publisher-app')
    assert.equal(r['type'], 'com.dapr.event.sent')
    assert.equal(r['spec_version'], '1.0')
    assert.equal(r['data_content_type'], 'application/json')
    assert.deepEqual(JSON.parse(Buffer.from(r['data'] as Uint8Array).toString()), { orderId: 1 })
    assert.equal(r['topic'], 'orders')
    assert.equal(r['pubsub_name'], 'pubsub')
    assert.equal(r['path'], '')
    const ext = (r['extensions'] as { fields: Record<string, { stringValue?: string }> }).fields
    assert.equal(ext['traceid']!.stringValue, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
    assert.equal(ext['pubsubname']!.stringValue, 'pubsub')
    assert.equal(ext['id'], undefined)
    assert.equal(metadata['x-tenant'], 'acme')
    assert.equal(metadata['pubsubname'], 'pubsub')
  })

  it('sends text data as text and the matched rule path', async () => {
    const h = await harness(new GrpcApp('dapr'), [{ pubsub_name: 'pubsub', topic: 'orders', routes: { rules: [{ match: 'event.type == "big"', path: 'big-orders' }], default: 'orders' } }])
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    assert.equal(h.manager.subscriptions('orders-app')[0]!.route, 'orders')
    await h.pubsub.publish('orders', cloudEvent('hello', { type: 'big', datacontenttype: 'text/plain' }), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent('small'), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 2)
    assert.equal(h.app.deliveries[0]!.request['path'], 'big-orders')
    assert.equal(Buffer.from(h.app.deliveries[0]!.request['data'] as Uint8Array).toString(), 'hello')
    assert.equal(h.app.deliveries[1]!.request['path'], 'orders')
  })

  it('keeps asking until an app that starts late answers', async () => {
    const app = new GrpcApp('dapr')
    const h = await harness(app, ORDERS, {}, FAST, false)
    await sleep(150)
    assert.deepEqual(h.manager.subscriptions('orders-app'), [])
    await app.listen(h.config.app!.app_port)
    await until(() => h.manager.subscriptions('orders-app').length === 1, 5000, 'late discovery')
    await h.pubsub.publish('orders', cloudEvent('late'), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 1)
  })

  it('RETRY and errors are retried; then SUCCESS', async () => {
    const h = await harness(new GrpcApp('dapr'), ORDERS)
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = (_d, n) => n === 1 ? { status: 'RETRY' } : n === 2 ? { code: grpc.status.INTERNAL } : { status: 'SUCCESS' }
    await h.pubsub.publish('orders', cloudEvent(1, { id: 'x' }), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 1)
    assert.equal(h.app.deliveries.length, 3)
    assert.equal(h.stat('retried'), 2)
  })

  it('DROP drops; exhausted attempts drop', async () => {
    const h = await harness(new GrpcApp('dapr'), ORDERS, { max_delivery_attempts: 3 })
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = (d) => Buffer.from(d.request['data'] as Uint8Array).toString() === '"drop"' ? { status: 'DROP' } : { code: grpc.status.UNAVAILABLE }
    await h.pubsub.publish('orders', cloudEvent('drop'), 'application/cloudevents+json')
    await h.pubsub.publish('orders', cloudEvent('fail'), 'application/cloudevents+json')
    await until(() => h.stat('dropped') === 2)
    assert.equal(h.app.deliveries.length, 1 + 3)
    assert.equal(h.stat('retried'), 2)
  })

  it('an app without OnTopicEvent (UNIMPLEMENTED) drops', async () => {
    const h = await harness(new GrpcApp('dapr', { withoutOnTopicEvent: true }), ORDERS)
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    await h.pubsub.publish('orders', cloudEvent(1), 'application/cloudevents+json')
    await until(() => h.stat('dropped') === 1)
    assert.equal(h.stat('retried'), 0)
  })

  it('a deadline overrun is retried', async () => {
    const h = await harness(new GrpcApp('dapr'), ORDERS, {}, { ...FAST, deliveryTimeoutMs: 100 })
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    h.app.answer = (_d, n) => n === 1 ? { status: 'SUCCESS', delayMs: 400 } : { status: 'SUCCESS' }
    await h.pubsub.publish('orders', cloudEvent('slow'), 'application/cloudevents+json')
    await until(() => h.stat('delivered') === 1)
    assert.equal(h.app.deliveries.length, 2)
    assert.equal(h.stat('retried'), 1)
  })
})

describe('SubscriptionManagerImpl over gRPC (Dapr bulk subscribe)', () => {
  const BULK = [{ pubsub_name: 'pubsub', topic: 'orders', bulk_subscribe: { enabled: true, max_messages_count: 10 }, routes: { default: 'bulk' } }]

  for (const where of ['v1', 'alpha'] as const) {
    it(`delivers one-entry batches through ${where === 'v1' ? 'OnBulkTopicEvent' : 'AppCallbackAlpha/OnBulkTopicEventAlpha1'}`, async () => {
      const h = await harness(new GrpcApp('dapr', { bulk: where }), BULK)
      await until(() => h.manager.subscriptions('orders-app').length === 1)
      let n = 0
      h.app.bulkAnswer = (d) => {
        n++
        const id = (d.request['entries'] as Array<{ entry_id: string }>)[0]!.entry_id
        return { statuses: n === 1 ? [{ entry_id: id, status: 'RETRY' }] : [{ entry_id: id, status: 'SUCCESS' }] }
      }
      await h.pubsub.publish('orders', cloudEvent({ x: 1 }, { id: 'bk' }), 'application/cloudevents+json')
      await until(() => h.stat('delivered') === 1)
      assert.equal(h.stat('retried'), 1)
      assert.equal(h.app.deliveries.length, 0)
      const req = h.app.bulkDeliveries[0]!.request
      assert.equal(req['topic'], 'orders')
      assert.equal(req['pubsub_name'], 'pubsub')
      assert.equal(req['path'], 'bulk')
      assert.equal(req['type'], 'com.dapr.event.sent.bulk')
      const entry = (req['entries'] as Array<Record<string, unknown>>)[0]!
      const ce = entry['cloud_event'] as Record<string, unknown>
      assert.equal(ce['id'], 'bk')
      assert.deepEqual(JSON.parse(Buffer.from(ce['data'] as Uint8Array).toString()), { x: 1 })
      assert.equal(entry['content_type'], 'application/cloudevents+json')
    })
  }

  it('drops when the app serves no bulk method', async () => {
    const h = await harness(new GrpcApp('dapr', { bulk: 'none' }), BULK)
    await until(() => h.manager.subscriptions('orders-app').length === 1)
    await h.pubsub.publish('orders', cloudEvent(1), 'application/cloudevents+json')
    await until(() => h.stat('dropped') === 1)
  })
})

describe('SubscriptionManagerImpl over gRPC (Layotto AppCallback)', () => {
  it('falls back to spec.proto.runtime.v1.AppCallback when Dapr\'s is UNIMPLEMENTED', async () => {
    const h = await harness(new GrpcApp('layotto'), [{ pubsub_name: 'pubsub', topic: 'orders', metadata: { k: 'v' } }])
    await until(() => h.manager.subscriptions('orders-app').length === 1, 5000, 'discovery')
    assert.deepEqual(h.manager.subscriptions('orders-app'), [{ pubsubName: 'pubsub', topic: 'orders', route: '', metadata: { k: 'v' } }])
    h.app.answer = (_d, n) => n === 1 ? { status: 'RETRY' } : { status: 'SUCCESS' }
    await h.pubsub.publish('orders', cloudEvent({ a: 1 }, { id: 'l1' }), 'application/cloudevents+json', { tag: 'blue' })
    await until(() => h.stat('delivered') === 1)
    const r = h.app.deliveries[1]!.request
    assert.equal(r['id'], 'l1')
    assert.equal(r['pubsub_name'], 'pubsub')
    assert.equal(r['topic'], 'orders')
    assert.deepEqual(r['metadata'], { tag: 'blue' })
    assert.deepEqual(JSON.parse(Buffer.from(r['data'] as Uint8Array).toString()), { a: 1 })
    assert.equal(h.stat('retried'), 1)
  })
})
