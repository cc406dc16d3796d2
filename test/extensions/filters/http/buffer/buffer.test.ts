import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../../source/envoy/http/filter.js'
import type { Route } from '../../../../../source/envoy/router/router.js'
import { BufferFilter } from '../../../../../source/extensions/filters/http/buffer/buffer.js'
import { bufferFilterFactory, createBufferSettings, setup } from '../../../../../source/extensions/filters/http/buffer/config.js'
import { FakeStream, fakeHttpFactoryContext, fakeRoute } from '../../../../mocks/http/fake-filter-callbacks.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer'
const NAME = 'envoy.filters.http.buffer'
const POST = { ':method': 'POST', ':path': '/upload', ':authority': 'x' }

function expectInvalid(run: () => unknown, re: RegExp): void {
  assert.throws(run, (err: { code?: string; message: string }) => {
    assert.equal(err.code, ErrorCode.CONFIG_INVALID)
    assert.match(err.message, re)
    return true
  })
}

const perRoute = (c: unknown): unknown => bufferFilterFactory.createRouteSpecificFilterConfig!(c, fakeHttpFactoryContext(), 'r.typed_per_filter_config')

function open(maxRequestBytes: number, route: Route = fakeRoute()): FakeStream {
  const s = new FakeStream({ route })
  s.addStreamDecoderFilter(new BufferFilter(createBufferSettings({ max_request_bytes: maxRequestBytes }, 'f')))
  return s
}

describe('buffer config', () => {
  it('registers by name and by @type; BufferPerRoute per route', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS)
    assert.equal(category.lookup(NAME, undefined), bufferFilterFactory)
    assert.equal(category.lookup('x', TYPE), bufferFilterFactory)
    assert.equal(bufferFilterFactory.perRouteConfigType, 'envoy.extensions.filters.http.buffer.v3.BufferPerRoute')
  })

  it('accepts valid configs', () => {
    assert.equal(typeof bufferFilterFactory.createFilterFactory({ max_request_bytes: 1024 }, fakeHttpFactoryContext(), 'f'), 'function')
    assert.equal(typeof perRoute({ disabled: true }), 'object')
    assert.equal(typeof perRoute({ buffer: { max_request_bytes: 10 } }), 'object')
  })

  it('rejects bad configs with ETS_ERR_CONFIG_INVALID naming the field', () => {
    expectInvalid(() => bufferFilterFactory.createFilterFactory({}, fakeHttpFactoryContext(), 'f'), /^f\.max_request_bytes: value is required/)
    expectInvalid(() => bufferFilterFactory.createFilterFactory({ max_request_bytes: 0 }, fakeHttpFactoryContext(), 'f'), /^f\.max_request_bytes: value must be greater than 0/)
    expectInvalid(() => perRoute({}), /^r\.typed_per_filter_config\.override: one of disabled or buffer is required/)
    expectInvalid(() => perRoute({ disabled: false }), /disabled: value must equal true/)
    expectInvalid(() => perRoute({ buffer: {} }), /buffer\.max_request_bytes: value is required/)
  })
})

describe('buffer filter', () => {
  it('lets header-only requests through at once', () => {
    const s = open(10)
    s.decodeHeaders({ ':method': 'GET', ':path': '/' }, true)
    assert.equal(s.forwarded, true)
    assert.equal(s.upstream.headers?.has('content-length'), false)
    assert.equal(s.decoderLimit, s.bufferLimit)
  })

  it('holds the request until the whole body is in, then sends it with a content-length', () => {
    const s = open(100)
    s.decodeHeaders({ ...POST, 'transfer-encoding': 'chunked' }, false)
    assert.equal(s.decoderLimit, 100)
    s.decodeData('hello ', false)
    s.decodeData('buffered ', false)
    assert.equal(s.forwarded, false)
    s.decodeData('world', true)
    assert.equal(s.forwarded, true)
    assert.equal(s.upstream.bodyText, 'hello buffered world')
    assert.equal(s.upstream.ended, true)
    assert.equal(s.upstream.dataFrames, 1)
    assert.equal(s.upstream.headers?.get('content-length'), '20')
    assert.equal(s.upstream.headers?.has('transfer-encoding'), false)
  })

  it('keeps a content-length the client sent', () => {
    const s = open(100)
    s.decodeHeaders({ ...POST, 'content-length': '5' }, false)
    s.decodeData('hello', true)
    assert.equal(s.upstream.headers?.get('content-length'), '5')
  })

  it('answers 413 Payload Too Large past max_request_bytes', () => {
    const s = open(8)
    s.decodeHeaders(POST, false)
    s.decodeData('12345', false)
    s.decodeData('67890', false)
    assert.equal(s.forwarded, false)
    assert.deepEqual([s.localReply?.code, s.localReply?.body, s.localReply?.details], [413, 'Payload Too Large', 'request_payload_too_large'])
  })

  it('releases the body and trailers when trailers end the request', () => {
    const s = open(100)
    s.decodeHeaders(POST, false)
    s.decodeData('abc', false)
    s.decodeTrailers({ 'x-sum': '1' })
    assert.equal(s.forwarded, true)
    assert.equal(s.upstream.bodyText, 'abc')
    assert.equal(s.upstream.headers?.get('content-length'), '3')
    assert.equal(s.upstream.trailers?.get('x-sum'), '1')
  })

  it('per route: disabled streams the request; buffer sets another limit', () => {
    const off = open(8, fakeRoute({ perFilterConfig: { [NAME]: perRoute({ disabled: true }) } }))
    off.decodeHeaders(POST, false)
    assert.equal(off.forwarded, true)
    off.decodeData('0123456789', true)
    assert.equal(off.upstream.bodyText, '0123456789')
    assert.equal(off.upstream.headers?.has('content-length'), false)
    assert.equal(off.localReplies.length, 0)

    const bigger = open(8, fakeRoute({ virtualHostPerFilterConfig: { [NAME]: perRoute({ buffer: { max_request_bytes: 64 } }) } }))
    bigger.decodeHeaders(POST, false)
    assert.equal(bigger.decoderLimit, 64)
    bigger.decodeData('0123456789', true)
    assert.equal(bigger.upstream.headers?.get('content-length'), '10')
  })

  it('installs a decoder filter through the factory', () => {
    const install = bufferFilterFactory.createFilterFactory({ max_request_bytes: 4 }, fakeHttpFactoryContext(), 'f')
    const s = new FakeStream({ route: fakeRoute() })
    install(s)
    assert.deepEqual([s.decoderFilters.length, s.encoderFilters.length], [1, 0])
    s.decodeHeaders(POST, false)
    s.decodeData('too long', false)
    assert.equal(s.localReply?.code, 413)
  })
})
