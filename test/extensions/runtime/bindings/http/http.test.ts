import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../../source/envoy/runtime-api/component-factory.js'
import { RuntimeStatus } from '../../../../../source/envoy/runtime-api/errors.js'
import { httpBindingFactory, parseByteSize, parseGoDuration, setup } from '../../../../../source/extensions/runtime/bindings/http/config.js'
import { canonicalHeaderKey, HttpOutputBinding } from '../../../../../source/extensions/runtime/bindings/http/http.js'
import { silentLog } from '../../../../mocks/network/factory-context.js'

const enc = new TextEncoder()
const dec = new TextDecoder()
const ctx = { log: silentLog, appId: 'app' }

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

describe('bindings.http config', () => {
  it('registers by name and type; per thread', () => {
    const r = new RegistryImpl()
    setup(r)
    const cat = r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS)
    assert.equal(cat.lookup('bindings.http', undefined), httpBindingFactory)
    assert.equal(cat.lookup('nope', 'type.googleapis.com/bindings.http'), httpBindingFactory)
    assert.equal(httpBindingFactory.embedded, false)
    assert.equal(httpBindingFactory.type, 'http')
  })

  it('accepts a valid config', () => {
    const b = httpBindingFactory.create('b', { url: 'http://127.0.0.1:1/x', responseTimeout: '1m30s', maxResponseBodySize: '10Mi', errorIfNot2XX: 'false' }, ctx, 'p')
    assert.ok(b instanceof HttpOutputBinding)
    ;(b as HttpOutputBinding).close()
  })

  it('rejects bad metadata by code, naming the path', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /rt\.bindings\["b"\]\.metadata\.url: is required/],
      [{ url: 'ftp://x' }, /metadata\.url: must be an http/],
      [{ url: 'not a url' }, /metadata\.url: not a valid URL/],
      [{ url: 'http://x', responseTimeout: '5 parsecs' }, /metadata\.responseTimeout/],
      [{ url: 'http://x', maxResponseBodySize: 'big' }, /metadata\.maxResponseBodySize/],
      [{ url: 'http://x', mtlsClientCert: 'c' }, /metadata\.mtlsClientCert: mTLS/],
      [{ url: 'http://x', securityToken: 't' }, /securityTokenHeader/],
    ]
    for (const [md, re] of cases) {
      assert.throws(() => httpBindingFactory.create('b', md, ctx, 'rt.bindings["b"]'), (err: { code?: string; message: string }) => {
        assert.equal(err.code, ErrorCode.CONFIG_INVALID)
        assert.match(err.message, re)
        return true
      })
    }
  })

  it('parses Go durations and byte sizes', () => {
    assert.equal(parseGoDuration('500ms'), 500)
    assert.equal(parseGoDuration('1m30s'), 90_000)
    assert.equal(parseGoDuration('1.5h'), 5_400_000)
    assert.equal(parseGoDuration('0'), 0)
    assert.equal(parseGoDuration('5'), undefined)
    assert.equal(parseGoDuration('-1s'), undefined)
    assert.equal(parseByteSize('1024'), 1024)
    assert.equal(parseByteSize('2Mi'), 2 * 1024 * 1024)
    assert.equal(parseByteSize('1k'), 1000)
    assert.equal(parseByteSize('1 MB'), undefined)
    assert.equal(canonicalHeaderKey('content-type'), 'Content-Type')
    assert.equal(canonicalHeaderKey('x-REQUEST-id'), 'X-Request-Id')
  })
})

