import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HeaderMapImpl } from '../../../source/common/http/header-map-impl.js'
import type { HeaderValueOption } from '../../../source/common/protobuf/generated/envoy/config/core/v3.js'
import { HeaderParser } from '../../../source/common/router/header-parser.js'
import { build, buildErrors, entry, info, oneHost, req, route } from './route-config-helpers.js'

const add = (key: string, value: string, more: Partial<HeaderValueOption> = {}): HeaderValueOption => ({
  header: { key, value, raw_value: '' }, append_action: 'APPEND_IF_EXISTS_OR_ADD', keep_empty_value: false, ...more,
})

function run(options: HeaderValueOption[], headers: Record<string, string | string[]>, remove: string[] = []): HeaderMapImpl {
  const h = new HeaderMapImpl(headers)
  new HeaderParser(options, remove, 'p').evaluateHeaders(h, info())
  return h
}

describe('HeaderParser', () => {
  it('append actions', () => {
    const h = run([
      add('a', '2'),
      add('b', '2', { append_action: 'ADD_IF_ABSENT' }),
      add('c', '2', { append_action: 'ADD_IF_ABSENT' }),
      add('d', '2', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }),
      add('e', '2', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }),
      add('f', '2', { append_action: 'OVERWRITE_IF_EXISTS' }),
      add('g', '2', { append_action: 'OVERWRITE_IF_EXISTS' }),
    ], { a: '1', b: '1', d: ['1', '1b'], f: '1' })
    assert.deepEqual(h.getAll('a'), ['1', '2'])
    assert.deepEqual(h.getAll('b'), ['1'])
    assert.deepEqual(h.getAll('c'), ['2'])
    assert.deepEqual(h.getAll('d'), ['2'])
    assert.deepEqual(h.getAll('e'), ['2'])
    assert.deepEqual(h.getAll('f'), ['2'])
    assert.equal(h.has('g'), false)
  })

  it('the deprecated append bool maps to append / overwrite', () => {
    const h = run([add('a', '2', { append: true }), add('b', '2', { append: false })], { a: '1', b: '1' })
    assert.deepEqual(h.getAll('a'), ['1', '2'])
    assert.deepEqual(h.getAll('b'), ['2'])
  })

  it('removes first, then adds; keys are lower-cased', () => {
    const h = run([add('X-New', 'v')], { 'x-old': 'o', 'x-new': 'stale' }, ['X-Old', 'x-new'])
    assert.equal(h.has('x-old'), false)
    assert.deepEqual(h.getAll('x-new'), ['v'])
  })

  it('formats values per request; unset operators are empty; empty values are dropped unless kept', () => {
    const i = info()
    const h = new HeaderMapImpl({ ':path': '/p', 'user-agent': 'ua/1' })
    new HeaderParser([
      add('x-client', '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'),
      add('x-ua', 'agent=%REQ(User-Agent)%'),
      add('x-pct', '100%% sure'),
      add('x-missing', '%REQ(x-nope)%'),
      add('x-kept', '%REQ(x-nope)%', { keep_empty_value: true }),
    ], [], 'p').evaluateHeaders(h, i)
    assert.equal(h.get('x-client'), '192.168.1.7')
    assert.equal(h.get('x-pct'), '100% sure')
    assert.equal(h.has('x-missing'), false)
    assert.equal(h.get('x-kept'), '')
    assert.equal(h.get('x-ua'), 'agent=', 'REQ reads the stream info, which has no request headers here')
  })

  it('rejects pseudo headers and host, bad operators, and append with append_action', () => {
    assert.throws(() => new HeaderParser([add(':path', '/x')], [], 'p'), /p\[0\]\.header\.key: :-prefixed or host headers may not be modified/)
    assert.throws(() => new HeaderParser([add('Host', 'x')], [], 'p'), /may not be modified/)
    assert.throws(() => new HeaderParser([], ['host'], 'p'), /p\[0\]: :-prefixed or host headers may not be removed/)
    assert.throws(() => new HeaderParser([add('x', '%NOPE%')], [], 'p'), /p\[0\]\.header\.value/)
    assert.throws(() => new HeaderParser([add('x', 'v', { append: true, append_action: 'ADD_IF_ABSENT' })], [], 'p'),
      /Both append and append_action are set/)
  })
})

