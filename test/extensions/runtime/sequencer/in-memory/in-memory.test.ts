import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import { inMemorySequencerFactory } from '../../../../../source/extensions/runtime/sequencer/in-memory/config.js'
import { InMemorySequencer } from '../../../../../source/extensions/runtime/sequencer/in-memory/in-memory.js'
import { silentLog } from '../../../../mocks/network/factory-context.js'

const ctx = { log: silentLog, appId: 'app' }

describe('sequencer.in-memory', () => {
  it('hands out strictly increasing ids per key', async () => {
    const s = new InMemorySequencer()
    const ids = await Promise.all(Array.from({ length: 100 }, () => s.nextId('orders')))
    assert.deepEqual(ids, Array.from({ length: 100 }, (_, i) => BigInt(i + 1)))
    assert.equal(await s.nextId('users'), 1n)
  })

  it('starts above biggerThan', async () => {
    const s = inMemorySequencerFactory.create('seq', { biggerThan: { orders: '9007199254740993' } }, ctx, 'p.sequencer.seq')
    assert.equal(await s.nextId('orders'), 9007199254740994n)
    assert.equal(await s.nextId('other'), 1n)
  })

  it('rejects a bad biggerThan with the field path', () => {
    assert.throws(() => inMemorySequencerFactory.create('seq', { biggerThan: { orders: -1 } }, ctx, 'p.sequencer.seq'), (err: { code?: string; message: string }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.message, /p\.sequencer\.seq\.metadata\.biggerThan\.orders/)
      return true
    })
  })
})