describe('bindings.http against a local server', () => {
  let server: http.Server
  let base: string
  const seen: Seen[] = []

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString()
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body })
        const u = new URL(req.url!, 'http://x')
        if (u.pathname.endsWith('/status')) {
          const code = Number(u.searchParams.get('code'))
          res.writeHead(code, { 'content-type': 'text/plain', 'x-multi': ['a', 'b'] })
          res.end(`status ${code}`)
          return
        }
        if (u.pathname.endsWith('/slow')) {
          setTimeout(() => res.end('late'), 500)
          return
        }
        if (u.pathname.endsWith('/big')) {
          res.end('x'.repeat(5000))
          return
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-echo-method': req.method! })
        res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ method: req.method, body }))
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => new Promise<void>((r) => server.close(() => r())))

  function binding(md: Record<string, unknown> = {}): HttpOutputBinding {
    return httpBindingFactory.create('b', { url: `${base}/api/`, ...md }, ctx, 'p') as HttpOutputBinding
  }

  it('lists Dapr operations', async () => {
    const b = binding()
    assert.deepEqual((await b.operations()).sort(), ['create', 'delete', 'get', 'head', 'options', 'patch', 'post', 'put', 'trace'])
    b.close()
  })

  it('maps each operation to its method, body only for post/put/patch/create', async () => {
    const b = binding()
    for (const op of ['get', 'post', 'put', 'delete', 'patch', 'options', 'trace', 'create', 'head']) {
      seen.length = 0
      const r = await b.invoke(op, enc.encode('{"a":1}'), {})
      const expected = op === 'create' ? 'POST' : op.toUpperCase()
      assert.equal(seen[0]!.method, expected)
      assert.equal(seen[0]!.url, '/api/')
      assert.equal(seen[0]!.body, ['POST', 'PUT', 'PATCH'].includes(expected) ? '{"a":1}' : '')
      assert.equal(r.metadata['statusCode'], '200')
      assert.equal(r.metadata['status'], '200 OK')
      assert.equal(r.metadata['X-Echo-Method'], expected)
      if (op !== 'head') assert.equal(JSON.parse(dec.decode(r.data)).method, expected)
    }
    b.close()
  })

  it('appends metadata path, sends capitalised metadata as headers, Dapr default headers', async () => {
    const b = binding({ securityToken: 's3cret', securityTokenHeader: 'X-Token' })
    seen.length = 0
    await b.invoke('post', enc.encode('x'), { path: '/orders/1?x=y', 'X-Custom': 'c', lowercase: 'not a header', traceparent: '00-abc-def-01' })
    const s = seen[0]!
    assert.equal(s.url, '/api/orders/1?x=y')
    assert.equal(s.headers['x-custom'], 'c')
    assert.equal(s.headers['lowercase'], undefined)
    assert.equal(s.headers['traceparent'], '00-abc-def-01')
    assert.equal(s.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(s.headers['accept'], 'application/json; charset=utf-8')
    assert.equal(s.headers['x-token'], 's3cret')
    seen.length = 0
    await b.invoke('post', enc.encode('x'), { 'Content-Type': 'text/plain', Accept: 'text/html' })
    assert.equal(seen[0]!.headers['content-type'], 'text/plain')
    assert.equal(seen[0]!.headers['accept'], 'text/html')
    seen.length = 0
    await b.invoke('get', new Uint8Array(), {})
    assert.equal(seen[0]!.headers['content-type'], undefined)
    b.close()
  })

  it('fails for status >= 400 (and other non-2xx) unless errorIfNot2XX is false', async () => {
    const b = binding()
    for (const code of [404, 500, 302]) {
      await assert.rejects(b.invoke('get', new Uint8Array(), { path: `status?code=${code}` }), (err: { status?: number; errorCode?: string; message: string }) => {
        assert.equal(err.status, RuntimeStatus.INTERNAL)
        assert.equal(err.errorCode, 'ERR_INVOKE_OUTPUT_BINDING')
        assert.equal(err.message, `received status code ${code}`)
        return true
      })
    }
    const r = await b.invoke('get', new Uint8Array(), { path: 'status?code=404', errorIfNot2XX: 'false' })
    assert.equal(r.metadata['statusCode'], '404')
    assert.equal(r.metadata['status'], '404 Not Found')
    assert.equal(r.metadata['X-Multi'], 'a, b')
    assert.equal(dec.decode(r.data), 'status 404')
    b.close()
    const lenient = binding({ errorIfNot2XX: false })
    assert.equal((await lenient.invoke('get', new Uint8Array(), { path: 'status?code=503' })).metadata['statusCode'], '503')
    lenient.close()
  })

  it('rejects an unknown operation', async () => {
    const b = binding()
    await assert.rejects(b.invoke('connect', new Uint8Array(), {}), (err: { status?: number; message: string }) => {
      assert.equal(err.status, RuntimeStatus.INVALID_ARGUMENT)
      assert.match(err.message, /does not support operation connect/)
      return true
    })
    b.close()
  })

  it('responseTimeout, maxResponseBodySize, connection errors', async () => {
    const b = binding({ responseTimeout: '50ms', maxResponseBodySize: '1000' })
    await assert.rejects(b.invoke('get', new Uint8Array(), { path: 'slow' }), /no response within 50ms/)
    const big = await b.invoke('get', new Uint8Array(), { path: 'big' })
    assert.equal(big.data.byteLength, 1000)
    b.close()
    const down = httpBindingFactory.create('b', { url: 'http://127.0.0.1:1/' }, ctx, 'p') as HttpOutputBinding
    await assert.rejects(down.invoke('get', new Uint8Array(), {}), (err: { status?: number; errorCode?: string }) => err.status === RuntimeStatus.INTERNAL && err.errorCode === 'ERR_INVOKE_OUTPUT_BINDING')
    down.close()
  })

  it('rejects header values node cannot send', async () => {
    const b = binding()
    await assert.rejects(b.invoke('get', new Uint8Array(), { 'X-Bad': 'a\nb' }), (err: { status?: number }) => err.status === RuntimeStatus.INVALID_ARGUMENT)
    b.close()
  })
})