describe('header mutations in the route table', () => {
  const hv = (key: string, value: string, action = 'APPEND_IF_EXISTS_OR_ADD'): unknown => ({ header: { key, value }, append_action: action })
  const cfg = (mostSpecificWins: boolean): unknown => ({
    name: 'rc',
    most_specific_header_mutations_wins: mostSpecificWins,
    request_headers_to_add: [hv('x-level', 'config', 'OVERWRITE_IF_EXISTS_OR_ADD'), hv('x-all', 'config')],
    response_headers_to_add: [hv('x-level', 'config', 'OVERWRITE_IF_EXISTS_OR_ADD')],
    response_headers_to_remove: ['x-secret'],
    virtual_hosts: [{
      name: 'vh',
      domains: ['*'],
      request_headers_to_add: [hv('x-level', 'vhost', 'OVERWRITE_IF_EXISTS_OR_ADD'), hv('x-all', 'vhost')],
      response_headers_to_add: [hv('x-level', 'vhost', 'OVERWRITE_IF_EXISTS_OR_ADD')],
      routes: [
        {
          match: { prefix: '/w' },
          request_headers_to_add: [hv('x-level', 'route', 'OVERWRITE_IF_EXISTS_OR_ADD'), hv('x-all', 'route')],
          route: {
            weighted_clusters: {
              clusters: [{
                name: 'w', weight: 1, host_rewrite_literal: 'w.internal',
                request_headers_to_add: [hv('x-all', 'weighted'), hv('x-from', '%REQ(x-client-id)%')],
                response_headers_to_add: [hv('x-w', 'yes')],
              }],
            },
          },
        },
        { match: { prefix: '/d' }, response_headers_to_add: [hv('x-route', 'd')], direct_response: { status: 204 } },
        {
          match: { prefix: '/' },
          request_headers_to_add: [hv('x-level', 'route', 'OVERWRITE_IF_EXISTS_OR_ADD'), hv('x-all', 'route')],
          response_headers_to_add: [hv('x-level', 'route', 'OVERWRITE_IF_EXISTS_OR_ADD'), hv('x-status', '%RESP(:status)%')],
          route: { cluster: 'c' },
        },
      ],
    }],
  })

  it('route first, then vhost, then route config (the least specific wins)', () => {
    const rc = build(cfg(false))
    const h = req('/x')
    entry(rc, h).finalizeRequestHeaders(h, info(), false)
    assert.equal(h.get('x-level'), 'config')
    assert.deepEqual(h.getAll('x-all'), ['route', 'vhost', 'config'])
    const resp = new HeaderMapImpl({ ':status': '200', 'x-secret': 's' })
    entry(rc, h).finalizeResponseHeaders(resp, info())
    assert.equal(resp.get('x-level'), 'config')
    assert.equal(resp.get('x-status'), '200', '%RESP()% sees the response being finalized')
    assert.equal(resp.has('x-secret'), false)
  })

  it('most_specific_header_mutations_wins reverses the order', () => {
    const rc = build(cfg(true))
    const h = req('/x')
    entry(rc, h).finalizeRequestHeaders(h, info(), false)
    assert.equal(h.get('x-level'), 'route')
    assert.deepEqual(h.getAll('x-all'), ['config', 'vhost', 'route'])
  })

  it('a weighted cluster mutates first and rewrites the host; %REQ()% sees the request', () => {
    const rc = build(cfg(false))
    const h = req('/w', { 'x-client-id': 'c-42' })
    const e = entry(rc, h)
    e.finalizeRequestHeaders(h, info(), false)
    assert.deepEqual(h.getAll('x-all'), ['weighted', 'route', 'vhost', 'config'])
    assert.equal(h.get('x-from'), 'c-42')
    assert.equal(h.get(':authority'), 'w.internal')
    const resp = new HeaderMapImpl({ ':status': '200' })
    e.finalizeResponseHeaders(resp, info())
    assert.equal(resp.get('x-w'), 'yes')
    assert.equal(resp.get('x-level'), 'config')
  })

  it('direct responses apply response headers of every level', () => {
    const rc = build(cfg(false))
    const d = route(rc, req('/d'))!.directResponseEntry!
    const resp = new HeaderMapImpl({ ':status': '204' })
    d.finalizeResponseHeaders(resp, info())
    assert.equal(resp.get('x-route'), 'd')
    assert.equal(resp.get('x-level'), 'config')
  })

  it('reports bad mutations with their path', () => {
    assert.deepEqual(buildErrors(oneHost([], { request_headers_to_add: [hv(':authority', 'x')] })), [
      'route_config.virtual_hosts[0].request_headers_to_add[0].header.key: :-prefixed or host headers may not be modified',
    ])
  })
})
