import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compileListStringMatcher, compileRegex, compileStringMatcher } from '../../../source/common/matcher/string-matcher.js'

describe('StringMatcher on RE2', () => {
  it('safe_regex must match the whole value (RE2 FullMatch)', () => {
    const m = compileStringMatcher({ safe_regex: { regex: 'a|b' }, ignore_case: false })
    assert.equal(m('a'), true)
    assert.equal(m('ab'), false)
    assert.equal(m('xa'), false)
  })

  it('ignore_case has no effect on safe_regex (Envoy); (?i) does', () => {
    assert.equal(compileStringMatcher({ safe_regex: { regex: 'abc' }, ignore_case: true })('ABC'), false)
    assert.equal(compileStringMatcher({ safe_regex: { regex: '(?i)abc' }, ignore_case: false })('ABC'), true)
    assert.equal(compileStringMatcher({ prefix: 'ab', ignore_case: true })('ABC'), true)
  })

  it('a crafted value cannot make a list matcher backtrack', () => {
    const m = compileListStringMatcher({ patterns: [{ safe_regex: { regex: '(a|aa)+c' }, ignore_case: false }] })
    const t0 = performance.now()
    assert.equal(m(`${'a'.repeat(40_000)}b`), false)
    assert.ok(performance.now() - t0 < 2000)
  })

  it('refuses RE2-invalid patterns', () => {
    assert.throws(() => compileRegex({ regex: '(?!x)y' }), /invalid RE2 regex '\(\?!x\)y': error parsing regexp: invalid or unsupported Perl syntax/)
  })
})
