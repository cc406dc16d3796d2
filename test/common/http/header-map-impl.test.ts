import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HeaderMapImpl } from '../../../source/common/http/header-map-impl.js'
import {
  equalsIgnoreCase, hasToken, isConnect, isConnectionUpgrade, lookupKnownName, parseContentLength, removeTokens,
} from '../../../source/common/http/headers.js'

const names = (h: HeaderMapImpl): string[] => [...h.entries()].map(([n]) => n)

describe('HeaderMapImpl', () => {
  it('gets, adds and sets by lower-case name', () => {
    const h = new HeaderMapImpl()
    h.add('X-Foo', 'a')
    h.add('x-foo', 'b')
    assert.equal(h.get('x-foo'), 'a')
    assert.deepEqual(h.getAll('x-foo'), ['a', 'b'])
    assert.equal(h.size, 2)
    h.set('x-foo', 'c')
    assert.deepEqual(h.getAll('x-foo'), ['c'])
    assert.equal(h.has('x-foo'), true)
    assert.equal(h.get('x-bar'), undefined)
    h.setIfAbsent('x-foo', 'd')
    h.setIfAbsent('x-bar', 'e')
    assert.deepEqual(h.toJSON(), { 'x-foo': 'c', 'x-bar': 'e' })
  })

  it('keeps pseudo-headers first, in the order added', () => {
    const h = new HeaderMapImpl()
    h.add('user-agent', 'u')
    h.add(':method', 'GET')
    h.add('accept', '*/*')
    h.add(':path', '/')
    h.set(':authority', 'a')
    assert.deepEqual(names(h), [':method', ':path', ':authority', 'user-agent', 'accept'])
    h.remove(':path')
    h.add(':scheme', 'http')
    assert.deepEqual(names(h), [':method', ':authority', ':scheme', 'user-agent', 'accept'])
  })

  it('builds from entries or an object (arrays add repeats)', () => {
    const a = new HeaderMapImpl([['a', '1'], [':status', '200']])
    assert.deepEqual(names(a), [':status', 'a'])
    const b = new HeaderMapImpl({ 'set-cookie': ['x=1', 'y=2'], Host: 'h' })
    assert.deepEqual(b.getAll('set-cookie'), ['x=1', 'y=2'])
    assert.equal(b.get('host'), 'h')
    assert.deepEqual([...b].map(([n]) => n), ['set-cookie', 'set-cookie', 'host'])
  })

  it('removes by name and by prefix', () => {
    const h = new HeaderMapImpl({ 'x-envoy-a': '1', 'x-envoy-b': '2', keep: '3', 'x-e': '4' })
    h.add('keep', '5')
    assert.equal(h.remove('keep'), true)
    assert.equal(h.remove('keep'), false)
    h.removePrefix('x-envoy-')
    assert.deepEqual(names(h), ['x-e'])
  })

  it('tracks byteSize through every mutation', () => {
    const h = new HeaderMapImpl()
    h.add(':path', '/abc') // 5 + 4
    h.add('host', 'example') // 4 + 7
    assert.equal(h.byteSize(), 20)
    h.set('host', 'ex') // -5
    assert.equal(h.byteSize(), 15)
    h.add('host', 'x')
    h.set('host', 'yy') // removes one, replaces the other
    assert.equal(h.byteSize(), 9 + 6)
    h.remove(':path')
    assert.equal(h.byteSize(), 6)
    h.removePrefix('h')
    assert.equal(h.byteSize(), 0)
  })

  it('clones deeply', () => {
    const h = new HeaderMapImpl({ ':method': 'GET', a: '1' })
    const c = h.clone()
    c.set('a', '2')
    c.add(':path', '/')
    assert.equal(h.get('a'), '1')
    assert.equal(h.has(':path'), false)
    assert.deepEqual(names(c), [':method', ':path', 'a'])
    assert.equal(c.byteSize(), h.byteSize() + 5 + 1)
  })

  it('iterates with forEach and index accessors', () => {
    const h = new HeaderMapImpl({ ':status': '200', a: '1' })
    const seen: string[] = []
    h.forEach((n, v) => seen.push(`${n}=${v}`))
    assert.deepEqual(seen, [':status=200', 'a=1'])
    assert.equal(h.nameAt(1), 'a')
    assert.equal(h.valueAt(0), '200')
  })
})

describe('header helpers', () => {
  it('finds tokens in comma lists ignoring case and OWS', () => {
    assert.equal(hasToken('keep-alive, Upgrade', 'upgrade'), true)
    assert.equal(hasToken(' close ', 'close'), true)
    assert.equal(hasToken('closed', 'close'), false)
    assert.equal(hasToken('x,,CLOSE', 'close'), true)
    assert.equal(hasToken(undefined, 'close'), false)
    assert.equal(hasToken('', 'close'), false)
    assert.equal(equalsIgnoreCase('CHUNKED', 0, 'chunked'), true)
    assert.equal(equalsIgnoreCase('chunkeD', 0, 'chunked'), true)
    assert.equal(equalsIgnoreCase('chunke@', 0, 'chunke`'), false)
    assert.equal(removeTokens('Upgrade, HTTP2-Settings, foo', ['upgrade', 'http2-settings']), 'foo')
  })

  it('recognizes upgrades and CONNECT', () => {
    assert.equal(isConnectionUpgrade(new HeaderMapImpl({ connection: 'Upgrade', upgrade: 'websocket' })), true)
    assert.equal(isConnectionUpgrade(new HeaderMapImpl({ connection: 'keep-alive', upgrade: 'websocket' })), false)
    assert.equal(isConnectionUpgrade(new HeaderMapImpl({ connection: 'upgrade' })), false)
    assert.equal(isConnect(new HeaderMapImpl({ ':method': 'CONNECT' })), true)
  })

  it('parses Content-Length strictly', () => {
    assert.equal(parseContentLength('0'), 0)
    assert.equal(parseContentLength('00012'), 12)
    assert.equal(parseContentLength('9007199254740991'), Number.MAX_SAFE_INTEGER)
    for (const bad of ['', '-1', '+1', '1 ', ' 1', '1,1', '0x10', '9007199254740992', '12345678901234567']) {
      assert.equal(parseContentLength(bad), -1, bad)
    }
  })

  it('interns known header names case-insensitively', () => {
    const s = 'xContent-LENGTHy'
    assert.equal(lookupKnownName(s, 1, 15), 'content-length')
    assert.equal(lookupKnownName('Host', 0, 4), 'host')
    assert.equal(lookupKnownName('Hast', 0, 4), undefined)
    assert.equal(lookupKnownName('x-unknown-header', 0, 16), undefined)
  })

  it('toJSON keeps Object.prototype member names as ordinary headers (issue 18)', () => {
    const h = new HeaderMapImpl([['constructor', 'a'], ['__proto__', 'b'], ['tostring', 'c'], ['__proto__', 'd']])
    const o = h.toJSON()
    assert.deepEqual(Object.keys(o), ['constructor', '__proto__', 'tostring'])
    assert.equal(o['constructor'], 'a')
    assert.ok(Object.hasOwn(o, '__proto__'))
    assert.equal(Object.getOwnPropertyDescriptor(o, '__proto__')?.value, 'b,d')
    assert.equal(Object.getPrototypeOf(o), Object.prototype)
  })
})
