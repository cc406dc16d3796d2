import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { ErrorCode } from '../../../../source/common/errors/codes.js'
import { RegistryImpl } from '../../../../source/common/config/registry-impl.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../source/envoy/runtime-api/component-factory.js'
import type { DeliveryStatus, PubSubMessage } from '../../../../source/envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../source/envoy/runtime-api/errors.js'
import { redisPubSubFactory, setup } from '../../../../source/extensions/runtime/pubsub/redis/config.js'
import type { RedisPubSub } from '../../../../source/extensions/runtime/pubsub/redis/redis-pubsub.js'
import { startRedisServer, type RedisServer } from '../../../helpers/redis-server.js'
import { bytes, rawClient, testContext, text, waitFor } from './util.js'

let server: RedisServer
let raw: Redis
const instances: RedisPubSub[] = []

/** Short redelivery timings so RETRY comes back within a test. */
const FAST = { processingTimeout: '200ms', redeliverInterval: '100ms' }

function newPubSub(extra: Record<string, unknown> = {}, appId = 'app1'): RedisPubSub {
  const p = redisPubSubFactory.create('pubsub', { redisHost: server.address, ...FAST, ...extra }, testContext(appId), 'runtime.pub_subs.pubsub') as RedisPubSub
  instances.push(p)
  return p
}

async function pendingCount(topic: string, group: string): Promise<number> {
  const summary = await raw.xpending(topic, group) as [number, ...unknown[]]
  return Number(summary[0])
}

before(async () => {
  server = await startRedisServer()
  raw = rawClient(server)
})

after(async () => {
  if (server === undefined) return // before() failed: nothing was started
  for (const p of instances) await p.close()
  raw.disconnect()
  await server.stop()
})

describe('pubsub.redis config', () => {
  it('is found by name and by type', () => {
    const r = new RegistryImpl()
    setup(r)
    const c = r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS)
    assert.equal(c.lookup('pubsub.redis', undefined), redisPubSubFactory)
    assert.equal(c.lookup('x', 'type.googleapis.com/pubsub.redis'), redisPubSubFactory)
  })

  for (const [metadata, field] of [
    [{ redisHost: '127.0.0.1:6379', processingTimeout: 'later' }, 'processingTimeout'],
    [{ redisHost: '127.0.0.1:6379', maxLenApprox: '-5' }, 'maxLenApprox'],
    [{ redisHost: '127.0.0.1:6379', concurrency: '0' }, 'concurrency'],
  ] as Array<[Record<string, unknown>, string]>) {
    it(`rejects bad ${field} naming the path`, () => {
      assert.throws(() => redisPubSubFactory.create('p', metadata, testContext(), 'runtime.pub_subs.p'),
        (err: { code: string; message: string }) => err.code === ErrorCode.CONFIG_INVALID && err.message.startsWith(`runtime.pub_subs.p.metadata.${field}:`))
    })
  }

  it('needs a consumer group: consumerID or the app id', () => {
    assert.throws(() => redisPubSubFactory.create('p', { redisHost: '127.0.0.1:6379' }, testContext(''), 'runtime.pub_subs.p'),
      (err: { code: string; message: string }) => err.code === ErrorCode.CONFIG_INVALID && err.message.includes('consumerID'))
    redisPubSubFactory.create('p', { redisHost: '127.0.0.1:6379', consumerID: 'g' }, testContext(''), 'runtime.pub_subs.p')
  })
})

