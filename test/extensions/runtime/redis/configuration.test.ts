import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { ErrorCode } from '../../../../source/common/errors/codes.js'
import { RegistryImpl } from '../../../../source/common/config/registry-impl.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../source/envoy/runtime-api/component-factory.js'
import type { ConfigurationItem } from '../../../../source/envoy/runtime-api/components.js'
import { redisConfigurationFactory, setup } from '../../../../source/extensions/runtime/configuration/redis/config.js'
import type { RedisConfigurationStore } from '../../../../source/extensions/runtime/configuration/redis/redis-configuration-store.js'
import { startRedisServer, type RedisServer } from '../../../helpers/redis-server.js'
import { rawClient, testContext, waitFor } from './util.js'

let server: RedisServer
let raw: Redis
const stores: RedisConfigurationStore[] = []

function newStore(srv: RedisServer = server, extra: Record<string, unknown> = {}): RedisConfigurationStore {
  const s = redisConfigurationFactory.create('configstore', { redisHost: srv.address, ...extra }, testContext(), 'runtime.config_store.configstore') as RedisConfigurationStore
  stores.push(s)
  return s
}

const pick = (items: ConfigurationItem[]): Array<[string, string, string]> =>
  items.map((i) => [i.key, i.value, i.version] as [string, string, string]).sort((a, b) => a[0].localeCompare(b[0]))

before(async () => {
  server = await startRedisServer()
  raw = rawClient(server)
})

after(async () => {
  if (server === undefined) return // before() failed: nothing was started
  for (const s of stores) await s.close()
  raw.disconnect()
  await server.stop()
})

describe('configuration.redis config', () => {
  it('is found by name and by type', () => {
    const r = new RegistryImpl()
    setup(r)
    const c = r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS)
    assert.equal(c.lookup('configuration.redis', undefined), redisConfigurationFactory)
    assert.equal(c.lookup('x', 'type.googleapis.com/configuration.redis'), redisConfigurationFactory)
  })

  it('rejects a bad pollInterval naming the path', () => {
    assert.throws(() => redisConfigurationFactory.create('c', { redisHost: '127.0.0.1:6379', pollInterval: '0' }, testContext(), 'runtime.config_store.c'),
      (err: { code: string; message: string }) => err.code === ErrorCode.CONFIG_INVALID && err.message.startsWith('runtime.config_store.c.metadata.pollInterval:'))
  })
})

