import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BufferImpl } from '../../../../source/common/buffer/buffer-impl.js'
import { Http1Parser, ParseResult, type ParserOptions } from '../../../../source/common/http/http1/parser.js'
import { headerList } from '../../../mocks/http/http1-fakes.js'

const OPTS: ParserOptions = {
  maxHeadersBytes: 60 * 1024,
  maxHeadersCount: 100,
  enableTrailers: true,
  allowChunkedLength: false,
  headersWithUnderscores: 'ALLOW',
}

interface Parsed {
  events: string[]
  heads: string[][]
  body: string
  trailers: string[] | undefined
  error: string | undefined
  left: number
}

/** Feeds `input` in `step`-byte pieces (0: all at once) and records events. */
function run(type: 'request' | 'response', input: string | Buffer, step = 0, opts: Partial<ParserOptions> = {}): Parsed {
  const p = new Http1Parser(type, { ...OPTS, ...opts })
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input
  const data = new BufferImpl()
  const out: Parsed = { events: [], heads: [], body: '', trailers: undefined, error: undefined, left: 0 }
  const pieces = step === 0 ? [bytes] : Array.from({ length: Math.ceil(bytes.length / step) }, (_, i) => bytes.subarray(i * step, (i + 1) * step))
  outer: for (const piece of pieces) {
    data.add(piece)
    for (;;) {
      const r = p.execute(data)
      if (p.body.length > 0) out.body += p.takeBody().toString('latin1')
      if (r === ParseResult.NeedMore) break
      if (r === ParseResult.Headers) {
        out.events.push('headers')
        out.heads.push(headerList(p.headers))
        if (type === 'response' && (p.statusCode < 200 || p.statusCode === 204 || p.statusCode === 304)) p.setNoBody()
      } else if (r === ParseResult.MessageComplete) {
        out.events.push('complete')
        if (p.trailers !== undefined) out.trailers = headerList(p.trailers)
      } else {
        out.error = `${p.errorCode} ${p.errorDetails}`
        break outer
      }
    }
  }
  out.left = data.length
  return out
}

