import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BufferImpl } from '../../../../source/common/buffer/buffer-impl.js'
import { HeaderMapImpl } from '../../../../source/common/http/header-map-impl.js'
import { ClientConnectionImpl } from '../../../../source/common/http/http1/client-connection-impl.js'
import { type Http1Settings, RESET_DETAILS_REUSED_CONNECTION_CLOSED, type RequestEncoder } from '../../../../source/envoy/http/codec.js'
import { headerList, http1Settings, RecordingResponseDecoder, settle, testCodecStats } from '../../../mocks/http/http1-fakes.js'
import { FakeConnection } from '../../../mocks/network/fake-connection.js'

function setup(overrides: Partial<Http1Settings> = {}) {
  const conn = new FakeConnection()
  const stats = testCodecStats()
  const codec = new ClientConnectionImpl(conn, http1Settings(overrides), stats)
  const feed = (bytes: string) => {
    conn.readBuffer.add(Buffer.from(bytes, 'latin1'))
    return codec.dispatch(conn.readBuffer)
  }
  const out = (): string => conn.written().toString('latin1')
  /** Starts a request; returns its encoder and the recording decoder (also its stream callbacks). */
  const start = (): { encoder: RequestEncoder; d: RecordingResponseDecoder } => {
    const d = new RecordingResponseDecoder()
    const encoder = codec.newStream(d)
    encoder.stream.addCallbacks(d)
    return { encoder, d }
  }
  return { conn, codec, stats, feed, out, start }
}

const get = (extra: Record<string, string> = {}) =>
  new HeaderMapImpl({ ':method': 'GET', ':path': '/p?q', ':authority': 'up.example', ':scheme': 'http', ...extra })

