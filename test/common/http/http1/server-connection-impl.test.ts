import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BufferImpl } from '../../../../source/common/buffer/buffer-impl.js'
import { HeaderMapImpl } from '../../../../source/common/http/header-map-impl.js'
import { ServerConnectionImpl } from '../../../../source/common/http/http1/server-connection-impl.js'
import type { DispatchStatus, Http1Settings } from '../../../../source/envoy/http/codec.js'
import {
  headerList, http1Settings, RecordingServerCallbacks, settle, testCodecStats,
} from '../../../mocks/http/http1-fakes.js'
import { FakeConnection } from '../../../mocks/network/fake-connection.js'

function setup(overrides: Partial<Http1Settings> = {}) {
  const conn = new FakeConnection()
  const callbacks = new RecordingServerCallbacks()
  const stats = testCodecStats()
  const codec = new ServerConnectionImpl(conn, callbacks, http1Settings(overrides), stats)
  const statuses: DispatchStatus[] = []
  /** Feeds bytes the way the HCM does: into the connection's read buffer, then dispatch. */
  const feed = (bytes: string | Buffer): DispatchStatus => {
    conn.readBuffer.add(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
    const s = codec.dispatch(conn.readBuffer)
    statuses.push(s)
    return s
  }
  const out = (): string => conn.written().toString('latin1')
  return { conn, callbacks, stats, codec, feed, out, statuses }
}

const GET = 'GET /p HTTP/1.1\r\nHost: h\r\n\r\n'

describe('ServerConnectionImpl: requests and responses', () => {
  it('decodes a GET with pseudo-headers first and keeps the connection alive', async () => {
    const { callbacks, feed, out, conn, codec } = setup()
    assert.deepEqual(feed('GET /a?b HTTP/1.1\r\nUser-Agent: t\r\nHost: example.com\r\n\r\n'), { ok: true })
    const d = callbacks.last
    assert.deepEqual(headerList(d.headers!), [':path: /a?b', ':method: GET', ':authority: example.com', 'user-agent: t'])
    assert.equal(d.headersEnd, true)
    assert.equal(codec.hasActiveStream(), true)
    assert.equal(codec.protocol(), 'HTTP/1.1')
    d.respond(200, 'hi', { 'content-type': 'text/plain' })
    assert.equal(out(), 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nhi')
    assert.equal(codec.hasActiveStream(), false)
    await settle()
    assert.deepEqual(conn.closes, [])
    feed(GET)
    assert.equal(callbacks.streams.length, 2)
  })

  it('writes a small response in one write', () => {
    const { callbacks, feed, conn } = setup()
    feed(GET)
    callbacks.last.respond(200, 'body')
    assert.equal(conn.writes.length, 1)
  })

  it('frames responses: chunked without length, Content-Length: 0 for headers-only, none for 204/304/HEAD', async () => {
    const { callbacks, feed, out, conn } = setup()
    feed(GET)
    const e = callbacks.last.encoder
    e.encodeHeaders(new HeaderMapImpl({ ':status': '200' }), false)
    e.encodeData(new BufferImpl('abc'), false)
    e.encodeData(new BufferImpl('de'), true)
    assert.equal(out(), 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')
    conn.writes.length = 0
    await settle()

    feed(GET)
    callbacks.last.encoder.encodeHeaders(new HeaderMapImpl({ ':status': '200' }), true)
    assert.equal(out(), 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
    conn.writes.length = 0
    await settle()

    feed(GET)
    callbacks.last.encoder.encodeHeaders(new HeaderMapImpl({ ':status': '204' }), true)
    assert.equal(out(), 'HTTP/1.1 204 No Content\r\n\r\n')
    conn.writes.length = 0
    await settle()

    feed('HEAD / HTTP/1.1\r\nHost: h\r\n\r\n')
    const h = callbacks.last.encoder
    h.encodeHeaders(new HeaderMapImpl({ ':status': '200', 'content-length': '5' }), false)
    h.encodeData(new BufferImpl('hello'), true)
    assert.equal(out(), 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n')
  })

  it('sends trailers on chunked responses only when enabled', async () => {
    for (const enableTrailers of [true, false]) {
      const { callbacks, feed, out } = setup({ enableTrailers })
      feed(GET)
      const e = callbacks.last.encoder
      e.encodeHeaders(new HeaderMapImpl({ ':status': '200' }), false)
      e.encodeData(new BufferImpl('x'), false)
      e.encodeTrailers(new HeaderMapImpl({ 'grpc-status': '0' }))
      const tail = enableTrailers ? '0\r\ngrpc-status: 0\r\n\r\n' : '0\r\n\r\n'
      assert.equal(out(), `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n${tail}`)
    }
  })

  it('never writes transfer-encoding from upper layers, nor header values that would split the response', () => {
    const { callbacks, feed, out } = setup()
    feed(GET)
    callbacks.last.encoder.encodeHeaders(
      new HeaderMapImpl({ ':status': '200', 'transfer-encoding': 'gzip', 'x-evil': 'a\r\nset-cookie: x', 'content-length': '0' }),
      true,
    )
    assert.equal(out(), 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
  })

  it('decodes chunked bodies with extensions and trailers', () => {
    const { callbacks, feed } = setup({ enableTrailers: true })
    feed('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n')
    const d = callbacks.last
    assert.deepEqual(d.events, ['headers', 'data:hello', 'trailers'])
    assert.deepEqual(headerList(d.trailers!), ['x-sum: 5'])
  })

  it('ignores trailers when disabled and ends the body instead', () => {
    const { callbacks, feed } = setup()
    feed('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n')
    assert.deepEqual(callbacks.last.events, ['headers', 'data-end:hello'])
  })

  it('streams large bodies: one decodeData per dispatch, nothing held back', () => {
    const { callbacks, feed } = setup()
    const size = 1024 * 1024
    feed(`POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n\r\n`)
    const d = callbacks.last
    assert.deepEqual(d.events, ['headers'])
    const piece = Buffer.alloc(64 * 1024, 0x61)
    for (let sent = 0; sent < size; sent += piece.length) {
      feed(piece)
      assert.equal(d.body.length, sent + piece.length)
    }
    assert.equal(d.events.length, 1 + size / piece.length)
    assert.equal(d.events.at(-1)!.startsWith('data-end:'), true)
  })

  it('gives the same events when bytes arrive one at a time', () => {
    const msg = 'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n'
    const a = setup({ enableTrailers: true })
    a.feed(msg)
    const b = setup({ enableTrailers: true })
    for (const byte of Buffer.from(msg)) assert.deepEqual(b.feed(Buffer.from([byte])), { ok: true })
    const one = b.callbacks.last
    assert.equal(one.body, 'abcde')
    assert.deepEqual(headerList(one.headers!), headerList(a.callbacks.last.headers!))
    assert.deepEqual(headerList(one.trailers!), ['t: 1'])
    assert.equal(one.events[0], 'headers')
    assert.equal(one.events.at(-1), 'trailers')
  })
})

describe('ServerConnectionImpl: keep-alive and pipelining', () => {
  it('holds pipelined requests until the response is done, without reading more', async () => {
    const { callbacks, feed, out, conn } = setup()
    feed(`${GET}GET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n`)
    assert.equal(callbacks.streams.length, 1)
    assert.equal(conn.readEnabled(), false, 'reading stops while a full next request is buffered')
    callbacks.last.respond(200, '1')
    assert.equal(conn.readEnabled(), true)
    await settle()
    assert.equal(callbacks.streams.length, 2)
    assert.equal(callbacks.last.headers!.get(':path'), '/2')
    assert.equal(conn.readEnabled(), false)
    callbacks.last.respond(200, '2')
    await settle()
    assert.equal(callbacks.last.headers!.get(':path'), '/3')
    callbacks.last.respond(200, '3')
    await settle()
    const bodies = out().split('\r\n\r\n').slice(1).map((s) => s[0])
    assert.deepEqual(bodies, ['1', '2', '3'])
    assert.equal(conn.readEnabled(), true)
    assert.equal(conn.readBuffer.length, 0)
  })

  it('reports a protocol error found in a resumed pipelined request once, and answers it 400', async () => {
    const { callbacks, feed, out } = setup()
    feed(`${GET}GET /2 HTTP/1.1\r\nBad Header: x\r\n\r\n`)
    assert.deepEqual(callbacks.protocolErrors, [], 'the second head waits for the first response')
    callbacks.last.respond(200, '1')
    await settle()
    assert.equal(callbacks.protocolErrors.length, 1)
    assert.equal(callbacks.last.localReply?.code, 400)
    assert.match(out(), /^HTTP\/1\.1 200/)
  })

  it('answers pipelined requests in one dispatch when responses are synchronous', () => {
    const { callbacks, feed, out } = setup()
    callbacks.onNewStream = (d) => (d.onHeaders = () => d.respond(200, d.headers!.get(':path')!))
    feed(`GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n`)
    assert.equal(callbacks.streams.length, 2)
    assert.match(out(), /\/a.*\/b$/s)
  })

  it('does not start the next stream until the response completes even if the request had a body', async () => {
    const { callbacks, feed } = setup()
    feed('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET /n HTTP/1.1\r\nHost: h\r\n\r\n')
    assert.equal(callbacks.streams.length, 1)
    assert.deepEqual(callbacks.last.events, ['headers', 'data-end:ok'])
    callbacks.last.respond(200)
    await settle()
    assert.equal(callbacks.streams.length, 2)
  })

  it('closes after the response when the request says Connection: close', async () => {
    const { callbacks, feed, out, conn } = setup()
    feed('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    callbacks.last.respond(200, 'x')
    assert.match(out(), /connection: close\r\n/)
    await settle()
    assert.deepEqual(conn.closes.map((c) => c.type), ['FlushWrite'])
  })

  it('closes after an early response (the request body was not read) with connection: close', async () => {
    const { callbacks, feed, out, conn } = setup()
    feed('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\npartial')
    callbacks.last.respond(413, 'too big')
    assert.match(out(), /^HTTP\/1.1 413 Payload Too Large\r\n.*connection: close\r\n/s)
    await settle()
    assert.deepEqual(conn.closes.map((c) => c.type), ['FlushWriteAndDelay'])
    // Nothing after that is parsed.
    feed(GET)
    assert.equal(callbacks.streams.length, 1)
  })

  it('answers a complete request after the peer half-closed, then closes', async () => {
    const { callbacks, feed, conn, codec } = setup()
    feed(GET)
    codec.onRemoteEnd()
    callbacks.last.respond(200, 'late')
    await settle()
    assert.deepEqual(conn.closes.map((c) => c.type), ['FlushWrite'])
  })

  it('resets a request cut short by the peer', () => {
    const { callbacks, feed, codec } = setup()
    feed('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc')
    codec.onRemoteEnd()
    assert.deepEqual(callbacks.last.resets, ['ConnectionTermination'])
  })

  it('resets the stream and closes the connection when the HCM resets it', async () => {
    const { callbacks, feed, conn } = setup()
    feed(GET)
    callbacks.last.encoder.stream.resetStream('LocalReset')
    assert.deepEqual(callbacks.last.resets, ['LocalReset'])
    await settle()
    assert.deepEqual(conn.closes.map((c) => c.type), ['NoFlush'])
  })

  it('passes write-buffer watermarks to the active stream', () => {
    const { callbacks, feed, conn } = setup()
    feed(GET)
    for (const cb of conn.callbacks) cb.onAboveWriteBufferHighWatermark()
    for (const cb of conn.callbacks) cb.onBelowWriteBufferLowWatermark()
    assert.deepEqual(callbacks.last.watermarks, ['above', 'below'])
    assert.equal(callbacks.last.encoder.stream.bufferedBytes(), 0)
  })
})

describe('ServerConnectionImpl: HTTP/1.0, 100-continue, upgrades, CONNECT', () => {
  it('rejects HTTP/1.0 with 426 low_version unless accept_http_10', async () => {
    const { callbacks, feed, conn } = setup()
    assert.deepEqual(feed('GET / HTTP/1.0\r\n\r\n'), { ok: false, details: 'low_version' })
    assert.deepEqual(callbacks.last.localReply, { code: 426, body: 'Upgrade Required', details: 'low_version' })
    assert.match(conn.written().toString(), /^HTTP\/1.1 426 Upgrade Required\r\n/)
    await settle()
    assert.equal(conn.closes.length, 1)
  })

  it('serves HTTP/1.0: default host, HTTP/1.0 status line, close after', async () => {
    const { callbacks, feed, out, conn, codec } = setup({ acceptHttp10: true, defaultHostForHttp10: 'default.host' })
    feed('GET / HTTP/1.0\r\n\r\n')
    assert.equal(codec.protocol(), 'HTTP/1.0')
    assert.equal(callbacks.last.headers!.get(':authority'), 'default.host')
    const e = callbacks.last.encoder
    e.encodeHeaders(new HeaderMapImpl({ ':status': '200' }), false)
    e.encodeData(new BufferImpl('until close'), true)
    assert.equal(out(), 'HTTP/1.0 200 OK\r\nconnection: close\r\n\r\nuntil close')
    await settle()
    assert.deepEqual(conn.closes.map((c) => c.type), ['FlushWrite'])
  })

  it('keeps an HTTP/1.0 connection alive when asked and the response has a length', async () => {
    const { callbacks, feed, out, conn } = setup({ acceptHttp10: true })
    feed('GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n')
    callbacks.last.respond(200, 'ok')
    assert.equal(out(), 'HTTP/1.0 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok')
    await settle()
    assert.deepEqual(conn.closes, [])
  })

  it('surfaces Expect: 100-continue and writes 1xx headers before the response', () => {
    const { callbacks, feed, out } = setup()
    feed('POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n')
    const d = callbacks.last
    assert.equal(d.headers!.get('expect'), '100-continue')
    d.encoder.encode1xxHeaders(new HeaderMapImpl({ ':status': '100' }))
    feed('body')
    assert.equal(d.body, 'body')
    d.respond(200, 'ok')
    assert.equal(out(), 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
  })

  it('passes the bytes after an Upgrade request through as body, until the peer ends', async () => {
    const { callbacks, feed, out, codec, conn } = setup()
    feed('GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00raw')
    const d = callbacks.last
    assert.equal(d.headersEnd, false)
    assert.deepEqual(d.events, ['headers', 'data:\x81\x00raw'])
    d.encoder.encodeHeaders(new HeaderMapImpl({ ':status': '101', connection: 'upgrade', upgrade: 'websocket' }), false)
    d.encoder.encodeData(new BufferImpl(Buffer.from('\x82\x00', 'latin1')), false)
    await settle()
    assert.equal(out(), 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n\x82\x00')
    feed('GET / HTTP/1.1\r\n\r\n') // not HTTP any more: just bytes
    assert.equal(d.body, '\x81\x00rawGET / HTTP/1.1\r\n\r\n')
    codec.onRemoteEnd()
    assert.equal(d.events.at(-1), 'data-end:')
    d.encoder.encodeData(new BufferImpl(''), true)
    await settle()
    assert.deepEqual(conn.closes.map((c) => c.type), ['FlushWrite'])
  })

  it('closes after refusing an upgrade (the bytes that follow are not HTTP)', async () => {
    const { callbacks, feed, out, conn } = setup()
    feed('GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
    callbacks.last.respond(403, 'no')
    assert.match(out(), /^HTTP\/1.1 403 Forbidden\r\n.*connection: close\r\n/s)
    await settle()
    assert.equal(conn.closes.length, 1)
  })

  it('ignores a reset of a finished exchange', async () => {
    const { callbacks, feed, conn } = setup()
    feed(GET)
    const first = callbacks.last
    first.respond(200)
    first.encoder.stream.resetStream('LocalReset')
    await settle()
    assert.deepEqual(first.resets, [])
    assert.deepEqual(conn.closes, [])
  })

  it('serves h2c upgrade requests as plain HTTP/1.1', () => {
    const { callbacks, feed } = setup()
    feed('GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n')
    assert.deepEqual(headerList(callbacks.last.headers!), [':path: /', ':method: GET', ':authority: h'])
    assert.equal(callbacks.last.headersEnd, true)
  })

  it('treats CONNECT as a tunnel: :authority, no :path, raw bytes, unframed 200', async () => {
    const { callbacks, feed, out } = setup()
    feed('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01')
    const d = callbacks.last
    assert.deepEqual(headerList(d.headers!), [':method: CONNECT', ':authority: example.com:443'])
    assert.deepEqual(d.events, ['headers', 'data:\x16\x03\x01'])
    d.encoder.encodeHeaders(new HeaderMapImpl({ ':status': '200' }), false)
    await settle()
    assert.equal(out(), 'HTTP/1.1 200 OK\r\n\r\n')
  })

  it('handles absolute-form targets: :authority from the URL, :scheme, :path', () => {
    const { callbacks, feed } = setup()
    feed('GET http://example.com:8080?q=1 HTTP/1.1\r\nHost: other\r\n\r\n')
    assert.deepEqual(headerList(callbacks.last.headers!), [':path: /?q=1', ':method: GET', ':authority: example.com:8080', ':scheme: http'])
  })

  it('accepts OPTIONS *', () => {
    const { callbacks, feed } = setup()
    feed('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n')
    assert.equal(callbacks.last.headers!.get(':path'), '*')
  })
})

describe('ServerConnectionImpl: malformed requests get a local reply and {ok:false}', () => {
  const cases: Array<[string, string, number, string, Partial<Http1Settings>?]> = [
    ['CL + TE', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'http1.content_length_and_chunked_not_allowed'],
    ['TE not chunked', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n', 501, 'http1.invalid_transfer_encoding'],
    ['TE chunked not last', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 501, 'http1.invalid_transfer_encoding'],
    ['duplicate identical CL', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400, 'http1.codec_error'],
    ['differing CL', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400, 'http1.codec_error'],
    ['invalid CL', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3a\r\n\r\nabc', 400, 'http1.codec_error'],
    ['chunk size not hex', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n', 400, 'http1.codec_error'],
    ['chunk size overflow', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n100000000000000000\r\n', 400, 'http1.codec_error'],
    ['chunk size negative', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n', 400, 'http1.codec_error'],
    ['chunk data without CRLF', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', 400, 'http1.codec_error'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n', 400, 'http1.codec_error'],
    ['bare LF', 'GET / HTTP/1.1\nHost: h\n\n', 400, 'http1.codec_error'],
    ['bare CR', 'GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n', 400, 'http1.invalid_characters'],
    ['invalid name char', 'GET / HTTP/1.1\r\nHost: h\r\nX\u00e9: y\r\n\r\n', 400, 'http1.codec_error'],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : h\r\n\r\n', 400, 'http1.codec_error'],
    ['NUL in value', 'GET / HTTP/1.1\r\nHost: h\r\nX: \0\r\n\r\n', 400, 'http1.invalid_characters'],
    ['invalid method', 'GE(T / HTTP/1.1\r\nHost: h\r\n\r\n', 400, 'http1.codec_error'],
    ['invalid target', 'GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n', 400, 'http1.codec_error'],
    ['relative target without slash', 'GET a HTTP/1.1\r\nHost: h\r\n\r\n', 400, 'http1.invalid_url'],
    ['invalid absolute URL', 'GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n', 400, 'http1.invalid_url'],
    ['absolute URL scheme', 'GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n', 400, 'http1.invalid_scheme'],
    ['invalid version', 'GET / HTTP/1.x\r\nHost: h\r\n\r\n', 400, 'http1.codec_error'],
    ['missing host', 'GET / HTTP/1.1\r\n\r\n', 400, 'missing_host_header'],
    ['two hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'http1.codec_error'],
    ['too many headers', `GET / HTTP/1.1\r\nHost: h\r\n${'X: y\r\n'.repeat(5)}\r\n`, 431, 'http1.too_many_headers', { maxHeadersCount: 5 }],
    ['headers too large', `GET / HTTP/1.1\r\nHost: h\r\nX: ${'y'.repeat(2048)}\r\n\r\n`, 431, 'http1.headers_too_large', { maxHeadersBytes: 1024 }],
    ['underscore', 'GET / HTTP/1.1\r\nHost: h\r\nX_Y: 1\r\n\r\n', 400, 'http1.unexpected_underscore', { headersWithUnderscores: 'REJECT_REQUEST' }],
    ['CONNECT with a body', 'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 2\r\n\r\nab', 400, 'http1.body_disallowed'],
    ['CONNECT chunked', 'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nTransfer-Encoding: chunked\r\n\r\n', 501, 'http1.invalid_transfer_encoding'],
    ['CONNECT bad authority', 'CONNECT /path HTTP/1.1\r\nHost: h\r\n\r\n', 400, 'http1.invalid_url'],
  ]
  for (const [name, msg, code, details, overrides] of cases) {
    it(`${name} → ${code} ${details}`, async () => {
      const { callbacks, feed, conn, out } = setup(overrides)
      const status = feed(msg)
      assert.deepEqual(status, { ok: false, details })
      assert.equal(callbacks.streams.length, 1)
      const d = callbacks.last
      assert.equal(d.localReply?.code, code)
      assert.equal(d.localReply?.details, details)
      assert.match(out(), new RegExp(`^HTTP/1.1 ${code} .*connection: close\r\n`, 's'))
      // Later bytes are ignored; the connection closes once the reply is out.
      assert.deepEqual(feed(GET), { ok: false, details })
      await settle()
      assert.equal(conn.closes.length, 1)
      assert.equal(callbacks.streams.length, 1)
    })
  }

  it('rejects the same way when the bytes trickle in', () => {
    const { feed } = setup()
    const msg = 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'
    let last: DispatchStatus = { ok: true }
    for (const b of Buffer.from(msg)) last = feed(Buffer.from([b]))
    assert.deepEqual(last, { ok: false, details: 'http1.content_length_and_chunked_not_allowed' })
  })

  it('resets the stream when the body turns bad after the response started', () => {
    const { callbacks, feed } = setup()
    feed('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n')
    callbacks.last.encoder.encodeHeaders(new HeaderMapImpl({ ':status': '200' }), false)
    assert.deepEqual(feed('zz\r\n'), { ok: false, details: 'http1.codec_error' })
    assert.equal(callbacks.last.localReply, undefined)
    assert.deepEqual(callbacks.last.resets, ['ProtocolError'])
  })

  it('counts underscore headers dropped and rejected, and protocol errors', () => {
    const a = setup({ headersWithUnderscores: 'DROP_HEADER' })
    a.feed('GET / HTTP/1.1\r\nHost: h\r\nX_A: 1\r\nX_B: 2\r\n\r\n')
    assert.deepEqual(headerList(a.callbacks.last.headers!), [':path: /', ':method: GET', ':authority: h'])
    assert.equal(a.stats.droppedHeadersWithUnderscores.value(), 2)
    assert.equal(a.stats.droppedHeadersWithUnderscores.name, 'http1.dropped_headers_with_underscores')
    const b = setup({ headersWithUnderscores: 'REJECT_REQUEST' })
    b.feed('GET / HTTP/1.1\r\nHost: h\r\nX_A: 1\r\n\r\n')
    assert.equal(b.stats.requestsRejectedWithUnderscoresInHeaders.value(), 1)
    assert.equal(b.stats.protocolError.value(), 1)
  })
})
