import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { compileRe2, parseRegex, parseRewrite, re2SyntaxProblem, setRegexRuntime } from '../../../source/common/common/regex.js'
import { RuntimeSnapshotImpl } from '../../../source/common/runtime/runtime-impl.js'

describe('RE2 engine (CompiledMatcher)', () => {
  it('match() is a full match, search() a partial one', () => {
    const m = compileRe2('/api/v[0-9]+/users')
    assert.equal(m.match('/api/v1/users'), true)
    assert.equal(m.match('/api/v1/users/1'), false)
    assert.equal(m.match('x/api/v1/users'), false)
    assert.equal(m.search('x/api/v1/users/1'), true)
    // An alternation is anchored as a whole, not per branch.
    assert.equal(compileRe2('a|b').match('ab'), false)
  })

  it('uses RE2 syntax: named groups (?P<n>), (?i), \\z; no lookaround or backreferences', () => {
    assert.equal(compileRe2('(?P<ver>v[0-9]+)').groupCount, 1)
    assert.equal(compileRe2('(?i)abc').match('aBC'), true)
    assert.equal(compileRe2('abc\\z').search('xabc'), true)
    for (const bad of ['a(?=b)', 'a(?!b)', '(?<=a)b', '(?<!a)b', '(a)\\1', '(', 'a**', 'x{1001}']) {
      assert.throws(() => compileRe2(bad), /invalid RE2 regex/, bad)
      assert.match(re2SyntaxProblem(bad) ?? '', /^invalid RE2 regex: /, bad)
    }
    assert.equal(re2SyntaxProblem('[a-z]+'), undefined)
  })

  it('matches crafted input in linear time', () => {
    const t0 = performance.now()
    const long = `${'a'.repeat(50_000)}!`
    assert.equal(compileRe2('(a+)+$').search(long), false)
    assert.equal(compileRe2('(a|a)*b').match(long), false)
    assert.equal(compileRe2('(a|aa)+$').search(long), false)
    assert.ok(performance.now() - t0 < 2000)
  })

  it('find() reports each group with its position, undefined for groups that took no part', () => {
    const m = compileRe2('^cluster\\.((.*?)\\.)(x)?').find('cluster.backend.upstream_rq_total')!
    assert.deepEqual(m.groups[0], { start: 0, end: 16, value: 'cluster.backend.' })
    assert.deepEqual(m.groups[1], { start: 8, end: 16, value: 'backend.' })
    assert.deepEqual(m.groups[2], { start: 8, end: 15, value: 'backend' })
    assert.equal(m.groups[3], undefined)
    assert.equal(compileRe2('z').find('abc'), undefined)
    // Offsets are string offsets, also after non-ASCII text.
    const u = compileRe2('b+').find('ééabb')!
    assert.deepEqual(u.groups[0], { start: 3, end: 5, value: 'bb' })
  })

  it('replaceAll() uses RE2 rewrite syntax on every non-overlapping match', () => {
    const m = compileRe2('/v([0-9]+)/')
    assert.equal(m.replaceAll('/v1/a/v22/b', '/version-\\1/'), '/version-1/a/version-22/b')
    assert.equal(m.replaceAll('/none/', 'x'), '/none/')
    assert.equal(compileRe2('^/([a-z]+)/([a-z]+)$').replaceAll('/ab/cd', '/\\2/\\1'), '/cd/ab')
    assert.equal(compileRe2('a').replaceAll('aXa', '\\0\\0\\\\'), 'aa\\Xaa\\')
    // `$` is literal in RE2 rewrites.
    assert.equal(compileRe2('a').replaceAll('a', '$1$&'), '$1$&')
    // An optional group that did not take part is empty.
    assert.equal(compileRe2('x(y)?').replaceAll('x', '[\\1]'), '[]')
    // Empty matches: one per position.
    assert.equal(compileRe2('b*').replaceAll('abc', '-'), '-a-c-')
  })

  it('parseRewrite() rejects a group the pattern lacks and a bad escape', () => {
    assert.throws(() => parseRewrite('\\2', 1), /Rewrite schema requests 2 matches, but the regexp only has 1 parenthesized subexpressions/)
    assert.throws(() => parseRewrite('\\x', 1), /invalid rewrite pattern/)
    assert.deepEqual(parseRewrite('a\\1b\\\\', 1), ['a', 1, 'b\\'])
  })
})

describe('parseRegex: program-size checks (Envoy max_program_size)', () => {
  afterEach(() => setRegexRuntime(undefined))

  const runtime = (values: Record<string, string>, warned: Array<[string, number, number]> = []): void => setRegexRuntime({
    snapshot: () => new RuntimeSnapshotImpl(new Map(Object.entries(values))),
    exceededWarnLevel: (p, s, l) => warned.push([p, s, l]),
  })

  it('google_re2.max_program_size, when set, is the limit', () => {
    const size = compileRe2('/[a-z]+/[0-9]+').programSize
    assert.ok(size > 5)
    assert.throws(() => parseRegex({ regex: '/[a-z]+/[0-9]+', google_re2: { max_program_size: 5 } }),
      new RegExp(`RE2 program size of ${size} > max program size of 5\\. Increase configured max program size if necessary\\.`))
    assert.equal(parseRegex({ regex: '/[a-z]+/[0-9]+', google_re2: { max_program_size: size } }).match('/a/1'), true)
  })

  it('with no runtime installed there is no runtime check', () => {
    assert.ok(parseRegex({ regex: 'a{200}' }).programSize > 100)
  })

  it('re2.max_program_size.error_level defaults to 100 and can be changed; warn_level counts', () => {
    runtime({})
    assert.throws(() => parseRegex({ regex: 'a{200}' }), /> max program size of 100 set for the error level threshold/)
    runtime({ 're2.max_program_size.error_level': '1000' })
    assert.equal(parseRegex({ regex: 'a{200}' }).match('a'.repeat(200)), true)
    const warned: Array<[string, number, number]> = []
    runtime({ 're2.max_program_size.warn_level': '3' }, warned)
    parseRegex({ regex: 'abcd' })
    assert.equal(warned.length, 1)
    assert.equal(warned[0]![0], 'abcd')
    // max_program_size set: only it applies (Envoy's deprecated-field path).
    runtime({ 're2.max_program_size.error_level': '1' }, warned)
    parseRegex({ regex: 'abcd', google_re2: { max_program_size: 100 } })
    assert.equal(warned.length, 1)
  })
})