describe('configuration.redis', () => {
  it('gets items stored as value||version (MSET as in Dapr\'s docs)', async () => {
    await raw.mset('orderId1', '101||1', 'orderId2', '102', 'weird', 'a||b||3')
    await raw.hset('not-config', 'f', 'v')
    const s = newStore()
    assert.deepEqual(pick(await s.get(['orderId1', 'orderId2', 'missing', 'not-config'])), [
      ['orderId1', '101', '1'],
      ['orderId2', '102', ''],
    ])
    assert.deepEqual(pick(await s.get(['weird'])), [['weird', 'a||b', '3']])
    const all = pick(await s.get([]))
    assert.ok(all.some(([k]) => k === 'orderId1') && all.some(([k]) => k === 'weird'))
    assert.ok(!all.some(([k]) => k === 'not-config'))
  })

  it('subscription reports updates and deletes of its keys only (keyspace notifications)', async () => {
    await raw.set('sub1', 'a||1')
    const s = newStore()
    const seen: ConfigurationItem[][] = []
    const stop = await s.subscribe(['sub1', 'sub2'], (items) => seen.push(items))
    const flags = (await raw.config('GET', 'notify-keyspace-events') as string[])[1]!
    for (const f of ['K', '$', 'g', 'x']) assert.ok(flags.includes(f) || (flags.includes('A') && f !== 'K'), `flags ${flags}`)

    await raw.set('sub1', 'b||2')
    await waitFor('the update', () => seen.length === 1)
    assert.deepEqual(pick(seen[0]!), [['sub1', 'b', '2']])
    await raw.set('unrelated', 'x||1')
    await raw.set('sub2', 'new||1')
    await waitFor('the second update', () => seen.length === 2)
    assert.deepEqual(pick(seen[1]!), [['sub2', 'new', '1']])
    await raw.del('sub1')
    await waitFor('the delete', () => seen.length === 3)
    assert.deepEqual(pick(seen[2]!), [['sub1', '', '']])
    await stop()
    await raw.set('sub2', 'after||2')
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(seen.length, 3, 'nothing after stop')
  })

  it('a subscription to no keys follows every key, expiry included', async () => {
    const s = newStore()
    const seen: ConfigurationItem[] = []
    const stop = await s.subscribe([], (items) => seen.push(...items))
    await raw.set('any-key', 'v||9', 'PX', 300)
    await waitFor('the update', () => seen.some((i) => i.key === 'any-key' && i.value === 'v'))
    await waitFor('the expiry', () => seen.some((i) => i.key === 'any-key' && i.value === ''), 5000)
    await stop()
  })

  it('save writes value||version, counting versions when none is given; delete removes', async () => {
    const s = newStore()
    await s.save([{ key: 'saved', value: 'v1', version: '' }, { key: 'pinned', value: 'p', version: '7' }])
    assert.equal(await raw.get('saved'), 'v1||1')
    assert.equal(await raw.get('pinned'), 'p||7')
    await s.save([{ key: 'saved', value: 'v2', version: '' }])
    assert.deepEqual(pick(await s.get(['saved', 'pinned'])), [['pinned', 'p', '7'], ['saved', 'v2', '2']])
    await s.delete(['saved', 'pinned'])
    assert.equal(await raw.exists('saved', 'pinned'), 0)
  })

  it('a subscriber sees Layotto saves from another instance', async () => {
    const watcher = newStore()
    const writer = newStore()
    const seen: ConfigurationItem[] = []
    const stop = await watcher.subscribe(['feature'], (items) => seen.push(...items))
    await writer.save([{ key: 'feature', value: 'on', version: '' }])
    await waitFor('the update', () => seen.length === 1)
    assert.deepEqual(pick(seen), [['feature', 'on', '1']])
    await stop()
  })

  it('polls when CONFIG is not allowed', async () => {
    const locked = await startRedisServer({ args: ['--rename-command', 'CONFIG', ''] })
    const r = rawClient(locked)
    try {
      const s = newStore(locked, { pollInterval: '100ms' })
      const seen: ConfigurationItem[] = []
      const stop = await s.subscribe(['polled'], (items) => seen.push(...items))
      await r.set('polled', 'x||1')
      await waitFor('the polled update', () => seen.length === 1)
      assert.deepEqual(pick(seen), [['polled', 'x', '1']])
      await r.del('polled')
      await waitFor('the polled delete', () => seen.length === 2)
      assert.deepEqual(pick([seen[1]!]), [['polled', '', '']])
      await stop()
      await s.close()
    } finally {
      r.disconnect()
      await locked.stop()
    }
  })

  it('keeps its subscription across a Redis restart', async () => {
    const srv = await startRedisServer()
    const r = rawClient(srv)
    try {
      await r.set('survivor', 'a||1')
      const s = newStore(srv, { maxRetryBackoff: '100ms' })
      const seen: ConfigurationItem[] = []
      const stop = await s.subscribe(['survivor'], (items) => seen.push(...items))
      await srv.restart()
      // The new server is empty: the lost key is reported once the subscriber is back.
      await waitFor('the catch-up', () => seen.some((i) => i.key === 'survivor' && i.value === ''), 10_000)
      await waitFor('the raw client', async () => { try { return (await r.ping()) === 'PONG' } catch { return false } })
      await r.set('survivor', 'b||2')
      await waitFor('the update after the restart', () => seen.some((i) => i.value === 'b'), 10_000)
      await stop()
      await s.close()
    } finally {
      r.disconnect()
      await srv.stop()
    }
  })
})
