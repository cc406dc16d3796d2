import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HeaderMapImpl } from '../../../source/common/http/header-map-impl.js'
import type { RouteAction_HashPolicy } from '../../../source/common/protobuf/generated/envoy/config/route/v3.js'
import { ConfigErrors } from '../../../source/common/router/config-utility.js'
import { HashPolicyImpl, parseCookieValue } from '../../../source/common/router/hash-policy-impl.js'
import { xxHash64 } from '../../../source/common/upstream/load-balancers/hash.js'

function hp(...policies: Array<Partial<RouteAction_HashPolicy>>): HashPolicyImpl {
  const errors = new ConfigErrors()
  const p = new HashPolicyImpl(policies.map((x) => ({ terminal: false, ...x })), 'hp', errors)
  assert.deepEqual(errors.list, [])
  return p
}

const headers = (h: Record<string, string | string[]>): HeaderMapImpl => new HeaderMapImpl({ ':path': '/', ...h })
const rotl = (h: bigint): bigint => ((h << 1n) | (h >> 63n)) & ((1n << 64n) - 1n)

describe('HashPolicyImpl', () => {
  it('header: xxHash64 of the value; same input, same hash; missing, none', () => {
    const p = hp({ header: { header_name: 'X-User' } })
    const a = p.generateHash({ headers: headers({ 'x-user': 'alice' }), sourceIp: undefined })
    assert.equal(a, xxHash64('alice'))
    assert.equal(p.generateHash({ headers: headers({ 'x-user': 'alice' }), sourceIp: '1.2.3.4' }), a)
    assert.notEqual(p.generateHash({ headers: headers({ 'x-user': 'bob' }), sourceIp: undefined }), a)
    assert.equal(p.generateHash({ headers: headers({}), sourceIp: undefined }), undefined)
  })

  it('header: repeated values hash the same in any order; regex_rewrite first', () => {
    const p = hp({ header: { header_name: 'x-k' } })
    const ab = p.generateHash({ headers: headers({ 'x-k': ['a', 'b'] }), sourceIp: undefined })
    assert.equal(ab, p.generateHash({ headers: headers({ 'x-k': ['b', 'a'] }), sourceIp: undefined }))
    assert.equal(ab, xxHash64('b', xxHash64('a')))
    const rw = hp({ header: { header_name: 'x-k', regex_rewrite: { pattern: { regex: '-v\\d+$' }, substitution: '' } } })
    assert.equal(rw.generateHash({ headers: headers({ 'x-k': 'svc-v2' }), sourceIp: undefined }), xxHash64('svc'))
  })

  it('cookie: hashes the cookie; with a ttl and no cookie asks to set one', () => {
    const p = hp({ cookie: { name: 'sess', ttl: '3600s', path: '/app', attributes: [] } })
    assert.equal(p.generateHash({ headers: headers({ cookie: 'a=1; sess=xyz' }), sourceIp: undefined }), xxHash64('xyz'))
    const asked: unknown[] = []
    const h = p.generateHash({ headers: headers({}), sourceIp: undefined, addCookie: (...args) => { asked.push(args); return 'new-value' } })
    assert.deepEqual(asked, [['sess', 3600, '/app']])
    assert.equal(h, xxHash64('new-value'))
    assert.equal(hp({ cookie: { name: 'sess', path: '', attributes: [] } }).generateHash({ headers: headers({}), sourceIp: undefined, addCookie: () => 'x' }), undefined)
  })

  it('connection_properties.source_ip and query_parameter', () => {
    const ip = hp({ connection_properties: { source_ip: true } })
    assert.equal(ip.generateHash({ headers: headers({}), sourceIp: '10.1.2.3' }), xxHash64('10.1.2.3'))
    assert.equal(ip.generateHash({ headers: headers({}), sourceIp: undefined }), undefined)
    const q = hp({ query_parameter: { name: 'user' } })
    assert.equal(q.generateHash({ headers: headers({ ':path': '/x?a=1&user=u7&user=u8' }), sourceIp: undefined }), xxHash64('u7'))
    assert.equal(q.generateHash({ headers: headers({ ':path': '/x?a=1' }), sourceIp: undefined }), undefined)
  })

  it('filter_state: a string value, or its hash()', () => {
    const p = hp({ filter_state: { key: 'k' } })
    assert.equal(p.generateHash({ headers: headers({}), sourceIp: undefined, filterState: new Map([['k', 'v']]) }), xxHash64('v'))
    assert.equal(p.generateHash({ headers: headers({}), sourceIp: undefined, filterState: new Map([['k', { hash: () => 42n }]]) }), 42n)
    assert.equal(p.generateHash({ headers: headers({}), sourceIp: undefined }), undefined)
  })

  it('combines policies by rotate-and-xor; terminal stops once a hash exists', () => {
    const both = hp({ header: { header_name: 'a' } }, { header: { header_name: 'b' } })
    const h = headers({ a: '1', b: '2' })
    assert.equal(both.generateHash({ headers: h, sourceIp: undefined }), rotl(xxHash64('1')) ^ xxHash64('2'))
    const dup = hp({ header: { header_name: 'a' } }, { header: { header_name: 'a' } })
    assert.notEqual(dup.generateHash({ headers: h, sourceIp: undefined }), 0n, 'duplicates do not cancel out')
    const terminal = hp({ header: { header_name: 'a' }, terminal: true }, { header: { header_name: 'b' } })
    assert.equal(terminal.generateHash({ headers: h, sourceIp: undefined }), xxHash64('1'))
    assert.equal(terminal.generateHash({ headers: headers({ b: '2' }), sourceIp: undefined }), xxHash64('2'), 'a terminal policy without a hash does not stop')
  })

  it('parseCookieValue handles several cookie headers and quotes', () => {
    const h = headers({ cookie: ['a=1', 'b="two"; c=3'] })
    assert.equal(parseCookieValue(h, 'b'), 'two')
    assert.equal(parseCookieValue(h, 'c'), '3')
    assert.equal(parseCookieValue(h, 'd'), '')
  })
})
