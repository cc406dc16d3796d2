import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { ErrorCode } from '../../../../source/common/errors/codes.js'
import { RegistryImpl } from '../../../../source/common/config/registry-impl.js'
import { RuntimeStatus } from '../../../../source/envoy/runtime-api/errors.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../source/envoy/runtime-api/component-factory.js'
import type { StateStore } from '../../../../source/envoy/runtime-api/components.js'
import { redisStateFactory, setup } from '../../../../source/extensions/runtime/state/redis/config.js'
import type { RedisStateStore } from '../../../../source/extensions/runtime/state/redis/redis-state-store.js'
import { startRedisServer, type RedisServer } from '../../../helpers/redis-server.js'
import { bytes, rawClient, testContext, text, waitFor } from './util.js'

let server: RedisServer
let raw: Redis
const stores: StateStore[] = []

function newStore(extra: Record<string, unknown> = {}, name = 'statestore', appId = 'app1'): StateStore {
  const s = redisStateFactory.create(name, { redisHost: server.address, ...extra }, testContext(appId), 'runtime.state.statestore')
  stores.push(s)
  return s
}

async function rejectsWith(p: Promise<unknown>, status: number, match?: RegExp): Promise<void> {
  await assert.rejects(p, (err: { status?: number; errorCode?: string; message: string }) => {
    assert.equal(err.status, status, `status of: ${err.message}`)
    assert.equal(typeof err.errorCode, 'string')
    if (match !== undefined) assert.match(err.message, match)
    return true
  })
}

before(async () => {
  server = await startRedisServer()
  raw = rawClient(server)
})

after(async () => {
  if (server === undefined) return // before() failed: nothing was started
  for (const s of stores) await (s as RedisStateStore).close()
  raw.disconnect()
  await server.stop()
})

describe('state.redis config', () => {
  it('is found by name and by type', () => {
    const r = new RegistryImpl()
    setup(r)
    const c = r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS)
    assert.equal(c.lookup('state.redis', undefined), redisStateFactory)
    assert.equal(c.lookup('other', 'type.googleapis.com/state.redis'), redisStateFactory)
    assert.equal(redisStateFactory.kind, 'state')
    assert.equal(redisStateFactory.type, 'redis')
    assert.equal(redisStateFactory.embedded, false)
  })

  it('accepts Dapr metadata (numbers and strings alike)', () => {
    newStore({ redisPassword: '', redisDB: 0, maxRetries: '2', dialTimeout: '2s', readTimeout: 1500, enableTLS: 'false', ttlInSeconds: 60 })
  })

  for (const [metadata, field] of [
    [{}, 'redisHost'],
    [{ redisHost: 'localhost' }, 'redisHost'],
    [{ redisHost: 'a:1,b:2' }, 'redisHost'],
    [{ redisHost: '127.0.0.1:6379', enableTLS: true }, 'enableTLS'],
    [{ redisHost: '127.0.0.1:6379', redisDB: 'x' }, 'redisDB'],
    [{ redisHost: '127.0.0.1:6379', dialTimeout: 'soon' }, 'dialTimeout'],
    [{ redisHost: '127.0.0.1:6379', redisType: 'cluster' }, 'redisType'],
    [{ redisHost: '127.0.0.1:6379', keyPrefix: 'a||b' }, 'keyPrefix'],
  ] as Array<[Record<string, unknown>, string]>) {
    it(`rejects bad ${field} ${JSON.stringify(metadata)} naming the path`, () => {
      assert.throws(() => redisStateFactory.create('s', metadata, testContext(), 'runtime.state.s'), (err: { code: string; message: string }) => {
        assert.equal(err.code, ErrorCode.CONFIG_INVALID)
        assert.match(err.message, new RegExp(`^runtime\\.state\\.s\\.metadata\\.${field}: `))
        return true
      })
    })
  }
})