describe('Http1Parser: requests', () => {
  it('parses a GET: method, target, version, lower-cased names, trimmed values, Host as :authority', () => {
    const p = new Http1Parser('request', OPTS)
    const data = new BufferImpl('GET /a?b=1 HTTP/1.1\r\nUser-Agent:  curl/8 \t\r\nHOST: example.com\r\nX-Empty:\r\n\r\n')
    assert.equal(p.execute(data), ParseResult.Headers)
    assert.equal(p.method, 'GET')
    assert.equal(p.url, '/a?b=1')
    assert.equal(p.minorVersion, 1)
    assert.deepEqual(headerList(p.headers), [':path: /a?b=1', ':method: GET', ':authority: example.com', 'user-agent: curl/8', 'x-empty: '])
    assert.equal(p.hasBody(), false)
    assert.equal(p.execute(data), ParseResult.MessageComplete)
    assert.equal(data.length, 0)
  })

  it('gives the same result whatever the byte boundaries', () => {
    const msg = 'POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;name=value;x\r\nhello\r\n0006\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n'
    const whole = run('request', msg)
    assert.equal(whole.error, undefined)
    assert.equal(whole.body, 'hello world')
    assert.deepEqual(whole.trailers, ['x-trailer: t'])
    for (const step of [1, 2, 3, 7, 13]) {
      const r = run('request', msg, step)
      assert.deepEqual({ ...r }, { ...whole }, `step ${step}`)
    }
  })

  it('parses Content-Length bodies and pipelined messages in order', () => {
    const r = run('request', 'POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: h\r\n\r\n')
    assert.deepEqual(r.events, ['headers', 'complete', 'headers', 'complete'])
    assert.equal(r.body, 'abc')
    assert.equal(r.left, 0)
  })

  it('skips empty lines before a request-line', () => {
    const r = run('request', '\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', 1)
    assert.deepEqual(r.events, ['headers', 'complete'])
  })

  it('keeps obs-text bytes in values (latin1 round trip)', () => {
    const r = run('request', Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nX: a'), Buffer.from([0xe9, 0xff]), Buffer.from('\r\n\r\n')]))
    assert.deepEqual(r.heads[0]!.at(-1), 'x: a\u00e9\u00ff')
  })

  it('drops trailers when they are disabled', () => {
    const r = run('request', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX: y\r\n\r\n', 0, { enableTrailers: false })
    assert.equal(r.trailers, undefined)
    assert.equal(r.body, 'a')
  })

  it('lets CL with TE: chunked through when allowChunkedLength, dropping Content-Length', () => {
    const r = run('request', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n', 0, { allowChunkedLength: true })
    assert.equal(r.error, undefined)
    assert.equal(r.heads[0]!.some((l) => l.startsWith('content-length')), false)
    assert.equal(r.body, 'a')
  })

  const bad: Array<[string, string, string]> = [
    ['CL and TE', 'POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', '400 http1.content_length_and_chunked_not_allowed'],
    ['TE gzip', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', '501 http1.invalid_transfer_encoding'],
    ['TE chunked twice', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', '501 http1.invalid_transfer_encoding'],
    ['TE list', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', '501 http1.invalid_transfer_encoding'],
    ['duplicate CL', 'POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', '400 http1.codec_error'],
    ['CL list', 'POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\nx', '400 http1.codec_error'],
    ['CL sign', 'POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx', '400 http1.codec_error'],
    ['chunk size not hex', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', '400 http1.codec_error'],
    ['chunk size negative', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n', '400 http1.codec_error'],
    ['chunk size overflow', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n', '400 http1.codec_error'],
    ['chunk size space', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n', '400 http1.codec_error'],
    ['chunk without CRLF', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n', '400 http1.codec_error'],
    ['chunk line bare LF', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n', '400 http1.codec_error'],
    ['chunk ext bare CR', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n', '400 http1.codec_error'],
    ['obs-fold', 'GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n', '400 http1.codec_error'],
    ['bare LF line ends', 'GET / HTTP/1.1\nHost: h\n\n', '400 http1.codec_error'],
    ['bare LF in headers', 'GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n', '400 http1.codec_error'],
    ['bare CR in value', 'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n', '400 http1.invalid_characters'],
    ['NUL in value', 'GET / HTTP/1.1\r\nX: a\0b\r\n\r\n', '400 http1.invalid_characters'],
    ['CTL in value', 'GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n', '400 http1.invalid_characters'],
    ['bad name char', 'GET / HTTP/1.1\r\nX(y): a\r\n\r\n', '400 http1.codec_error'],
    ['space in name', 'GET / HTTP/1.1\r\nX y: a\r\n\r\n', '400 http1.codec_error'],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : h\r\n\r\n', '400 http1.codec_error'],
    ['no colon', 'GET / HTTP/1.1\r\nHost\r\n\r\n', '400 http1.codec_error'],
    ['empty name', 'GET / HTTP/1.1\r\n: a\r\n\r\n', '400 http1.codec_error'],
    ['bad method', 'G@T / HTTP/1.1\r\n\r\n', '400 http1.codec_error'],
    ['two spaces', 'GET  / HTTP/1.1\r\n\r\n', '400 http1.codec_error'],
    ['space in target', 'GET /a b HTTP/1.1\r\n\r\n', '400 http1.codec_error'],
    ['CTL in target', 'GET /a\x7f HTTP/1.1\r\n\r\n', '400 http1.codec_error'],
    ['bad version', 'GET / HTTP/1.1x\r\n\r\n', '400 http1.codec_error'],
    ['version digits', 'GET / HTTP/11\r\n\r\n', '400 http1.codec_error'],
    ['no version (HTTP/0.9)', 'GET /\r\n\r\n', '400 http1.codec_error'],
    ['lower-case protocol', 'GET / http/1.1\r\n\r\n', '400 http1.codec_error'],
  ]
  for (const [name, msg, want] of bad) {
    it(`rejects: ${name}`, () => {
      assert.equal(run('request', msg).error, want, 'at once')
      assert.equal(run('request', msg, 1).error, want, 'byte by byte')
    })
  }

  it('bounds chunk extensions: a chunk-size line over 4 KiB, and extensions that with the head pass the header limit', () => {
    const te = 'Transfer-Encoding: chunked\r\n\r\n'
    for (const [type, start] of [['request', `POST / HTTP/1.1\r\nHost: h\r\n${te}`], ['response', `HTTP/1.1 200 OK\r\n${te}`]] as const) {
      const huge = `${start}5;x=${'a'.repeat(60_000)}\r\nhello\r\n0\r\n\r\n`
      assert.equal(run(type, huge).error, '400 http1.codec_error', `${type}: at once`)
      assert.equal(run(type, huge, 1000).error, '400 http1.codec_error', `${type}: in pieces`)
      const atLimit = `${start}5;x=${'a'.repeat(4096 - 7)}\r\nhello\r\n0\r\n\r\n`
      assert.equal(run(type, atLimit).error, undefined, `${type}: a 4096-byte line is fine`)
      const many = `${start}${`1;e=${'b'.repeat(200)}\r\nz\r\n`.repeat(8)}0\r\n\r\n`
      assert.equal(run(type, many, 0, { maxHeadersBytes: 1024 }).error, '400 http1.codec_error', `${type}: many short extensions`)
      assert.equal(run(type, many, 0, { maxHeadersBytes: 4096 }).error, undefined, `${type}: within a larger limit`)
    }
  })

  it('limits header count and bytes (431), both at once and trickling in', () => {
    const many = `GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(6)}\r\n`
    assert.equal(run('request', many, 0, { maxHeadersCount: 5 }).error, '431 http1.too_many_headers')
    assert.equal(run('request', many, 0, { maxHeadersCount: 6 }).error, undefined)
    const big = `GET / HTTP/1.1\r\nX: ${'a'.repeat(2000)}\r\n\r\n`
    assert.equal(run('request', big, 0, { maxHeadersBytes: 1024 }).error, '431 http1.headers_too_large')
    assert.equal(run('request', big, 100, { maxHeadersBytes: 1024 }).error, '431 http1.headers_too_large')
    // Endless headers without the blank line are cut off without buffering them all.
    const p = new Http1Parser('request', { ...OPTS, maxHeadersBytes: 1024 })
    const data = new BufferImpl('GET / HTTP/1.1\r\n')
    let r: number = ParseResult.NeedMore
    for (let i = 0; i < 1000 && r === ParseResult.NeedMore; i++) {
      data.add(Buffer.from('X-Long-Header: some value\r\n'))
      r = p.execute(data)
    }
    assert.equal(r, ParseResult.Error)
    assert.ok(data.length < 4096)
  })

  it('is linear when a large head arrives one byte at a time', () => {
    const head = `GET / HTTP/1.1\r\nHost: h\r\n${`X-Header-Padding: ${'v'.repeat(100)}\r\n`.repeat(400)}\r\n`
    const start = performance.now()
    const r = run('request', head, 1, { maxHeadersCount: 1000 })
    assert.equal(r.error, undefined)
    assert.equal(r.heads[0]!.length, 403)
    // ~48 KB byte by byte: linear is a few hundred ms at worst; quadratic would be minutes.
    assert.ok(performance.now() - start < 10_000)
  })

  it('handles underscores: DROP_HEADER drops, REJECT_REQUEST fails', () => {
    const msg = 'GET / HTTP/1.1\r\nHost: h\r\nX_Y: 1\r\n\r\n'
    assert.deepEqual(run('request', msg, 0, { headersWithUnderscores: 'DROP_HEADER' }).heads[0], [':path: /', ':method: GET', ':authority: h'])
    assert.equal(run('request', msg, 0, { headersWithUnderscores: 'REJECT_REQUEST' }).error, '400 http1.unexpected_underscore')
    assert.deepEqual(run('request', msg).heads[0], [':path: /', ':method: GET', ':authority: h', 'x_y: 1'])
    // Responses are not subject to it.
    assert.equal(run('response', 'HTTP/1.1 200 OK\r\nX_Y: 1\r\nContent-Length: 0\r\n\r\n', 0, { headersWithUnderscores: 'REJECT_REQUEST' }).error, undefined)
  })
})

describe('Http1Parser: responses', () => {
  it('parses status line, headers and a Content-Length body', () => {
    const r = run('response', 'HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nServer: x\r\n\r\nno')
    assert.deepEqual(r.heads[0], [':status: 404', 'content-length: 2', 'server: x'])
    assert.deepEqual(r.events, ['headers', 'complete'])
    assert.equal(r.body, 'no')
  })

  it('tolerates an empty reason phrase, with or without the space', () => {
    assert.equal(run('response', 'HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n').error, undefined)
    assert.equal(run('response', 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n').error, undefined)
  })

  it('reads a body without framing until the close', () => {
    const p = new Http1Parser('response', OPTS)
    const data = new BufferImpl('HTTP/1.0 200 OK\r\n\r\nsome')
    assert.equal(p.execute(data), ParseResult.Headers)
    assert.equal(p.minorVersion, 0)
    assert.equal(p.readsUntilClose(), true)
    assert.equal(p.execute(data), ParseResult.NeedMore)
    data.add(Buffer.from(' more'))
    assert.equal(p.execute(data), ParseResult.NeedMore)
    assert.equal(p.takeBody().toString(), 'some more')
    p.finishMessage()
    assert.equal(p.readsUntilClose(), false)
  })

  it('parses chunked responses with trailers byte by byte', () => {
    const msg = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nGrpc-Status: 0\r\n\r\n'
    const r = run('response', msg, 1)
    assert.equal(r.body, 'abc')
    assert.deepEqual(r.trailers, ['grpc-status: 0'])
  })

  it('handles interim responses before the final one', () => {
    const r = run('response', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx')
    assert.deepEqual(r.events, ['headers', 'complete', 'headers', 'complete'])
    assert.equal(r.heads[0]![0], ':status: 100')
  })

  const bad: Array<[string, string]> = [
    ['bad status', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['status 0xx', 'HTTP/1.1 099 X\r\n\r\n'],
    ['letters', 'HTTP/1.1 abc OK\r\n\r\n'],
    ['no version', 'ICY 200 OK\r\n\r\n'],
    ['CTL in reason', 'HTTP/1.1 200 O\x01K\r\n\r\n'],
  ]
  for (const [name, msg] of bad) {
    it(`rejects: ${name}`, () => assert.equal(run('response', msg).error, '400 http1.codec_error'))
  }
})
