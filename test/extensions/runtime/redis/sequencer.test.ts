import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { ErrorCode } from '../../../../source/common/errors/codes.js'
import { RegistryImpl } from '../../../../source/common/config/registry-impl.js'
import { RuntimeStatus } from '../../../../source/envoy/runtime-api/errors.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../source/envoy/runtime-api/component-factory.js'
import { redisSequencerFactory, setup } from '../../../../source/extensions/runtime/sequencer/redis/config.js'
import type { RedisSequencer } from '../../../../source/extensions/runtime/sequencer/redis/redis-sequencer.js'
import { startRedisServer, type RedisServer } from '../../../helpers/redis-server.js'
import { rawClient, testContext } from './util.js'

let server: RedisServer
let raw: Redis
const seqs: RedisSequencer[] = []

function newSequencer(extra: Record<string, unknown> = {}): RedisSequencer {
  const s = redisSequencerFactory.create('sequencer', { redisHost: server.address, ...extra }, testContext(), 'runtime.sequencer.sequencer') as RedisSequencer
  seqs.push(s)
  return s
}

before(async () => {
  server = await startRedisServer()
  raw = rawClient(server)
})

after(async () => {
  if (server === undefined) return // before() failed: nothing was started
  for (const s of seqs) await s.close()
  raw.disconnect()
  await server.stop()
})

describe('sequencer.redis config', () => {
  it('is found by name and by type', () => {
    const r = new RegistryImpl()
    setup(r)
    const c = r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS)
    assert.equal(c.lookup('sequencer.redis', undefined), redisSequencerFactory)
    assert.equal(c.lookup('x', 'type.googleapis.com/sequencer.redis'), redisSequencerFactory)
  })

  it('rejects a bad biggerThan naming the path', () => {
    assert.throws(() => redisSequencerFactory.create('q', { redisHost: '127.0.0.1:6379', biggerThan: { k: 'x' } }, testContext(), 'runtime.sequencer.q'),
      (err: { code: string; message: string }) => err.code === ErrorCode.CONFIG_INVALID && err.message.startsWith('runtime.sequencer.q.metadata.biggerThan.k:'))
  })
})

describe('sequencer.redis', () => {
  it('ids strictly increase across two instances (two workers) under concurrency', async () => {
    const w1 = newSequencer()
    const w2 = newSequencer()
    const calls: Array<Promise<{ from: number; id: bigint }>> = []
    for (let i = 0; i < 200; i++) {
      const w = i % 2 === 0 ? w1 : w2
      calls.push(w.nextId('orders').then((id) => ({ from: i % 2, id })))
    }
    const all = await Promise.all(calls)
    const ids = all.map((x) => x.id)
    assert.equal(new Set(ids).size, 200, 'no id is handed out twice')
    for (const from of [0, 1]) {
      const mine = all.filter((x) => x.from === from).map((x) => x.id)
      for (let i = 1; i < mine.length; i++) assert.ok(mine[i]! > mine[i - 1]!, 'each worker sees increasing ids')
    }
    const next = await w1.nextId('orders')
    assert.ok(ids.every((id) => id < next))
    assert.equal(await raw.get('app1||orders'), String(next))
  })

  it('keys are independent', async () => {
    const s = newSequencer()
    assert.equal(await s.nextId('a'), 1n)
    assert.equal(await s.nextId('b'), 1n)
    assert.equal(await s.nextId('a', { increment: 'STRONG' }), 2n)
  })

  it('is exact past 2^53', async () => {
    await raw.set('app1||big', '9007199254740993')
    assert.equal(await newSequencer().nextId('big'), 9007199254740994n)
  })

  it('biggerThan starts ids above the floor', async () => {
    const s = newSequencer({ biggerThan: { floor: 1000 } })
    assert.equal(await s.nextId('floor'), 1001n)
    assert.equal(await s.nextId('floor'), 1002n)
    assert.equal(await s.nextId('nofloor'), 1n)
  })

  it('rejects an empty key', async () => {
    await assert.rejects(newSequencer().nextId(''), (err: { status: number }) => err.status === RuntimeStatus.INVALID_ARGUMENT)
  })
})
