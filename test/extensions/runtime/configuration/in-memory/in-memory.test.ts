import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import type { ConfigurationItem } from '../../../../../source/envoy/runtime-api/components.js'
import { inMemoryConfigurationFactory } from '../../../../../source/extensions/runtime/configuration/in-memory/config.js'
import { InMemoryConfigurationStore } from '../../../../../source/extensions/runtime/configuration/in-memory/in-memory.js'
import { silentLog } from '../../../../mocks/network/factory-context.js'

const ctx = { log: silentLog, appId: 'app' }

describe('configuration.in-memory', () => {
  it('loads items from metadata (plain values or objects)', async () => {
    const s = inMemoryConfigurationFactory.create('cfg', {
      items: { a: 'one', b: { value: 'two', group: 'g', tags: { t: 1 } } },
    }, ctx, 'p.config_store.cfg')
    assert.deepEqual((await s.get(['a'])).map((i) => [i.key, i.value]), [['a', 'one']])
    assert.deepEqual(await s.get(['b']), [], 'b is in group g')
    const [b] = await s.get(['b'], { group: 'g' })
    assert.equal(b?.value, 'two')
    assert.deepEqual(b?.tags, { t: '1' })
    assert.deepEqual((await s.get([])).map((i) => i.key), ['a'])
  })

  it('rejects bad items with the field path', () => {
    assert.throws(() => inMemoryConfigurationFactory.create('cfg', { items: { a: { group: 'g' } } }, ctx, 'p.config_store.cfg'), (err: { code?: string; message: string }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.message, /p\.config_store\.cfg\.metadata\.items\.a\.value/)
      return true
    })
  })

  it('saves, deletes and notifies the watchers of the changed keys', async () => {
    const s = new InMemoryConfigurationStore()
    const seenA: ConfigurationItem[][] = []
    const seenAll: ConfigurationItem[][] = []
    const stopA = await s.subscribe(['a'], (items) => seenA.push(items))
    await s.subscribe([], (items) => seenAll.push(items))
    await s.save([{ key: 'a', value: '1', version: '' }, { key: 'b', value: '2', version: '' }])
    assert.deepEqual(seenA.map((l) => l.map((i) => `${i.key}=${i.value}`)), [['a=1']])
    assert.deepEqual(seenAll.map((l) => l.map((i) => `${i.key}=${i.value}`)), [['a=1', 'b=2']])
    const [a1] = await s.get(['a'])
    await s.save([{ key: 'a', value: '3', version: '' }])
    const [a2] = await s.get(['a'])
    assert.ok(Number(a2!.version) > Number(a1!.version), 'every change gets a new version')
    await s.delete(['a'])
    assert.deepEqual(seenA.at(-1)!.map((i) => `${i.key}=${i.value}`), ['a='], 'a delete is sent with an empty value')
    assert.deepEqual(await s.get(['a']), [])
    // Saving an empty value deletes.
    await s.save([{ key: 'b', value: '', version: '' }])
    assert.deepEqual(await s.get(['b']), [])
    await stopA()
    assert.equal(s.watcherCount(), 1)
  })
})