describe('ClientConnectionImpl: requests', () => {
  it('writes the request line, Host from :authority, no framing for a bodiless GET', () => {
    const { start, out } = setup()
    start().encoder.encodeHeaders(get({ 'user-agent': 'x' }), true)
    assert.equal(out(), 'GET /p?q HTTP/1.1\r\nhost: up.example\r\nuser-agent: x\r\n\r\n')
  })

  it('adds content-length: 0 for a headers-only POST', () => {
    const { start, out } = setup()
    start().encoder.encodeHeaders(get({ ':method': 'POST' }), true)
    assert.equal(out(), 'POST /p?q HTTP/1.1\r\nhost: up.example\r\ncontent-length: 0\r\n\r\n')
  })

  it('chunks a body of unknown length, and ends it with the last chunk', async () => {
    const { start, out } = setup()
    const { encoder } = start()
    encoder.encodeHeaders(get({ ':method': 'POST' }), false)
    encoder.encodeData(new BufferImpl('hello'), false)
    await settle()
    encoder.encodeData(new BufferImpl(''), true)
    assert.equal(out(), 'POST /p?q HTTP/1.1\r\nhost: up.example\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
  })

  it('sends request trailers on chunked bodies when enabled', () => {
    const { start, out } = setup({ enableTrailers: true })
    const { encoder } = start()
    encoder.encodeHeaders(get({ ':method': 'POST' }), false)
    encoder.encodeData(new BufferImpl('a'), false)
    encoder.encodeTrailers(new HeaderMapImpl({ 'x-t': '1' }))
    assert.match(out(), /1\r\na\r\n0\r\nx-t: 1\r\n\r\n$/)
  })

  it('writes a body as is when the length is known', () => {
    const { start, out } = setup()
    const { encoder } = start()
    encoder.encodeHeaders(get({ ':method': 'PUT', 'content-length': '3' }), false)
    encoder.encodeData(new BufferImpl('abc'), true)
    assert.equal(out(), 'PUT /p?q HTTP/1.1\r\nhost: up.example\r\ncontent-length: 3\r\n\r\nabc')
  })

  it('uses the authority as the CONNECT target (the head goes out without waiting for data)', async () => {
    const { start, out } = setup()
    start().encoder.encodeHeaders(new HeaderMapImpl({ ':method': 'CONNECT', ':authority': 'h:443' }), false)
    await settle()
    assert.equal(out(), 'CONNECT h:443 HTTP/1.1\r\nhost: h:443\r\n\r\n')
  })
})

describe('ClientConnectionImpl: responses', () => {
  it('decodes a Content-Length response and stays reusable', () => {
    const { start, feed, codec } = setup()
    const { encoder, d } = start()
    encoder.encodeHeaders(get(), true)
    assert.deepEqual(feed('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhel'), { ok: true })
    assert.deepEqual(headerList(d.headers!), [':status: 200', 'content-length: 5', 'x: y'])
    assert.deepEqual(d.events, ['headers', 'data:hel'])
    feed('lo')
    assert.deepEqual(d.events, ['headers', 'data:hel', 'data-end:lo'])
    assert.equal(codec.reusable(), true)
    // The next request on the same connection.
    const next = start()
    next.encoder.encodeHeaders(get(), true)
    feed('HTTP/1.1 204 No Content\r\n\r\n')
    assert.deepEqual(next.d.events, ['headers-end'])
  })

  it('decodes chunked responses with trailers', () => {
    const { start, feed } = setup({ enableTrailers: true })
    const { encoder, d } = start()
    encoder.encodeHeaders(get(), true)
    feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\ngrpc-status: 0\r\n\r\n')
    assert.deepEqual(d.events, ['headers', 'data:wiki', 'trailers'])
    assert.equal(d.trailers!.get('grpc-status'), '0')
  })

  it('reads a close-delimited body until the connection closes; not reusable', () => {
    const { start, feed, codec } = setup()
    const { encoder, d } = start()
    encoder.encodeHeaders(get(), true)
    feed('HTTP/1.1 200 OK\r\n\r\nsome')
    assert.equal(codec.reusable(), false)
    feed(' data')
    codec.onRemoteClose()
    assert.deepEqual(d.events, ['headers', 'data:some', 'data: data', 'data-end:'])
    assert.deepEqual(d.resets, [])
    codec.onRemoteClose() // idempotent
  })

  it('knows HEAD, 204 and 304 responses have no body', () => {
    const { start, feed } = setup()
    const head = start()
    head.encoder.encodeHeaders(get({ ':method': 'HEAD' }), true)
    feed('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n')
    assert.deepEqual(head.d.events, ['headers-end'])
    const nm = start()
    nm.encoder.encodeHeaders(get(), true)
    feed('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n')
    assert.deepEqual(nm.d.events, ['headers-end'])
  })

  it('passes 100 Continue up and waits for the final response', () => {
    const { start, feed } = setup()
    const { encoder, d } = start()
    encoder.encodeHeaders(get({ ':method': 'POST', expect: '100-continue', 'content-length': '1' }), false)
    feed('HTTP/1.1 100 Continue\r\n\r\n')
    assert.deepEqual(d.events, ['1xx:100'])
    encoder.encodeData(new BufferImpl('x'), true)
    feed('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n')
    assert.deepEqual(d.events, ['1xx:100', 'headers-end'])
    assert.equal(d.headers!.get(':status'), '201')
  })

  it('switches to raw bytes after 101 to an upgrade request', () => {
    const { start, feed, codec } = setup()
    const { encoder, d } = start()
    encoder.encodeHeaders(get({ connection: 'upgrade', upgrade: 'websocket' }), false)
    feed('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05')
    assert.deepEqual(d.events, ['headers', 'data:\x81\x05'])
    feed('HTTP/1.1 200 OK\r\n\r\n')
    assert.equal(d.body, '\x81\x05HTTP/1.1 200 OK\r\n\r\n')
    assert.equal(codec.reusable(), false)
  })

  it('is not reusable after connection: close, or an HTTP/1.0 response without keep-alive', () => {
    for (const [resp, reusable] of [
      ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', true],
    ] as const) {
      const { start, feed, codec } = setup()
      start().encoder.encodeHeaders(get(), true)
      feed(resp)
      assert.equal(codec.reusable(), reusable, resp)
    }
  })

  it('is not reusable when the response ends before the request did', () => {
    const { start, feed, codec } = setup()
    start().encoder.encodeHeaders(get({ ':method': 'POST' }), false)
    feed('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')
    assert.equal(codec.reusable(), false)
  })

  it('decides reuse before the decoder hears the end (pools reuse right away)', () => {
    const { start, feed, codec } = setup()
    const { encoder, d } = start()
    let reusableAtEnd: boolean | undefined
    d.decodeData = (data, end) => {
      data.drain(data.length)
      if (end) reusableAtEnd = codec.reusable()
    }
    encoder.encodeHeaders(get(), true)
    feed('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx')
    assert.equal(reusableAtEnd, false)
  })
})

describe('ClientConnectionImpl: errors and resets', () => {
  it('resets with ConnectionTermination when the upstream closes before responding', () => {
    const { start, codec } = setup()
    const { encoder, d } = start()
    encoder.encodeHeaders(get(), true)
    codec.onRemoteClose()
    assert.deepEqual(d.resets, [{ reason: 'ConnectionTermination', details: '' }])
    assert.equal(codec.reusable(), false)
  })

  it('on a reused connection, a close before any answer byte carries RESET_DETAILS_REUSED_CONNECTION_CLOSED', () => {
    const { start, feed, codec } = setup()
    const first = start()
    first.encoder.encodeHeaders(get(), true)
    feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
    assert.equal(codec.reusable(), true)
    const second = start()
    second.encoder.encodeHeaders(get(), true)
    codec.onRemoteClose()
    assert.deepEqual(second.d.resets, [{ reason: 'ConnectionTermination', details: RESET_DETAILS_REUSED_CONNECTION_CLOSED }])
    // Once a byte of the answer arrived, the upstream saw the request: a plain termination.
    const b = setup()
    const b1 = b.start()
    b1.encoder.encodeHeaders(get(), true)
    b.feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
    const b2 = b.start()
    b2.encoder.encodeHeaders(get(), true)
    b.feed('HTTP/1.1 2')
    b.codec.onRemoteClose()
    assert.deepEqual(b2.d.resets, [{ reason: 'ConnectionTermination', details: '' }])
  })

  it('gives back a stream\'s read-disables when its exchange ends, so the idle connection reads (and sees a FIN)', () => {
    const { start, feed, conn } = setup()
    const { encoder } = start()
    encoder.encodeHeaders(get(), true)
    encoder.stream.readDisable(true)
    encoder.stream.readDisable(true)
    assert.equal(conn.readEnabled(), false)
    feed('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    assert.equal(conn.readEnabled(), true)
    // A late resume from the finished stream's reader does not touch the next exchange.
    const next = start()
    next.encoder.encodeHeaders(get(), true)
    next.encoder.stream.readDisable(true)
    encoder.stream.readDisable(false)
    assert.equal(conn.readEnabled(), false)
  })

  it('resets with ConnectionTermination when the upstream closes mid-response', () => {
    const { start, feed, codec } = setup()
    const { encoder, d } = start()
    encoder.encodeHeaders(get(), true)
    feed('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')
    codec.onRemoteClose()
    assert.deepEqual(d.resets.map((r) => r.reason), ['ConnectionTermination'])
    const partial = setup()
    const p = partial.start()
    p.encoder.encodeHeaders(get(), true)
    partial.feed('HTTP/1.1 200 O')
    partial.codec.onRemoteClose()
    assert.deepEqual(p.d.resets.map((r) => r.reason), ['ConnectionTermination'])
  })

  it('fails malformed responses with ProtocolError and {ok:false}', () => {
    const cases: Array<[string, string]> = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'http1.content_length_and_chunked_not_allowed'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', 'http1.invalid_transfer_encoding'],
      ['HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n', 'http1.content_length_not_allowed'],
      ['HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n', 'http1.transfer_encoding_not_allowed'],
      ['HTTP/1.1 101 Switching Protocols\r\n\r\n', 'http1.codec_error'],
      ['HTTP/1.1 2OO OK\r\n\r\n', 'http1.codec_error'],
      ['HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n', 'http1.codec_error'],
      ['HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n', 'http1.invalid_characters'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n', 'http1.codec_error'],
    ]
    for (const [resp, details] of cases) {
      const { start, feed, codec, stats } = setup()
      const { encoder, d } = start()
      encoder.encodeHeaders(get(), true)
      assert.deepEqual(feed(resp), { ok: false, details }, resp)
      assert.deepEqual(d.resets, [{ reason: 'ProtocolError', details }], resp)
      assert.equal(codec.reusable(), false)
      assert.equal(stats.protocolError.value(), 1)
    }
  })

  it('rejects bytes after a complete response and bytes nobody asked for', () => {
    const a = setup()
    a.start().encoder.encodeHeaders(get(), true)
    assert.deepEqual(a.feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n'), { ok: false, details: 'http1.codec_error' })
    assert.equal(a.codec.reusable(), false)
    const b = setup()
    assert.deepEqual(b.feed('HTTP/1.1 408 Request Timeout\r\n\r\n'), { ok: false, details: 'http1.codec_error' })
  })

  it('resets the stream and closes the connection when the router resets it', () => {
    const { start, conn, codec } = setup()
    const { encoder, d } = start()
    encoder.encodeHeaders(get(), false)
    encoder.stream.resetStream('LocalReset')
    assert.deepEqual(d.resets.map((r) => r.reason), ['LocalReset'])
    assert.deepEqual(conn.closes.map((c) => c.type), ['NoFlush'])
    assert.equal(codec.reusable(), false)
  })

  it('passes write-buffer watermarks to the pending stream', () => {
    const { start, conn } = setup()
    const { encoder, d } = start()
    encoder.encodeHeaders(get(), true)
    for (const cb of conn.callbacks) cb.onAboveWriteBufferHighWatermark()
    for (const cb of conn.callbacks) cb.onBelowWriteBufferLowWatermark()
    assert.deepEqual(d.events, ['above', 'below'])
  })
})
