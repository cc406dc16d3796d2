import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EdfScheduler } from '../../../../source/common/upstream/load-balancers/edf-scheduler.js'

describe('EdfScheduler', () => {
  it('picks equal weights in insertion order, round and round', () => {
    const s = new EdfScheduler<string>()
    for (const x of ['a', 'b', 'c']) s.add(1, x)
    const seq = Array.from({ length: 7 }, () => s.pick())
    assert.deepEqual(seq, ['a', 'b', 'c', 'a', 'b', 'c', 'a'])
  })

  it('interleaves by weight and is deterministic', () => {
    const build = (): EdfScheduler<string> => {
      const s = new EdfScheduler<string>()
      s.add(1, 'a')
      s.add(3, 'b')
      return s
    }
    const one = build()
    const two = build()
    const counts = { a: 0, b: 0 }
    const seq: string[] = []
    for (let i = 0; i < 400; i++) {
      const x = one.pick()!
      counts[x as 'a' | 'b']++
      seq.push(x)
      assert.equal(two.pick(), x)
    }
    assert.deepEqual(counts, { a: 100, b: 300 })
    // Interleaved, not bursts: never much more than three b's in a row (deadlines are floats,
    // so an exact tie may fall either way).
    assert.ok(!seq.join('').includes('bbbbb'))
  })

  it('re-weighs picked items with pickAndAdd', () => {
    const s = new EdfScheduler<string>()
    s.add(1, 'a')
    s.add(1, 'b')
    const weights: Record<string, number> = { a: 1, b: 0.01 }
    const counts: Record<string, number> = { a: 0, b: 0 }
    for (let i = 0; i < 1000; i++) counts[s.pickAndAdd((x) => weights[x]!)!]!++
    assert.ok(counts.a! > 980, JSON.stringify(counts))
  })

  it('ignores non-positive weights and is empty-safe', () => {
    const s = new EdfScheduler<string>()
    assert.equal(s.pick(), undefined)
    s.add(0, 'zero')
    s.add(-1, 'neg')
    assert.equal(s.size, 0)
    s.add(2, 'x')
    s.warmUp(5)
    assert.equal(s.peek(), 'x')
  })
})
