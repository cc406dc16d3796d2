import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { ErrorCode } from '../../../../source/common/errors/codes.js'
import { RegistryImpl } from '../../../../source/common/config/registry-impl.js'
import { RuntimeStatus } from '../../../../source/envoy/runtime-api/errors.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../source/envoy/runtime-api/component-factory.js'
import { redisLockFactory, setup } from '../../../../source/extensions/runtime/lock/redis/config.js'
import type { RedisLockStore } from '../../../../source/extensions/runtime/lock/redis/redis-lock-store.js'
import { startRedisServer, type RedisServer } from '../../../helpers/redis-server.js'
import { rawClient, testContext, waitFor } from './util.js'

let server: RedisServer
let raw: Redis
const locks: RedisLockStore[] = []

function newLock(extra: Record<string, unknown> = {}, appId = 'app1'): RedisLockStore {
  const l = redisLockFactory.create('lockstore', { redisHost: server.address, ...extra }, testContext(appId), 'runtime.lock.lockstore') as RedisLockStore
  locks.push(l)
  return l
}

before(async () => {
  server = await startRedisServer()
  raw = rawClient(server)
})

after(async () => {
  if (server === undefined) return // before() failed: nothing was started
  for (const l of locks) await l.close()
  raw.disconnect()
  await server.stop()
})

describe('lock.redis config', () => {
  it('is found by name and by type', () => {
    const r = new RegistryImpl()
    setup(r)
    const c = r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS)
    assert.equal(c.lookup('lock.redis', undefined), redisLockFactory)
    assert.equal(c.lookup('x', 'type.googleapis.com/lock.redis'), redisLockFactory)
  })

  it('rejects missing redisHost naming the path', () => {
    assert.throws(() => redisLockFactory.create('l', {}, testContext(), 'runtime.lock.l'),
      (err: { code: string; message: string }) => err.code === ErrorCode.CONFIG_INVALID && err.message.startsWith('runtime.lock.l.metadata.redisHost:'))
  })
})

describe('lock.redis', () => {
  it('only one of two contenders (two workers) gets the lock; only the owner unlocks', async () => {
    const a = newLock()
    const b = newLock()
    const results = await Promise.all([a.tryLock('res', 'owner-a', 10), b.tryLock('res', 'owner-b', 10)])
    assert.deepEqual(results.filter(Boolean).length, 1)
    const [winner, loser] = results[0] ? ['owner-a', 'owner-b'] : ['owner-b', 'owner-a']
    assert.equal(await raw.get('lock||app1||res'), winner)
    assert.equal(await a.tryLock('res', loser, 10), false)
    assert.equal(await a.unlock('res', loser), 'LOCK_BELONGS_TO_OTHERS')
    assert.equal(await b.unlock('res', winner), 'SUCCESS')
    assert.equal(await b.unlock('res', winner), 'LOCK_DOES_NOT_EXIST')
    assert.equal(await a.tryLock('res', loser, 10), true)
    assert.equal(await a.unlock('res', loser), 'SUCCESS')
  })

  it('the same owner cannot take its lock twice (not reentrant, as Dapr)', async () => {
    const a = newLock()
    assert.equal(await a.tryLock('re', 'o', 10), true)
    assert.equal(await a.tryLock('re', 'o', 10), false)
    assert.equal(await a.unlock('re', 'o'), 'SUCCESS')
  })

  it('expiry frees the lock', async () => {
    const a = newLock()
    assert.equal(await a.tryLock('exp', 'o1', 1), true)
    const pttl = await raw.pttl('lock||app1||exp')
    assert.ok(pttl > 0 && pttl <= 1000, `pttl ${pttl}`)
    await waitFor('the lock to expire', async () => (await raw.exists('lock||app1||exp')) === 0, 5000)
    assert.equal(await a.unlock('exp', 'o1'), 'LOCK_DOES_NOT_EXIST')
    assert.equal(await a.tryLock('exp', 'o2', 10), true)
  })

  it('keepAlive extends the lease for the owner only', async () => {
    const a = newLock()
    assert.equal(await a.tryLock('ka', 'o1', 1), true)
    assert.equal(await a.keepAlive('ka', 'o2', 100), false)
    assert.ok((await raw.pttl('lock||app1||ka')) <= 1000)
    assert.equal(await a.keepAlive('ka', 'o1', 100), true)
    assert.ok((await raw.pttl('lock||app1||ka')) > 90_000)
    assert.equal(await a.keepAlive('nope', 'o1', 100), false)
  })

  it('rejects bad arguments with INVALID_ARGUMENT', async () => {
    const a = newLock()
    for (const p of [a.tryLock('', 'o', 1), a.tryLock('r', '', 1), a.tryLock('r', 'o', 0), a.unlock('', 'o')]) {
      await assert.rejects(p, (err: { status: number }) => err.status === RuntimeStatus.INVALID_ARGUMENT)
    }
  })

  it('keyPrefix none uses the resource id as the key; app ids keep apps apart', async () => {
    assert.equal(await newLock({ keyPrefix: 'none' }).tryLock('bare', 'o', 10), true)
    assert.equal(await raw.get('bare'), 'o')
    assert.equal(await newLock({}, 'app1').tryLock('per-app', 'o', 10), true)
    assert.equal(await newLock({}, 'app2').tryLock('per-app', 'o', 10), true)
  })
})
