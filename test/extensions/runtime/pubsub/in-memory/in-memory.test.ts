import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../../source/envoy/runtime-api/component-factory.js'
import type { DeliveryStatus, PubSubMessage } from '../../../../../source/envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../../source/envoy/runtime-api/errors.js'
import { inMemoryPubSubFactory, setup } from '../../../../../source/extensions/runtime/pubsub/in-memory/config.js'
import { InMemoryPubSub, topicMatches } from '../../../../../source/extensions/runtime/pubsub/in-memory/in-memory.js'
import { silentLog } from '../../../../mocks/network/factory-context.js'

const enc = new TextEncoder()
const dec = new TextDecoder()
const ctx = { log: silentLog, appId: 'app' }

function bus(opts: { maxQueueLength?: number; maxAttempts?: number; retryIntervalMs?: number } = {}): InMemoryPubSub {
  return new InMemoryPubSub('pubsub', { maxQueueLength: 10000, maxAttempts: 10, retryIntervalMs: 5, ...opts }, silentLog)
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await sleep(2)
  }
}

describe('pubsub.in-memory config', () => {
  it('registers by name and type', () => {
    const r = new RegistryImpl()
    setup(r)
    const cat = r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS)
    assert.equal(cat.lookup('pubsub.in-memory', undefined), inMemoryPubSubFactory)
    assert.equal(cat.lookup('x', 'type.googleapis.com/pubsub.in-memory'), inMemoryPubSubFactory)
    assert.equal(inMemoryPubSubFactory.embedded, true)
    assert.equal(inMemoryPubSubFactory.kind, 'pubsub')
  })

  it('accepts maxQueueLength as a number or a string', () => {
    assert.ok(inMemoryPubSubFactory.create('p', {}, ctx, 'x.pub_subs["p"]') instanceof InMemoryPubSub)
    assert.ok(inMemoryPubSubFactory.create('p', { maxQueueLength: 5 }, ctx, 'x'))
    assert.ok(inMemoryPubSubFactory.create('p', { maxQueueLength: '5' }, ctx, 'x'))
  })

  it('rejects a bad maxQueueLength with the path', () => {
    for (const bad of [0, -1, 'many', 1.5]) {
      assert.throws(() => inMemoryPubSubFactory.create('p', { maxQueueLength: bad }, ctx, 'rt.pub_subs["p"]'), (err: { code?: string; message: string }) => {
        assert.equal(err.code, ErrorCode.CONFIG_INVALID)
        assert.match(err.message, /rt\.pub_subs\["p"\]\.metadata\.maxQueueLength/)
        return true
      })
    }
  })
})

