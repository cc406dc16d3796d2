import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HeaderMapImpl } from '../../../source/common/http/header-map-impl.js'
import type { HeaderMatcher } from '../../../source/common/protobuf/generated/envoy/config/route/v3.js'
import { ConfigErrors } from '../../../source/common/router/config-utility.js'
import {
  firstQueryParam, getPortStart, HeaderDataMatcher, isGrpcRequest, pathWithoutQuery, QueryParameterMatcherImpl, RegexRewrite,
} from '../../../source/common/router/matchers.js'

function hm(m: Partial<HeaderMatcher>): HeaderDataMatcher {
  const errors = new ConfigErrors()
  const matcher = new HeaderDataMatcher({ name: 'x-h', invert_match: false, treat_missing_header_as_empty: false, ...m }, 'm', errors)
  assert.deepEqual(errors.list, [])
  return matcher
}

const h = (v?: string | string[]): HeaderMapImpl => new HeaderMapImpl(v === undefined ? {} : { 'x-h': v })

describe('HeaderDataMatcher', () => {
  it('exact, prefix, suffix, contains, string_match and safe_regex', () => {
    assert.equal(hm({ exact_match: 'a' }).matches(h('a')), true)
    assert.equal(hm({ exact_match: 'a' }).matches(h('ab')), false)
    assert.equal(hm({ exact_match: '' }).matches(h('anything')), true, 'empty exact matches any value (Envoy)')
    assert.equal(hm({ prefix_match: 'ab' }).matches(h('abc')), true)
    assert.equal(hm({ suffix_match: 'bc' }).matches(h('abc')), true)
    assert.equal(hm({ contains_match: 'b' }).matches(h('abc')), true)
    assert.equal(hm({ contains_match: 'z' }).matches(h('abc')), false)
    assert.equal(hm({ string_match: { exact: 'ABC', ignore_case: true } }).matches(h('abc')), true)
    assert.equal(hm({ safe_regex_match: { regex: 'a.c' } }).matches(h('abc')), true)
    assert.equal(hm({ safe_regex_match: { regex: 'a.c' } }).matches(h('xabc')), false, 'regex is a full match')
  })

  it('range_match is a half-open integer range', () => {
    const m = hm({ range_match: { start: 10, end: 20 } })
    assert.equal(m.matches(h('10')), true)
    assert.equal(m.matches(h('19')), true)
    assert.equal(m.matches(h('20')), false)
    assert.equal(m.matches(h('-5')), false)
    assert.equal(m.matches(h('1x')), false)
    assert.equal(hm({ range_match: { start: -10, end: 0 } }).matches(h('-5')), true)
  })

  it('present_match and a bare name test presence', () => {
    assert.equal(hm({}).matches(h('x')), true)
    assert.equal(hm({}).matches(h()), false)
    assert.equal(hm({ present_match: true }).matches(h()), false)
    assert.equal(hm({ present_match: false }).matches(h()), true)
    assert.equal(hm({ present_match: false }).matches(h('x')), false)
  })

  it('invert_match flips value matches but a missing header still fails (Envoy)', () => {
    assert.equal(hm({ exact_match: 'a', invert_match: true }).matches(h('b')), true)
    assert.equal(hm({ exact_match: 'a', invert_match: true }).matches(h('a')), false)
    assert.equal(hm({ exact_match: 'a', invert_match: true }).matches(h()), false)
    assert.equal(hm({ present_match: true, invert_match: true }).matches(h()), true)
    assert.equal(hm({ present_match: true, invert_match: true }).matches(h('x')), false)
  })

  it('treat_missing_header_as_empty matches a missing header as ""', () => {
    assert.equal(hm({ exact_match: 'a', treat_missing_header_as_empty: true, invert_match: true }).matches(h()), true)
    assert.equal(hm({ string_match: { exact: '', ignore_case: false }, treat_missing_header_as_empty: true }).matches(h()), true)
    assert.equal(hm({ prefix_match: 'a', treat_missing_header_as_empty: true }).matches(h()), false)
  })

  it('repeated values are joined with "," before matching', () => {
    assert.equal(hm({ exact_match: 'a,b' }).matches(h(['a', 'b'])), true)
    assert.equal(hm({ exact_match: 'a' }).matches(h(['a', 'b'])), false)
  })

  it('reports a bad regex with its path', () => {
    const errors = new ConfigErrors()
    new HeaderDataMatcher({ name: 'x', invert_match: false, treat_missing_header_as_empty: false, safe_regex_match: { regex: '(' } }, 'p.headers[0]', errors)
    assert.equal(errors.list.length, 1)
    assert.match(errors.list[0]!, /^p\.headers\[0\]\.safe_regex_match: /)
  })
})