describe('state.redis', () => {
  it('reports its features', async () => {
    assert.deepEqual((await newStore().features()).sort(), ['ETAG', 'TRANSACTIONAL', 'TTL'])
  })

  it('saves as Dapr does (hash of data and version, key <appid>||<key>) and bumps the etag', async () => {
    const s = newStore()
    assert.deepEqual(await s.get('k1'), { value: undefined })
    await s.set([{ key: 'k1', value: bytes('"v1"') }])
    let r = await s.get('k1')
    assert.equal(text(r.value), '"v1"')
    assert.equal(r.etag, '1')
    assert.deepEqual(await raw.hgetall('app1||k1'), { data: '"v1"', version: '1' })
    assert.equal(r.contentType, undefined)
    await s.set([{ key: 'k1', value: bytes('"v2"') }])
    r = await s.get('k1')
    assert.equal(text(r.value), '"v2"')
    assert.equal(r.etag, '2')
  })

  it('keeps binary values intact', async () => {
    const s = newStore()
    const value = new Uint8Array([0, 255, 1, 128, 10, 13, 0])
    await s.set([{ key: 'bin', value }])
    assert.deepEqual((await s.get('bin')).value, value)
  })

  it('first-write: a stale or unknown etag fails with ABORTED, the right one wins', async () => {
    const s = newStore()
    await s.set([{ key: 'fw', value: bytes('a') }])
    await rejectsWith(s.set([{ key: 'fw', value: bytes('b'), etag: '7', concurrency: 'first-write' }]), RuntimeStatus.FAILED_PRECONDITION, /etag mismatch.*fw/)
    await rejectsWith(s.set([{ key: 'fw', value: bytes('b'), etag: '7' }]), RuntimeStatus.FAILED_PRECONDITION)
    await rejectsWith(s.set([{ key: 'missing', value: bytes('b'), etag: '1' }]), RuntimeStatus.FAILED_PRECONDITION)
    assert.equal(text((await s.get('fw')).value), 'a')
    await s.set([{ key: 'fw', value: bytes('b'), etag: '1', concurrency: 'first-write' }])
    const r = await s.get('fw')
    assert.equal(text(r.value), 'b')
    assert.equal(r.etag, '2')
    // The etag a second writer read is now stale.
    await rejectsWith(s.set([{ key: 'fw', value: bytes('c'), etag: '1', concurrency: 'first-write' }]), RuntimeStatus.FAILED_PRECONDITION)
  })

  it('first-write without an etag only creates', async () => {
    const s = newStore()
    await s.set([{ key: 'create-only', value: bytes('1'), concurrency: 'first-write' }])
    await rejectsWith(s.set([{ key: 'create-only', value: bytes('2'), concurrency: 'first-write' }]), RuntimeStatus.FAILED_PRECONDITION)
    assert.equal(text((await s.get('create-only')).value), '1')
  })

  it('last-write ignores etags', async () => {
    const s = newStore()
    await s.set([{ key: 'lw', value: bytes('a') }])
    await s.set([{ key: 'lw', value: bytes('b'), etag: '99', concurrency: 'last-write' }])
    assert.equal(text((await s.get('lw')).value), 'b')
  })

  it('rejects a malformed etag with INVALID_ARGUMENT', async () => {
    const s = newStore()
    await rejectsWith(s.set([{ key: 'x', value: bytes('a'), etag: 'abc' }]), RuntimeStatus.INVALID_ARGUMENT, /etag/)
    await rejectsWith(s.delete('x', 'abc'), RuntimeStatus.INVALID_ARGUMENT)
  })

  it('delete checks the etag', async () => {
    const s = newStore()
    await s.set([{ key: 'd', value: bytes('a') }])
    await rejectsWith(s.delete('d', '5'), RuntimeStatus.FAILED_PRECONDITION, /\bd\b/)
    assert.equal(text((await s.get('d')).value), 'a')
    await s.delete('d', '1')
    assert.equal((await s.get('d')).value, undefined)
    await s.delete('d') // absent: fine without an etag
    await rejectsWith(s.delete('d', '1'), RuntimeStatus.FAILED_PRECONDITION)
  })

  it('bulk get returns every key, missing ones without a value', async () => {
    const s = newStore()
    await s.set([{ key: 'b1', value: bytes('1') }, { key: 'b2', value: bytes('2') }])
    const r = await s.bulkGet(['b1', 'nope', 'b2'])
    assert.deepEqual(r.map((x) => [x.key, text(x.value), x.etag]), [['b1', '1', '1'], ['nope', undefined, undefined], ['b2', '2', '1']])
    assert.deepEqual(await s.bulkGet([]), [])
  })

  it('bulk set is all or nothing', async () => {
    const s = newStore()
    await s.set([{ key: 'm1', value: bytes('old') }])
    await rejectsWith(s.set([
      { key: 'm2', value: bytes('new') },
      { key: 'm1', value: bytes('new'), etag: '9' },
    ]), RuntimeStatus.FAILED_PRECONDITION, /m1/)
    assert.equal((await s.get('m2')).value, undefined)
    assert.equal(text((await s.get('m1')).value), 'old')
  })

  it('bulk delete removes every key', async () => {
    const s = newStore()
    await s.set([{ key: 'bd1', value: bytes('1') }, { key: 'bd2', value: bytes('2') }])
    await rejectsWith(s.bulkDelete([{ key: 'bd1' }, { key: 'bd2', etag: '3' }]), RuntimeStatus.FAILED_PRECONDITION)
    assert.equal(await raw.exists('app1||bd1', 'app1||bd2'), 2)
    await s.bulkDelete([{ key: 'bd1' }, { key: 'bd2', etag: '1' }])
    assert.equal(await raw.exists('app1||bd1', 'app1||bd2'), 0)
  })

  it('transactions are atomic: one failing etag aborts every operation', async () => {
    const s = newStore()
    await s.set([{ key: 'ta', value: bytes('a0') }, { key: 'tb', value: bytes('b0') }, { key: 'tc', value: bytes('c0') }])
    await rejectsWith(s.transaction([
      { op: 'upsert', item: { key: 'ta', value: bytes('a1') } },
      { op: 'delete', key: 'tb' },
      { op: 'upsert', item: { key: 'td', value: bytes('d1') } },
      { op: 'upsert', item: { key: 'tc', value: bytes('c1'), etag: '2', concurrency: 'first-write' } },
    ]), RuntimeStatus.FAILED_PRECONDITION, /tc/)
    assert.deepEqual((await s.bulkGet(['ta', 'tb', 'tc', 'td'])).map((r) => text(r.value)), ['a0', 'b0', 'c0', undefined])

    await s.transaction([
      { op: 'upsert', item: { key: 'ta', value: bytes('a1') } },
      { op: 'delete', key: 'tb', etag: '1' },
      { op: 'upsert', item: { key: 'td', value: bytes('d1') } },
      { op: 'upsert', item: { key: 'tc', value: bytes('c1'), etag: '1', concurrency: 'first-write' } },
    ])
    const r = await s.bulkGet(['ta', 'tb', 'tc', 'td'])
    assert.deepEqual(r.map((x) => [text(x.value), x.etag]), [['a1', '2'], [undefined, undefined], ['c1', '2'], ['d1', '1']])
  })

  it('a transaction sees its own earlier operations on a key', async () => {
    const s = newStore()
    await s.set([{ key: 'same', value: bytes('v0') }])
    // Deleted earlier in the batch: a first-write create is fine, an etag cannot match.
    await s.transaction([
      { op: 'delete', key: 'same' },
      { op: 'upsert', item: { key: 'same', value: bytes('v1'), concurrency: 'first-write' } },
    ])
    assert.equal(text((await s.get('same')).value), 'v1')
    await rejectsWith(s.transaction([
      { op: 'delete', key: 'same' },
      { op: 'upsert', item: { key: 'same', value: bytes('v2'), etag: '1' } },
    ]), RuntimeStatus.FAILED_PRECONDITION, /does not exist/)
    // Written earlier in the batch: its new etag is unknown to the caller.
    const etag = (await s.get('same')).etag!
    await rejectsWith(s.transaction([
      { op: 'upsert', item: { key: 'same', value: bytes('v3') } },
      { op: 'upsert', item: { key: 'same', value: bytes('v4'), etag } },
    ]), RuntimeStatus.FAILED_PRECONDITION)
    assert.equal(text((await s.get('same')).value), 'v1')
  })

  it('keeps the content type', async () => {
    const s = newStore()
    await s.set([{ key: 'ct', value: bytes('{}'), contentType: 'application/json' }, { key: 'ct2', value: bytes('x'), metadata: { contentType: 'text/plain' } }])
    assert.equal((await s.get('ct')).contentType, 'application/json')
    assert.equal((await s.get('ct2')).contentType, 'text/plain')
    await s.set([{ key: 'ct', value: bytes('y') }])
    assert.equal((await s.get('ct')).contentType, undefined)
  })

  it('ttlInSeconds expires the key; -1 removes the expiry', async () => {
    const s = newStore()
    await s.set([{ key: 'ttl', value: bytes('short'), metadata: { ttlInSeconds: '1' } }])
    const r = await s.get('ttl')
    assert.equal(text(r.value), 'short')
    const expire = Date.parse(r.metadata?.['ttlExpireTime'] ?? '')
    assert.ok(expire > Date.now() && expire <= Date.now() + 1500, `ttlExpireTime ${r.metadata?.['ttlExpireTime']}`)
    await waitFor('the key to expire', async () => (await raw.exists('app1||ttl')) === 0, 5000)
    assert.equal((await s.get('ttl')).value, undefined)

    await s.set([{ key: 'ttl2', value: bytes('x'), metadata: { ttlInSeconds: '100' } }])
    assert.ok((await raw.ttl('app1||ttl2')) > 90)
    await s.set([{ key: 'ttl2', value: bytes('y'), metadata: { ttlInSeconds: '-1' } }])
    assert.equal(await raw.ttl('app1||ttl2'), -1)
    await rejectsWith(s.set([{ key: 'ttl3', value: bytes('z'), metadata: { ttlInSeconds: 'soon' } }]), RuntimeStatus.INVALID_ARGUMENT, /ttlInSeconds/)
  })

  it('the component ttlInSeconds applies to writes without one', async () => {
    const s = newStore({ ttlInSeconds: '1' }, 'ttlstore')
    await s.set([{ key: 'dflt', value: bytes('x') }])
    assert.ok((await raw.pttl('app1||dflt')) > 0)
    await s.transaction([{ op: 'upsert', item: { key: 'dflt2', value: bytes('x') } }])
    await waitFor('both keys to expire', async () => (await raw.exists('app1||dflt', 'app1||dflt2')) === 0, 5000)
  })

  it('keyPrefix: name, none, custom, and app ids keep apps apart', async () => {
    await newStore({ keyPrefix: 'name' }, 'shared').set([{ key: 'k', value: bytes('n') }])
    assert.equal(await raw.hget('shared||k', 'data'), 'n')
    await newStore({ keyPrefix: 'none' }).set([{ key: 'plain', value: bytes('p') }])
    assert.equal(await raw.hget('plain', 'data'), 'p')
    await newStore({ keyPrefix: 'team' }).set([{ key: 'k', value: bytes('t') }])
    assert.equal(await raw.hget('team||k', 'data'), 't')
    const other = newStore({}, 'statestore', 'app2')
    assert.equal((await other.get('k1')).value, undefined)
  })

  it('reads a plain string written by another tool, without an etag', async () => {
    await raw.set('app1||legacy', 'hello')
    const s = newStore()
    const r = await s.get('legacy')
    assert.equal(text(r.value), 'hello')
    assert.equal(r.etag, undefined)
    await s.set([{ key: 'legacy', value: bytes('new') }])
    assert.deepEqual(await raw.hgetall('app1||legacy'), { data: 'new', version: '1' })
  })

  it('writes from two instances (two workers) see each other, and etags guard them', async () => {
    const w1 = newStore()
    const w2 = newStore()
    await w1.set([{ key: 'shared', value: bytes('from w1') }])
    const r = await w2.get('shared')
    assert.equal(text(r.value), 'from w1')
    await w2.set([{ key: 'shared', value: bytes('from w2'), etag: r.etag!, concurrency: 'first-write' }])
    await rejectsWith(w1.set([{ key: 'shared', value: bytes('late'), etag: r.etag!, concurrency: 'first-write' }]), RuntimeStatus.FAILED_PRECONDITION)
    assert.equal(text((await w1.get('shared')).value), 'from w2')
  })
})