describe('pubsub.in-memory', () => {
  it('delivers in publish order to every subscriber', async () => {
    const ps = bus()
    const a: string[] = []
    const b: string[] = []
    await ps.subscribe('orders', async (m) => { a.push(dec.decode(m.data)); await sleep(Math.random() * 3); return 'SUCCESS' })
    await ps.subscribe('orders', async (m) => { b.push(dec.decode(m.data)); return 'SUCCESS' })
    const sent = Array.from({ length: 50 }, (_, i) => String(i))
    for (const s of sent) await ps.publish('orders', enc.encode(s), 'text/plain', { k: 'v' })
    await until(() => a.length === 50 && b.length === 50)
    assert.deepEqual(a, sent)
    assert.deepEqual(b, sent)
    await ps.close()
  })

  it('fills the message fields', async () => {
    const ps = bus()
    let got: PubSubMessage | undefined
    await ps.subscribe('t', async (m) => { got = m; return 'SUCCESS' })
    await ps.publish('t', enc.encode('{}'), 'application/json', { a: '1' })
    await until(() => got !== undefined)
    assert.equal(got!.topic, 't')
    assert.equal(got!.pubsubName, 'pubsub')
    assert.equal(got!.contentType, 'application/json')
    assert.deepEqual(got!.metadata, { a: '1' })
    assert.match(got!.id, /^[0-9a-f-]{36}$/)
    await ps.close()
  })

  it('discards messages nobody subscribes to, and only matching topics are delivered', async () => {
    const ps = bus()
    await ps.publish('early', enc.encode('lost'), 'text/plain')
    const got: string[] = []
    await ps.subscribe('early', async (m) => { got.push(dec.decode(m.data)); return 'SUCCESS' })
    await ps.publish('other', enc.encode('x'), 'text/plain')
    await ps.publish('early', enc.encode('kept'), 'text/plain')
    await until(() => got.length === 1)
    await sleep(20)
    assert.deepEqual(got, ['kept'])
    await ps.close()
  })

  it('redelivers on RETRY and on a throw, holding back later messages', async () => {
    const ps = bus()
    const seen: string[] = []
    let n = 0
    await ps.subscribe('t', async (m): Promise<DeliveryStatus> => {
      const s = dec.decode(m.data)
      seen.push(s)
      if (s === 'first') {
        n++
        if (n === 1) return 'RETRY'
        if (n === 2) throw new Error('boom')
      }
      return 'SUCCESS'
    })
    await ps.publish('t', enc.encode('first'), 'text/plain')
    await ps.publish('t', enc.encode('second'), 'text/plain')
    await until(() => seen.length === 4)
    assert.deepEqual(seen, ['first', 'first', 'first', 'second'])
    await ps.close()
  })

  it('gives a message up after maxAttempts deliveries', async () => {
    const ps = bus({ maxAttempts: 3 })
    const seen: string[] = []
    await ps.subscribe('t', async (m) => { seen.push(dec.decode(m.data)); return dec.decode(m.data) === 'bad' ? 'RETRY' : 'SUCCESS' })
    await ps.publish('t', enc.encode('bad'), 'text/plain')
    await ps.publish('t', enc.encode('good'), 'text/plain')
    await until(() => seen.includes('good'))
    assert.deepEqual(seen, ['bad', 'bad', 'bad', 'good'])
    await ps.close()
  })

  it('DROP acknowledges without redelivery', async () => {
    const ps = bus()
    const seen: string[] = []
    await ps.subscribe('t', async (m) => { seen.push(dec.decode(m.data)); return 'DROP' })
    await ps.publish('t', enc.encode('a'), 'text/plain')
    await ps.publish('t', enc.encode('b'), 'text/plain')
    await until(() => seen.length === 2)
    await sleep(30)
    assert.deepEqual(seen, ['a', 'b'])
    await ps.close()
  })

  it('bounds each subscription queue: RESOURCE_EXHAUSTED, delivered to none', async () => {
    const ps = bus({ maxQueueLength: 3 })
    let release!: () => void
    const gate = new Promise<void>((r) => { release = r })
    const slow: string[] = []
    const fast: string[] = []
    await ps.subscribe('t', async (m) => { await gate; slow.push(dec.decode(m.data)); return 'SUCCESS' })
    await ps.subscribe('t', async (m) => { fast.push(dec.decode(m.data)); return 'SUCCESS' })
    for (const s of ['1', '2', '3']) await ps.publish('t', enc.encode(s), 'text/plain')
    await assert.rejects(ps.publish('t', enc.encode('4'), 'text/plain'), (err: { status?: number; errorCode?: string; message: string }) => {
      assert.equal(err.status, RuntimeStatus.RESOURCE_EXHAUSTED)
      assert.equal(err.errorCode, 'ERR_PUBSUB_PUBLISH_MESSAGE')
      assert.match(err.message, /maxQueueLength 3/)
      return true
    })
    release()
    await until(() => slow.length === 3)
    await ps.publish('t', enc.encode('5'), 'text/plain')
    await until(() => slow.length === 4 && fast.length === 4)
    assert.deepEqual(slow, ['1', '2', '3', '5'])
    assert.deepEqual(fast, ['1', '2', '3', '5'])
    await ps.close()
  })

  it('unsubscribe stops delivery and pending redeliveries', async () => {
    const ps = bus({ retryIntervalMs: 1000 })
    let calls = 0
    const stop = await ps.subscribe('t', async () => { calls++; return 'RETRY' })
    await ps.publish('t', enc.encode('x'), 'text/plain')
    await until(() => calls === 1)
    const t0 = Date.now()
    await stop()
    assert.ok(Date.now() - t0 < 500, 'unsubscribe does not wait for the back-off')
    await ps.publish('t', enc.encode('y'), 'text/plain')
    await sleep(20)
    assert.equal(calls, 1)
  })

  it('wildcard subscriptions (SUBSCRIBE_WILDCARDS)', async () => {
    const ps = bus()
    assert.deepEqual(await ps.features(), ['SUBSCRIBE_WILDCARDS'])
    assert.ok(topicMatches('orders.*', 'orders.eu'))
    assert.ok(!topicMatches('orders.*', 'orders.'))
    assert.ok(!topicMatches('orders', 'orders.eu'))
    const got: string[] = []
    await ps.subscribe('orders.*', async (m) => { got.push(m.topic); return 'SUCCESS' })
    await ps.publish('orders.eu', enc.encode('x'), 'text/plain')
    await ps.publish('payments', enc.encode('x'), 'text/plain')
    await until(() => got.length === 1)
    assert.deepEqual(got, ['orders.eu'])
    await ps.close()
  })

  it('rejects an empty topic', async () => {
    const ps = bus()
    await assert.rejects(ps.publish('', enc.encode('x'), 'text/plain'), (err: { status?: number }) => err.status === RuntimeStatus.INVALID_ARGUMENT)
  })
})
