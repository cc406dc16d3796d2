import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildRouteRules, compileMatch, selectRoute } from '../../../../source/common/runtime-api/app-callback/route-rules.js'

const ev = { id: '1', type: 'widget', source: 'shop', data: { amount: 150, tags: { color: 'red' } }, specversion: '1.0' }

describe('route rules (CEL subset)', () => {
  it('evaluates comparisons, logic and parentheses', () => {
    const yes = [
      'event.type == "widget"', "event.type == 'widget'", 'event.type != "gadget"', 'event.data.amount > 100',
      'event.data.amount >= 150', 'event.data.amount < 200.5', 'event.data.tags.color == "red"',
      'event.type == "x" || event.source == "shop"', '!(event.type == "x") && true', 'event.data.amount > -1',
      '(event.type == "widget" || event.type == "gadget") && event.data.amount <= 150',
    ]
    const no = [
      'event.type == "gadget"', 'event.data.amount > 150', 'event.missing == "x"', 'event.data.nope.deeper != 1',
      'event.type == "widget" && event.source == "other"', 'false', 'event.type < 5',
    ]
    for (const s of yes) assert.equal(compileMatch(s)(ev), true, s)
    for (const s of no) assert.equal(compileMatch(s)(ev), false, s)
  })

  it('refuses what it does not support', () => {
    for (const s of ['size(event.data) > 1', 'other.type == "x"', 'event.type ==', 'event.type == "x" extra', '"unterminated', 'event.type in ["a"]']) {
      assert.throws(() => compileMatch(s), Error, s)
    }
  })

  it('selects the first matching rule, then the default', () => {
    const rules = buildRouteRules([{ match: 'event.type == "widget"', path: '/w' }, { match: 'event.data.amount > 100', path: '/big' }, { match: ' ', path: '/any' }], '/default')
    assert.equal(selectRoute(rules, ev), '/w')
    assert.equal(selectRoute(rules, { ...ev, type: 'x' }), '/big')
    assert.equal(selectRoute(rules, { type: 'x' }), '/any')
    const strict = buildRouteRules([{ match: 'event.type == "widget"', path: '/w' }], undefined)
    assert.equal(selectRoute(strict, { type: 'x' }), undefined)
    assert.deepEqual(buildRouteRules([], ''), [])
  })
})
