/**
 * RpcChannel over a real MessageChannel: whatever a handler does (returns something structured
 * clone cannot copy, throws a non-Error, rejects), the caller gets a `{ code, message }` error
 * and the serving side goes on; nothing becomes an unhandled rejection (issue 18, defect 1).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import { RpcChannel } from '../../../source/common/thread/rpc-channel.js'

type Events = { ping: number }

type Methods = {
  echo: { params: string; result: string }
  fn: { params: null; result: unknown }
  throwsString: { params: null; result: unknown }
  rejects: { params: null; result: unknown }
  missing: { params: null; result: unknown }
}

describe('RpcChannel', () => {
  const { port1, port2 } = new MessageChannel()
  const listenerErrors: string[] = []
  const client = new RpcChannel<Methods, Record<never, never>, Events, Record<never, never>>(port1)
  const server = new RpcChannel<Record<never, never>, Methods, Record<never, never>, Events>(port2, (err, where) => listenerErrors.push(`${where}: ${(err as Error).message}`))
  const unhandled: unknown[] = []
  const onUnhandled = (r: unknown): void => { unhandled.push(r) }
  process.on('unhandledRejection', onUnhandled)
  server.handle('echo', (s) => s)
  server.handle('fn', () => ({ toString: Object.prototype.toString }))
  server.handle('throwsString', () => { throw 'plain string' }) // eslint-disable-line @typescript-eslint/only-throw-error
  server.handle('rejects', () => Promise.reject(new Error('no')))

  after(() => {
    process.off('unhandledRejection', onUnhandled)
    client.close('done')
    server.close('done')
    port1.close()
  })

  it('answers INTERNAL when the result cannot be cloned, and keeps serving', async () => {
    await assert.rejects(client.call('fn', null), (e: Error & { code?: string }) => e.code === 'ETS_ERR_INTERNAL' && /cannot be sent/.test(e.message))
    assert.equal(await client.call('echo', 'still here'), 'still here')
  })

  it('answers a thrown non-Error, a rejection and an unknown method with errors', async () => {
    await assert.rejects(client.call('throwsString', null), /plain string/)
    await assert.rejects(client.call('rejects', null), /no/)
    await assert.rejects(client.call('missing', null), /no handler for missing/)
    assert.equal(await client.call('echo', 'ok'), 'ok')
  })

  it('reports an event listener that throws and keeps dispatching', async () => {
    const seen: number[] = []
    server.on('ping', (n) => { if (n === 1) throw new Error('listener bug') })
    server.on('ping', (n) => { seen.push(n) })
    client.emit('ping', 1)
    client.emit('ping', 2)
    assert.equal(await client.call('echo', 'after events'), 'after events')
    assert.deepEqual(seen, [1, 2])
    assert.deepEqual(listenerErrors, ['listener of ping: listener bug'])
  })

  it('fails a call whose parameters cannot be cloned without sending it', async () => {
    await assert.rejects(client.call('echo', (() => 'x') as unknown as string), (e: Error & { code?: string }) => e.code === 'ETS_ERR_INTERNAL')
    assert.equal(await client.call('echo', 'after'), 'after')
    assert.deepEqual(unhandled, [])
  })
})