describe('pubsub.redis', () => {
  it('delivers what another instance (a worker) publishes, with content type and metadata', async () => {
    const sub = newPubSub()
    const pub = newPubSub()
    const got: PubSubMessage[] = []
    const stop = await sub.subscribe('orders', async (m) => { got.push(m); return 'SUCCESS' })
    await pub.publish('orders', bytes('{"id":1}'), 'application/json', { traceid: 'abc' })
    await pub.publish('orders', new Uint8Array([0, 1, 255]), '')
    await waitFor('two deliveries', () => got.length === 2)
    assert.equal(got[0]!.topic, 'orders')
    assert.equal(got[0]!.pubsubName, 'pubsub')
    assert.equal(text(got[0]!.data), '{"id":1}')
    assert.equal(got[0]!.contentType, 'application/json')
    assert.deepEqual(got[0]!.metadata, { traceid: 'abc' })
    assert.match(got[0]!.id, /^\d+-\d+$/)
    assert.deepEqual(got[1]!.data, new Uint8Array([0, 1, 255]))
    await waitFor('acks', async () => (await pendingCount('orders', 'app1')) === 0)
    const groups = await raw.call('XINFO', 'GROUPS', 'orders') as unknown[][]
    assert.equal(groups[0]![1], 'app1', 'the consumer group is the app id')
    await stop()
  })

  it('delivers messages published before the subscription (the group starts at the stream start)', async () => {
    const p = newPubSub()
    await p.publish('early', bytes('first'), 'text/plain')
    const got: string[] = []
    const stop = await p.subscribe('early', async (m) => { got.push(text(m.data)!); return 'SUCCESS' })
    await waitFor('the early message', () => got.length === 1)
    assert.deepEqual(got, ['first'])
    await stop()
  })

  it('RETRY redelivers after processingTimeout until SUCCESS; then it is acknowledged', async () => {
    const p = newPubSub()
    const seen: number[] = []
    let attempts = 0
    const stop = await p.subscribe('retry', async () => {
      attempts++
      seen.push(Date.now())
      return attempts < 3 ? 'RETRY' : 'SUCCESS'
    })
    await p.publish('retry', bytes('again'), 'text/plain')
    await waitFor('three attempts', () => attempts === 3)
    assert.ok(seen[1]! - seen[0]! >= 150, `redelivered after ${seen[1]! - seen[0]!} ms, before processingTimeout`)
    await waitFor('the ack', async () => (await pendingCount('retry', 'app1')) === 0)
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(attempts, 3, 'no delivery after SUCCESS')
    await stop()
  })

  it('a throwing handler counts as RETRY', async () => {
    const p = newPubSub()
    let attempts = 0
    const stop = await p.subscribe('throws', async () => {
      attempts++
      if (attempts === 1) throw new Error('app down')
      return 'SUCCESS'
    })
    await p.publish('throws', bytes('x'), '')
    await waitFor('the redelivery', () => attempts === 2)
    await waitFor('the ack', async () => (await pendingCount('throws', 'app1')) === 0)
    await stop()
  })

  it('DROP acknowledges without redelivery', async () => {
    const p = newPubSub()
    let attempts = 0
    const stop = await p.subscribe('drop', async () => { attempts++; return 'DROP' })
    await p.publish('drop', bytes('x'), '')
    await waitFor('the delivery', () => attempts === 1)
    await waitFor('the ack', async () => (await pendingCount('drop', 'app1')) === 0)
    await new Promise((r) => setTimeout(r, 600))
    assert.equal(attempts, 1)
    await stop()
  })

  it('one group shares messages between two instances; each group (app) gets every message', async () => {
    const a = newPubSub()
    const b = newPubSub()
    const other = newPubSub({}, 'app2')
    const byA: string[] = []
    const byB: string[] = []
    const byOther: string[] = []
    const record = (into: string[]) => async (m: PubSubMessage): Promise<DeliveryStatus> => {
      into.push(text(m.data)!)
      await new Promise((r) => setTimeout(r, 5))
      return 'SUCCESS'
    }
    const stops = [
      await a.subscribe('shared', record(byA)),
      await b.subscribe('shared', record(byB)),
      await other.subscribe('shared', record(byOther)),
    ]
    const sent: string[] = []
    for (let i = 0; i < 40; i++) {
      sent.push(`m${i}`)
      await a.publish('shared', bytes(`m${i}`), '')
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 20))
    }
    await waitFor('every message in both groups', () => byA.length + byB.length === 40 && byOther.length === 40)
    assert.deepEqual([...byA, ...byB].sort(), [...sent].sort(), 'app1 got each message once')
    assert.deepEqual([...byOther].sort(), [...sent].sort(), 'app2 got every message')
    for (const s of stops) await s()
  })

  it('a message left pending by one instance is redelivered by another (at least once)', async () => {
    const crashing = newPubSub({ redeliverInterval: '0' })
    let firstAttempts = 0
    const stopFirst = await crashing.subscribe('handoff', async () => { firstAttempts++; return 'RETRY' })
    await crashing.publish('handoff', bytes('important'), '')
    await waitFor('the first attempt', () => firstAttempts === 1)
    await stopFirst()
    assert.equal(await pendingCount('handoff', 'app1'), 1)

    const survivor = newPubSub()
    const got: string[] = []
    const stop = await survivor.subscribe('handoff', async (m) => { got.push(text(m.data)!); return 'SUCCESS' })
    await waitFor('the redelivery', () => got.length === 1)
    assert.deepEqual(got, ['important'])
    await waitFor('the ack', async () => (await pendingCount('handoff', 'app1')) === 0)
    await stop()
  })

  it('consumerID sets the consumer group', async () => {
    const p = newPubSub({ consumerID: 'custom-group' })
    const got: string[] = []
    const stop = await p.subscribe('grouped', async (m) => { got.push(text(m.data)!); return 'SUCCESS' })
    await p.publish('grouped', bytes('x'), '')
    await waitFor('delivery', () => got.length === 1)
    const groups = await raw.call('XINFO', 'GROUPS', 'grouped') as unknown[][]
    assert.equal(groups[0]![1], 'custom-group')
    await stop()
  })

  it('after unsubscribe nothing more is delivered', async () => {
    const p = newPubSub()
    const got: string[] = []
    const stop = await p.subscribe('stopme', async (m) => { got.push(text(m.data)!); return 'SUCCESS' })
    await p.publish('stopme', bytes('1'), '')
    await waitFor('delivery', () => got.length === 1)
    await stop()
    await p.publish('stopme', bytes('2'), '')
    await new Promise((r) => setTimeout(r, 400))
    assert.deepEqual(got, ['1'])
  })

  it('maxLenApprox trims the stream', async () => {
    const p = newPubSub({ maxLenApprox: 10 })
    for (let i = 0; i < 1000; i++) await p.publish('trimmed', bytes(String(i)), '')
    const len = await raw.xlen('trimmed')
    assert.ok(len < 1000 && len >= 10, `XLEN ${len}`)
  })

  it('limits handlers in flight to concurrency', async () => {
    const p = newPubSub({ concurrency: 2 })
    let active = 0
    let peak = 0
    let done = 0
    const stop = await p.subscribe('conc', async () => {
      active++
      peak = Math.max(peak, active)
      await new Promise((r) => setTimeout(r, 20))
      active--
      done++
      return 'SUCCESS'
    })
    for (let i = 0; i < 10; i++) await p.publish('conc', bytes(String(i)), '')
    await waitFor('all deliveries', () => done === 10)
    assert.equal(peak, 2)
    await stop()
  })

  it('publish rejects an empty topic, and fails with UNAVAILABLE without Redis', async () => {
    const p = newPubSub()
    await assert.rejects(p.publish('', bytes('x'), ''), (err: { status: number }) => err.status === RuntimeStatus.INVALID_ARGUMENT)
    const down = redisPubSubFactory.create('pubsub', { redisHost: '127.0.0.1:1' }, testContext(), 'p') as RedisPubSub
    instances.push(down)
    await assert.rejects(down.publish('t', bytes('x'), ''), (err: { status: number; errorCode: string }) =>
      err.status === RuntimeStatus.UNAVAILABLE && err.errorCode === 'ERR_PUBSUB_PUBLISH_MESSAGE')
  })
})
