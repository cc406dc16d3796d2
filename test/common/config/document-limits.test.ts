import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkDocumentLimits } from '../../../source/common/config/document-limits.js'

describe('checkDocumentLimits', () => {
  it('accepts ordinary documents, shared nodes included', () => {
    const shared = { name: 'c', connect_timeout: '1s' }
    assert.equal(checkDocumentLimits({ a: [shared, shared, { b: null }], n: 1, s: 'x' }), undefined)
    assert.equal(checkDocumentLimits('scalar'), undefined)
  })

  it('counts every use of a shared node (alias expansion) and stops early', () => {
    let level: unknown = { leaf: true }
    for (let i = 0; i < 9; i++) level = { and: Array(10).fill(level) }
    const started = performance.now()
    assert.match(checkDocumentLimits(level) ?? '', /more than 1000000 values once YAML aliases are expanded/)
    assert.ok(performance.now() - started < 2000)
    assert.equal(checkDocumentLimits({ a: Array(9).fill(0) }, 10), 'the document stands for more than 10 values once YAML aliases are expanded (an alias bomb?)')
    // The root, the list and its 8 items: 10 values.
    assert.equal(checkDocumentLimits({ a: Array(8).fill(0) }, 10), undefined)
  })

  it('finds cycles', () => {
    const c: { and: unknown[] } = { and: [] }
    c.and.push(c)
    assert.equal(checkDocumentLimits({ filter: c }), 'a YAML alias refers to a node that contains it (a cycle)')
  })

  it('bounds nesting, also when a deep shared node is reached deep again', () => {
    const deep = (n: number): unknown => (n === 0 ? 1 : { a: deep(n - 1) })
    assert.equal(checkDocumentLimits(deep(100)), undefined)
    assert.match(checkDocumentLimits(deep(101)) ?? '', /nesting deeper than 100 levels/)
    const shared = deep(60)
    assert.equal(checkDocumentLimits({ x: shared, y: { z: shared } }), undefined)
    // Measured once under `x`, then reached again 45 levels down under `y`.
    assert.match(checkDocumentLimits({ x: shared, y: wrap(shared, 45) }) ?? '', /nesting deeper than 100 levels/)
  })
})

function wrap(v: unknown, n: number): unknown {
  return n === 0 ? v : { w: wrap(v, n - 1) }
}
