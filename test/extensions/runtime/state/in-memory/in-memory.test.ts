import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../../source/envoy/runtime-api/component-factory.js'
import { RuntimeStatus } from '../../../../../source/envoy/runtime-api/errors.js'
import { inMemoryStateFactory, setup } from '../../../../../source/extensions/runtime/state/in-memory/config.js'
import { InMemoryStateStore } from '../../../../../source/extensions/runtime/state/in-memory/in-memory.js'

const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : new TextDecoder().decode(u))

async function rejectsWith(p: Promise<unknown>, status: number, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: { status?: number; message: string }) => {
    assert.equal(err.status, status)
    assert.match(err.message, re)
    return true
  })
}

describe('state.in-memory', () => {
  it('registers as state.in-memory, embedded', () => {
    const r = new RegistryImpl()
    setup(r)
    assert.equal(r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).lookup('state.in-memory', undefined), inMemoryStateFactory)
    assert.equal(inMemoryStateFactory.embedded, true)
  })

  it('saves, reads and deletes with etags as versions', async () => {
    const s = new InMemoryStateStore()
    assert.deepEqual(await s.features(), ['ETAG', 'TRANSACTIONAL', 'TTL'])
    assert.equal((await s.get('k')).value, undefined)
    await s.set([{ key: 'k', value: b('v1') }])
    const first = await s.get('k')
    assert.equal(text(first.value), 'v1')
    await s.set([{ key: 'k', value: b('v2'), etag: first.etag! }])
    const second = await s.get('k')
    assert.equal(text(second.value), 'v2')
    assert.notEqual(second.etag, first.etag)
    // The old etag no longer matches; the write changes nothing.
    await rejectsWith(s.set([{ key: 'k', value: b('v3'), etag: first.etag! }]), RuntimeStatus.FAILED_PRECONDITION, /etag mismatch/)
    assert.equal(text((await s.get('k')).value), 'v2')
    await rejectsWith(s.delete('k', first.etag), RuntimeStatus.FAILED_PRECONDITION, /etag/)
    await rejectsWith(s.set([{ key: 'k', value: b('x'), etag: 'not-a-version' }]), RuntimeStatus.INVALID_ARGUMENT, /invalid etag/)
    await s.delete('k', second.etag)
    assert.equal((await s.get('k')).value, undefined)
    // An etag for a key that does not exist is a mismatch; a delete without one is a no-op.
    await rejectsWith(s.set([{ key: 'k', value: b('x'), etag: second.etag! }]), RuntimeStatus.FAILED_PRECONDITION, /does not exist/)
    await s.delete('k')
  })

  it('first-write needs an etag to update, last-write always wins', async () => {
    const s = new InMemoryStateStore()
    await s.set([{ key: 'k', value: b('a'), concurrency: 'first-write' }])
    await rejectsWith(s.set([{ key: 'k', value: b('b'), concurrency: 'first-write' }]), RuntimeStatus.FAILED_PRECONDITION, /already exists/)
    await s.set([{ key: 'k', value: b('c'), concurrency: 'last-write' }])
    assert.equal(text((await s.get('k')).value), 'c')
  })

  it('a multi-item save is all or nothing', async () => {
    const s = new InMemoryStateStore()
    await s.set([{ key: 'a', value: b('1') }])
    await rejectsWith(s.set([{ key: 'b', value: b('2') }, { key: 'a', value: b('x'), etag: '999' }]), RuntimeStatus.FAILED_PRECONDITION, /etag/)
    assert.equal((await s.get('b')).value, undefined)
  })

  it('expires items after ttlInSeconds and reports ttlExpireTime', async () => {
    let now = 1_000_000
    const s = new InMemoryStateStore(() => now)
    await s.set([{ key: 't', value: b('x'), metadata: { ttlInSeconds: '2' } }, { key: 'p', value: b('y'), metadata: { ttlInSeconds: '-1' } }])
    const got = await s.get('t')
    assert.equal(got.metadata?.['ttlExpireTime'], new Date(now + 2000).toISOString())
    now += 1999
    assert.equal(text((await s.get('t')).value), 'x')
    now += 1
    assert.equal((await s.get('t')).value, undefined)
    assert.equal(text((await s.get('p')).value), 'y')
    await rejectsWith(s.set([{ key: 'z', value: b('x'), metadata: { ttlInSeconds: 'soon' } }]), RuntimeStatus.INVALID_ARGUMENT, /ttlInSeconds/)
    s.close()
  })

  it('runs transactions atomically, checking each operation against the earlier ones', async () => {
    const s = new InMemoryStateStore()
    await s.set([{ key: 'a', value: b('1') }, { key: 'gone', value: b('x') }])
    const a = await s.get('a')
    await s.transaction([
      { op: 'upsert', item: { key: 'a', value: b('2'), etag: a.etag! } },
      { op: 'upsert', item: { key: 'b', value: b('3') } },
      { op: 'delete', key: 'gone' },
    ])
    assert.equal(text((await s.get('a')).value), '2')
    assert.equal(text((await s.get('b')).value), '3')
    assert.equal((await s.get('gone')).value, undefined)
    // The second operation fails: the first is not applied either.
    await rejectsWith(s.transaction([
      { op: 'upsert', item: { key: 'c', value: b('4') } },
      { op: 'delete', key: 'a', etag: a.etag! },
    ]), RuntimeStatus.FAILED_PRECONDITION, /etag/)
    assert.equal((await s.get('c')).value, undefined)
    // A key deleted earlier in the same transaction does not exist for a later etag check.
    const b1 = await s.get('b')
    await rejectsWith(s.transaction([{ op: 'delete', key: 'b' }, { op: 'upsert', item: { key: 'b', value: b('5'), etag: b1.etag! } }]), RuntimeStatus.FAILED_PRECONDITION, /does not exist/)
    assert.equal(text((await s.get('b')).value), '3')
  })

  it('bulk get and bulk delete', async () => {
    const s = new InMemoryStateStore()
    await s.set([{ key: 'a', value: b('1') }, { key: 'b', value: b('2') }])
    const got = await s.bulkGet(['a', 'b', 'c'])
    assert.deepEqual(got.map((g) => [g.key, text(g.value)]), [['a', '1'], ['b', '2'], ['c', undefined]])
    await rejectsWith(s.bulkDelete([{ key: 'a' }, { key: 'b', etag: '12345' }]), RuntimeStatus.FAILED_PRECONDITION, /etag/)
    assert.equal(s.size(), 2)
    await s.bulkDelete([{ key: 'a' }, { key: 'b', etag: got[1]!.etag! }])
    assert.equal(s.size(), 0)
  })

  it('keeps keys and bytes within its limits; expired items make room (issue 18)', async () => {
    let now = 1_000
    const s = new InMemoryStateStore(() => now, { maxKeys: 2, maxBytes: 16, maxValueBytes: 8 })
    await s.set([{ key: 'a', value: b('12345') }]) // 6 bytes
    assert.equal(s.byteSize(), 6)
    await rejectsWith(s.set([{ key: 'b', value: b('123456789') }]), RuntimeStatus.RESOURCE_EXHAUSTED, /maxValueBytes 8/)
    await s.set([{ key: 'b', value: b('1234567'), metadata: { ttlInSeconds: '1' } }]) // 8 more bytes: 14, 2 keys
    await rejectsWith(s.set([{ key: 'c', value: b('1') }]), RuntimeStatus.RESOURCE_EXHAUSTED, /maxKeys 2/)
    await rejectsWith(s.transaction([{ op: 'upsert', item: { key: 'a', value: b('12345678') } }]), RuntimeStatus.RESOURCE_EXHAUSTED, /maxBytes 16/)
    assert.equal(text((await s.get('a')).value), '12345')
    now += 1_500 // b expires: its room is free again
    await s.set([{ key: 'c', value: b('1') }])
    assert.equal(s.size(), 2)
    assert.equal(s.byteSize(), 6 + 2)
    await s.delete('a')
    await s.bulkDelete([{ key: 'c' }])
    assert.equal(s.byteSize(), 0)
    s.close()
  })

  it('takes its limits from metadata and refuses unknown fields', () => {
    const ctx = { log: undefined as never, appId: '' }
    const store = inMemoryStateFactory.create('s', { maxKeys: '1' }, ctx, 'p') as InMemoryStateStore
    assert.ok(store instanceof InMemoryStateStore)
    assert.throws(() => inMemoryStateFactory.create('s', { maxKey: 1 }, ctx, 'p'), /p\.metadata\.maxKey: unknown field/)
    assert.throws(() => inMemoryStateFactory.create('s', { maxBytes: -5 }, ctx, 'p'), /p\.metadata\.maxBytes: must be an integer >= 0/)
  })
})
