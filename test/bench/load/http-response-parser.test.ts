import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NEED_MORE, PARSE_ERROR, ResponseParser } from '../../../bench/load/http-response-parser.js'

const b = (s: string): Buffer => Buffer.from(s, 'latin1')

/** Feeds `parts` one by one; returns the offset where the response ended in the last part. */
function feedAll(p: ResponseParser, parts: string[]): number {
  let r = NEED_MORE
  for (const part of parts) r = p.feed(b(part))
  return r
}

describe('bench load: HTTP response parser', () => {
  it('finds the end of a Content-Length response split anywhere', () => {
    const whole = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'
    for (let cut = 1; cut < whole.length; cut++) {
      const p = new ResponseParser()
      assert.equal(p.feed(b(whole.slice(0, cut))), NEED_MORE, `cut at ${cut}`)
      assert.equal(p.feed(b(whole.slice(cut))), whole.length - cut)
      assert.equal(p.status, 200)
      assert.equal(p.bodyBytes, 5)
      assert.equal(p.keepAlive, true)
    }
  })

  it('reads chunked bodies with extensions and trailers, and counts only the data', () => {
    const p = new ResponseParser()
    const r = feedAll(p, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r', '\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n', '\r\n'])
    assert.equal(r, 2)
    assert.equal(p.bodyBytes, 19)
  })

  it('handles 204, 1xx, Connection: close, HTTP/1.0 and close-delimited bodies', () => {
    let p = new ResponseParser()
    assert.equal(p.feed(b('HTTP/1.1 204 No Content\r\n\r\n')), 27)
    assert.equal(p.bodyBytes, 0)
    p = new ResponseParser()
    const cont = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
    assert.equal(p.feed(b(cont)), cont.length)
    assert.equal(p.status, 201)
    assert.equal(p.keepAlive, false)
    p = new ResponseParser()
    assert.equal(p.feed(b('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx')), 39)
    assert.equal(p.keepAlive, false)
    p = new ResponseParser()
    assert.equal(p.feed(b('HTTP/1.1 200 OK\r\n\r\nuntil the end')), NEED_MORE)
    assert.equal(p.end(), true)
    assert.equal(p.bodyBytes, 13)
    p = new ResponseParser()
    assert.equal(p.feed(b('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort')), NEED_MORE)
    assert.equal(p.inProgress, true)
    assert.equal(p.end(), false)
  })

  it('reports bytes that are not a response, and reuses itself after reset', () => {
    assert.equal(new ResponseParser().feed(b('SSH-2.0-OpenSSH\r\n\r\n')), PARSE_ERROR)
    assert.equal(new ResponseParser().feed(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')), PARSE_ERROR)
    const p = new ResponseParser()
    assert.equal(p.feed(b('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n')), 55)
    assert.equal(p.status, 503)
    p.reset()
    assert.equal(p.feed(b('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')), 40)
    assert.equal(p.status, 200)
  })
})
