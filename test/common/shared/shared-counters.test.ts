import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads'
import {
  clearSharedCounters, exportSharedCounters, hasSharedCounter, importSharedCounters, sharedInt32,
} from '../../../source/common/shared/shared-counters.js'

describe('shared counters', () => {
  it('returns views of one buffer per key and refuses a different length', () => {
    const a = sharedInt32('test/a', 2)
    const b = sharedInt32('test/a', 2)
    a[1] = 7
    assert.equal(b[1], 7)
    assert.throws(() => sharedInt32('test/a', 3), RangeError)
  })

  it('survives export, a structured-clone hop and import as the same memory', () => {
    const main = sharedInt32('test/hop', 1)
    const { port1, port2 } = new MessageChannel()
    port1.postMessage(exportSharedCounters())
    const entries = receiveMessageOnPort(port2)!.message as Array<[string, SharedArrayBuffer]>
    port1.close()
    clearSharedCounters()
    assert.equal(hasSharedCounter('test/hop'), false)
    importSharedCounters(entries)
    Atomics.add(sharedInt32('test/hop', 1), 0, 5)
    assert.equal(Atomics.load(main, 0), 5)
  })

  it('is seen by another thread', async () => {
    const counts = sharedInt32('test/thread', 1)
    const w = new Worker('const { workerData } = require("node:worker_threads"); for (let i = 0; i < 1000; i++) Atomics.add(new Int32Array(workerData[0][1]), 0, 1)', {
      eval: true,
      workerData: exportSharedCounters().filter(([k]) => k === 'test/thread'),
    })
    for (let i = 0; i < 1000; i++) Atomics.add(counts, 0, 1)
    await new Promise((resolve) => w.once('exit', resolve))
    assert.equal(Atomics.load(counts, 0), 2000)
  })
})
