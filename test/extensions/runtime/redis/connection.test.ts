import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { RuntimeStatus } from '../../../../source/envoy/runtime-api/errors.js'
import { redisSequencerFactory } from '../../../../source/extensions/runtime/sequencer/redis/config.js'
import type { RedisSequencer } from '../../../../source/extensions/runtime/sequencer/redis/redis-sequencer.js'
import { redisStateFactory } from '../../../../source/extensions/runtime/state/redis/config.js'
import type { RedisStateStore } from '../../../../source/extensions/runtime/state/redis/redis-state-store.js'
import { startRedisServer, type RedisServer } from '../../../helpers/redis-server.js'
import { bytes, testContext, text } from './util.js'

let server: RedisServer

before(async () => {
  server = await startRedisServer()
})

after(async () => {
  if (server === undefined) return // before() failed: nothing was started
  await server.stop()
})

async function closedPort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

async function eventually<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

describe('redis connections', () => {
  it('create() does no I/O: a store for an unreachable Redis is built without error', () => {
    const s = redisStateFactory.create('s', { redisHost: '127.0.0.1:1' }, testContext(), 'p') as RedisStateStore
    void s.close()
  })

  it('fails fast with UNAVAILABLE when Redis is not there', async () => {
    const port = await closedPort()
    const s = redisStateFactory.create('s', { redisHost: `127.0.0.1:${port}` }, testContext(), 'p') as RedisStateStore
    try {
      for (let i = 0; i < 2; i++) {
        const t0 = Date.now()
        await assert.rejects(s.get('k'), (err: { status: number; errorCode: string; message: string }) => {
          assert.equal(err.status, RuntimeStatus.UNAVAILABLE)
          assert.equal(err.errorCode, 'ERR_STATE_GET')
          assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`))
          return true
        })
        assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`)
      }
    } finally {
      await s.close()
    }
  })

  it('fails fast while Redis is down and recovers by itself when it is back', async () => {
    const s = redisStateFactory.create('s', { redisHost: server.address, maxRetryBackoff: '200ms' }, testContext(), 'p') as RedisStateStore
    const q = redisSequencerFactory.create('q', { redisHost: server.address }, testContext(), 'p') as RedisSequencer
    try {
      await s.set([{ key: 'k', value: bytes('before') }])
      assert.equal(await q.nextId('id'), 1n)
      await server.stop()
      const t0 = Date.now()
      await assert.rejects(s.get('k'), (err: { status: number }) => err.status === RuntimeStatus.UNAVAILABLE)
      await assert.rejects(q.nextId('id'), (err: { status: number; errorCode: string }) => err.status === RuntimeStatus.UNAVAILABLE && err.errorCode === 'ERR_SEQUENCER_NEXT_ID')
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`)
      await server.restart()
      // The restarted server is empty (no persistence); each client reconnects on its own,
      // within its reconnect back-off (maxRetryBackoff); until then calls fail at once.
      await eventually(() => s.set([{ key: 'k', value: bytes('after') }]))
      assert.equal(text((await s.get('k')).value), 'after')
      assert.equal(await eventually(() => q.nextId('id')), 1n)
    } finally {
      await s.close()
      await q.close()
    }
  })

  it('a closed component answers UNAVAILABLE', async () => {
    const s = redisStateFactory.create('s', { redisHost: server.address }, testContext(), 'p') as RedisStateStore
    await s.close()
    await assert.rejects(s.get('k'), (err: { status: number }) => err.status === RuntimeStatus.UNAVAILABLE)
  })
})
