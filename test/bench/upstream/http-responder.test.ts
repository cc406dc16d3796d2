import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { httpResponder } from '../../../bench/upstream/http-responder.js'

let server: net.Server
let port = 0

before(async () => {
  server = net.createServer(httpResponder({ small: Buffer.from('s'.repeat(100)), large: Buffer.alloc(65536, 0x6c), uploaded: Buffer.from('u'.repeat(100)) }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as net.AddressInfo).port
})
after(() => server.close())

/** Sends `parts` (written one by one) and collects everything until the server closes or `until` bytes arrived. */
async function exchange(parts: Array<string | Buffer>, until: number): Promise<string> {
  const s = net.connect({ port, host: '127.0.0.1' })
  await new Promise((r) => s.once('connect', r))
  const got: Buffer[] = []
  let n = 0
  const done = new Promise<void>((resolve) => {
    s.on('data', (c: Buffer) => {
      got.push(c)
      n += c.length
      if (n >= until) resolve()
    })
    s.on('close', () => resolve())
    // A test that expects more than comes fails on its assertions instead of hanging.
    setTimeout(resolve, 3000).unref()
  })
  for (const p of parts) {
    s.write(p)
    await new Promise((r) => setImmediate(r))
  }
  await done
  s.destroy()
  return Buffer.concat(got).toString('latin1')
}

const responseLength = (body: number, close = false, status = '200 OK'): number =>
  `HTTP/1.1 ${status}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`.length + body

describe('bench upstream: HTTP responder', () => {
  it('answers pipelined GETs in order, keeping the connection', async () => {
    const out = await exchange(['GET /small HTTP/1.1\r\nHost: x\r\n\r\nGET /64k HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\n', 'Host: x\r\n\r\n'], responseLength(100) + responseLength(65536) + responseLength(10, false, '404 Not Found'))
    assert.equal(out.length, responseLength(100) + responseLength(65536) + responseLength(10, false, '404 Not Found'))
    assert.ok(out.startsWith('HTTP/1.1 200 OK\r\n'))
    assert.equal(out.indexOf('Content-Length: 65536'), out.lastIndexOf('Content-Length: 65536'))
    assert.match(out, /HTTP\/1\.1 404 Not Found/)
  })

  it('reads whole Content-Length and chunked uploads before answering', async () => {
    const body = Buffer.alloc(200_000, 0x62)
    const cl = await exchange([`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, body.subarray(0, 1000), body.subarray(1000)], responseLength(100))
    assert.equal(cl.length, responseLength(100))
    const chunked = await exchange(['POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', '5\r\nhello\r\n', '3;e=1\r\nabc\r\n0\r\n\r\n'], responseLength(100))
    assert.equal(chunked.length, responseLength(100))
  })

  it('closes after answering a request that asks for it', async () => {
    const out = await exchange(['GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], Infinity)
    assert.equal(out.length, responseLength(100, true))
    assert.match(out, /Connection: close/)
  })
})