describe('query parameters', () => {
  it('firstQueryParam takes the first occurrence, without decoding', () => {
    assert.equal(firstQueryParam('/p?a=1&b=2&a=3', 'a'), '1')
    assert.equal(firstQueryParam('/p?a=1&b=2', 'b'), '2')
    assert.equal(firstQueryParam('/p?flag&b=2', 'flag'), '')
    assert.equal(firstQueryParam('/p?ab=1', 'a'), undefined)
    assert.equal(firstQueryParam('/p?x=%20y', 'x'), '%20y')
    assert.equal(firstQueryParam('/p', 'a'), undefined)
    assert.equal(firstQueryParam('/p?a=1#b=2', 'b'), undefined)
    assert.equal(firstQueryParam('/p?a=x=y', 'a'), 'x=y')
  })

  it('QueryParameterMatcher: present_match and string_match', () => {
    const errors = new ConfigErrors()
    const present = new QueryParameterMatcherImpl({ name: 'debug', present_match: true }, 'q', errors)
    assert.equal(present.matches('/x?debug'), true)
    assert.equal(present.matches('/x?other=1'), false)
    const exact = new QueryParameterMatcherImpl({ name: 'v', string_match: { prefix: '2', ignore_case: false } }, 'q', errors)
    assert.equal(exact.matches('/x?v=2.1'), true)
    assert.equal(exact.matches('/x?v=1&v=2'), false, 'only the first value counts')
  })
})

describe('RegexRewrite', () => {
  const rw = (regex: string, substitution: string): RegexRewrite => {
    const errors = new ConfigErrors()
    const r = RegexRewrite.compile({ pattern: { regex }, substitution }, 'rw', errors)
    assert.deepEqual(errors.list, [])
    return r!
  }

  it('replaces every match, with RE2 \\N groups', () => {
    assert.equal(rw('^/service/([^/]+)(/.*)$', '\\2/instance/\\1').replaceAll('/service/foo/v1/api'), '/v1/api/instance/foo')
    assert.equal(rw('o', '0').replaceAll('foo/boo'), 'f00/b00')
    assert.equal(rw('(a)', '\\0\\0').replaceAll('cat'), 'caat')
    assert.equal(rw('x', '$1\\\\').replaceAll('x'), '$1\\', 'JS $ and RE2 \\\\ are literal')
  })

  it('rejects a group the pattern lacks and unknown escapes', () => {
    const errors = new ConfigErrors()
    RegexRewrite.compile({ pattern: { regex: '(a)' }, substitution: '\\2' }, 'rw', errors)
    RegexRewrite.compile({ pattern: { regex: 'a' }, substitution: '\\n' }, 'rw2', errors)
    assert.equal(errors.list.length, 2)
    assert.match(errors.list[0]!, /^rw\.substitution: /)
  })
})

describe('small helpers', () => {
  it('getPortStart respects IPv6 brackets', () => {
    assert.equal(getPortStart('a.com:80'), 5)
    assert.equal(getPortStart('a.com'), -1)
    assert.equal(getPortStart('[::1]:80'), 5)
    assert.equal(getPortStart('[::1]'), -1)
  })

  it('pathWithoutQuery drops the query and fragment', () => {
    assert.equal(pathWithoutQuery('/a/b?c=d'), '/a/b')
    assert.equal(pathWithoutQuery('/a#f'), '/a')
    assert.equal(pathWithoutQuery('/a'), '/a')
  })

  it('isGrpcRequest wants application/grpc or application/grpc+...', () => {
    const g = (ct: string): boolean => isGrpcRequest(new HeaderMapImpl({ ':path': '/s/M', 'content-type': ct }))
    assert.equal(g('application/grpc'), true)
    assert.equal(g('application/grpc+proto'), true)
    assert.equal(g('application/grpc-web'), false)
    assert.equal(g('application/json'), false)
  })
})
