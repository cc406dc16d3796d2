import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { InvokeRequest, ServiceInvoker } from '../../../../../source/envoy/runtime-api/invoker.js'
import { RuntimeStatus } from '../../../../../source/envoy/runtime-api/errors.js'
import { RuntimeApiError } from '../../../../../source/common/runtime-api/runtime-api-error.js'
import { setupAllExtensions } from '../../../../../source/extensions/all-extensions.js'
import { daprApiFilterFactory } from '../../../../../source/extensions/filters/http/dapr-api/config.js'
import { methodFromPath } from '../../../../../source/extensions/filters/http/dapr-api/api-paths.js'
import { httpErrorOf } from '../../../../../source/extensions/filters/http/dapr-api/http-errors.js'
import { FakeStream, fakeHttpFactoryContext } from '../../../../mocks/http/fake-filter-callbacks.js'

function runtimeConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stat_prefix: 'dapr_http', apis: [], state: { statestore: { type: 'in-memory' } }, pub_subs: { pubsub: { type: 'in-memory' } },
    lock: {}, sequencer: {}, config_store: {}, secret_store: {}, file: {}, bindings: {}, rpcs: { default: { listener: 'egress' } },
    api_token: '', app: { app_id: 'app', app_host: '', app_port: 0, app_protocol: 'HTTP' }, ...extra,
  }
}

let seq = 0

/** A stream with the dapr_api filter installed (each call its own store names, its own host). */
function stream(o: { runtime?: Record<string, unknown>; invoker?: ServiceInvoker; limit?: number } = {}): FakeStream {
  const base = fakeHttpFactoryContext({ workerIndex: 0 })
  setupAllExtensions(base.registry)
  const ctx = { ...base, serviceInvoker: o.invoker }
  const cb = daprApiFilterFactory.createFilterFactory({ runtime: runtimeConfig(o.runtime) }, ctx, `t${seq++}.typed_config`)
  const s = new FakeStream(o.limit !== undefined ? { bufferLimit: o.limit } : {})
  cb(s)
  return s
}

async function answered(s: FakeStream): Promise<void> {
  for (let i = 0; i < 100 && !s.downstream.ended; i++) await new Promise((r) => setImmediate(r))
  assert.ok(s.downstream.ended, 'the filter answered')
}

const get = (path: string, extra: Record<string, string> = {}): Record<string, string> => ({ ':method': 'GET', ':path': path, ':authority': 'x', ...extra })
const post = (path: string, extra: Record<string, string> = {}): Record<string, string> => ({ ':method': 'POST', ':path': path, ':authority': 'x', ...extra })

describe('dapr_api filter', () => {
  it('requests that are not Dapr\'s continue to the router untouched', () => {
    const s = stream()
    s.decodeHeaders(post('/index.html'), false)
    s.decodeData('body', true)
    assert.ok(s.forwarded)
    assert.equal(s.upstream.bodyText, 'body')
  })

  it('buffers the body across frames, then answers with JSON', async () => {
    const s = stream()
    s.decodeHeaders(post('/v1.0/state/statestore'), false)
    s.decodeData('[{"key":"k",', false)
    s.decodeData('"value":{"a":1}}]', true)
    await answered(s)
    assert.equal(s.forwarded, false)
    assert.equal(s.downstream.headers?.get(':status'), '204')

    const g = stream()
    g.decodeHeaders(get('/v1.0/state/nostore/k'), true)
    await answered(g)
    assert.equal(g.downstream.headers?.get(':status'), '400')
    assert.equal(g.downstream.headers?.get('content-type'), 'application/json')
    assert.deepEqual(JSON.parse(g.downstream.bodyText), { errorCode: 'ERR_STATE_STORE_NOT_FOUND', message: 'state store nostore is not found' })
    assert.equal(g.downstream.headers?.get('content-length'), String(g.downstream.bodyText.length))
  })

  it('answers 413 past the decoder buffer limit, declared or streamed', async () => {
    const declared = stream({ limit: 16 })
    declared.decodeHeaders(post('/v1.0/state/statestore', { 'content-length': '100' }), false)
    await answered(declared)
    assert.equal(declared.downstream.headers?.get(':status'), '413')
    assert.equal(JSON.parse(declared.downstream.bodyText).errorCode, 'ERR_BODY_READ')
    // The rest of the body is dropped, not forwarded.
    declared.decodeData('x'.repeat(100), true)
    assert.equal(declared.forwarded, false)

    const streamed = stream({ limit: 16 })
    streamed.decodeHeaders(post('/v1.0/state/statestore'), false)
    streamed.decodeData('x'.repeat(10), false)
    assert.equal(streamed.downstream.ended, false)
    streamed.decodeData('x'.repeat(10), false)
    await answered(streamed)
    assert.equal(streamed.downstream.headers?.get(':status'), '413')
  })

  it('api_token: 401 text/plain without the header; healthz is always allowed', async () => {
    const s = stream({ runtime: { api_token: 'tok' } })
    s.decodeHeaders(get('/v1.0/metadata'), true)
    await answered(s)
    assert.equal(s.downstream.headers?.get(':status'), '401')
    assert.equal(s.downstream.bodyText, 'invalid api token\n')
    const ok = stream({ runtime: { api_token: 'tok' } })
    ok.decodeHeaders(get('/v1.0/metadata', { 'dapr-api-token': 'tok' }), true)
    await answered(ok)
    assert.equal(ok.downstream.headers?.get(':status'), '200')
    const h = stream({ runtime: { api_token: 'tok' } })
    h.decodeHeaders(get('/v1.0/healthz'), true)
    await answered(h)
    assert.equal(h.downstream.headers?.get(':status'), '204')
  })

  it('invocation: verb, method, query and headers go to the invoker; its answer comes back', async () => {
    const seen: Array<{ listener: string; req: InvokeRequest }> = []
    const invoker: ServiceInvoker = {
      invoke: async (listener, req) => {
        seen.push({ listener, req })
        return { status: 201, data: Buffer.from('made'), contentType: 'text/plain', headers: [['x-app', '1'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['content-length', '4'], ['connection', 'keep-alive']] }
      },
    }
    const s = stream({ invoker })
    s.decodeHeaders({ ':method': 'PUT', ':path': '/v1.0/invoke/orders/method/a/b?x=1', ':authority': 'x', 'content-type': 'text/plain', 'x-mine': 'y', 'dapr-api-token': 't' }, false)
    s.decodeData('payload', true)
    await answered(s)
    assert.equal(seen.length, 1)
    const r = seen[0]!
    assert.equal(r.listener, 'egress')
    assert.deepEqual({ appId: r.req.appId, method: r.req.method, verb: r.req.verb, q: r.req.querystring, ct: r.req.contentType, body: Buffer.from(r.req.data).toString() },
      { appId: 'orders', method: 'a/b', verb: 'PUT', q: 'x=1', ct: 'text/plain', body: 'payload' })
    assert.equal(r.req.headers['x-mine'], 'y')
    assert.equal(r.req.headers['dapr-api-token'], undefined)
    assert.equal(r.req.headers[':path'], undefined)
    const h = s.downstream.headers!
    assert.equal(h.get(':status'), '201')
    assert.equal(h.get('x-app'), '1')
    assert.deepEqual(h.getAll('set-cookie'), ['a=1', 'b=2'], 'repeated response headers all come back')
    assert.equal(h.get('content-type'), 'text/plain')
    assert.equal(h.get('content-length'), '4')
    assert.equal(h.get('connection'), undefined)
    assert.equal(s.downstream.bodyText, 'made')

    // By header: any path is the method.
    const byHeader = stream({ invoker })
    byHeader.decodeHeaders(get('/a//b/../c/?q=2', { 'dapr-app-id': 'other' }), true)
    await answered(byHeader)
    assert.equal(seen[1]!.req.appId, 'other')
    assert.equal(seen[1]!.req.method, 'a/c')
    assert.equal(seen[1]!.req.querystring, 'q=2')
    // Basic auth with user dapr-app-id names the app too.
    const basic = stream({ invoker })
    basic.decodeHeaders(get('/m', { authorization: `Basic ${Buffer.from('dapr-app-id:third').toString('base64')}` }), true)
    await answered(basic)
    assert.equal(seen[2]!.req.appId, 'third')
  })

  it('an invoker failure is 500 ERR_DIRECT_INVOKE (403 for permission denied)', async () => {
    const failing = (status: number): ServiceInvoker => ({
      invoke: async () => { throw new RuntimeApiError(status as never, 'ERR_DIRECT_INVOKE', 'nope') },
    })
    const s = stream({ invoker: failing(RuntimeStatus.UNAVAILABLE) })
    s.decodeHeaders(get('/v1.0/invoke/a/method/m'), true)
    await answered(s)
    assert.equal(s.downstream.headers?.get(':status'), '500')
    assert.deepEqual(JSON.parse(s.downstream.bodyText), { errorCode: 'ERR_DIRECT_INVOKE', message: 'failed to invoke, id: a, err: nope' })
    const d = stream({ invoker: failing(RuntimeStatus.PERMISSION_DENIED) })
    d.decodeHeaders(get('/v1.0/invoke/a/method/m'), true)
    await answered(d)
    assert.equal(d.downstream.headers?.get(':status'), '403')
  })

  it('a stream that goes away before the answer gets none', async () => {
    let release: () => void = () => {}
    const invoker: ServiceInvoker = {
      invoke: () => new Promise((resolve) => { release = () => resolve({ status: 200, data: Buffer.alloc(0), contentType: '', headers: [] }) }),
    }
    const s = stream({ invoker })
    s.decodeHeaders(get('/v1.0/invoke/a/method/m'), true)
    s.destroy()
    release()
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r))
    assert.equal(s.downstream.headers, undefined)
  })

  it('maps handler errors to Dapr\'s status codes', () => {
    const e = (status: number, code: string): number => httpErrorOf(new RuntimeApiError(status as never, code, 'm')).status
    assert.equal(e(RuntimeStatus.FAILED_PRECONDITION, 'ERR_STATE_SAVE'), 409)
    assert.equal(e(RuntimeStatus.INVALID_ARGUMENT, 'ERR_STATE_SAVE'), 400)
    assert.equal(e(RuntimeStatus.INTERNAL, 'ERR_STATE_DELETE'), 500)
    assert.equal(e(RuntimeStatus.FAILED_PRECONDITION, 'ERR_STATE_TRANSACTION'), 500)
    assert.equal(e(RuntimeStatus.INVALID_ARGUMENT, 'ERR_SECRET_STORE_NOT_FOUND'), 401)
    assert.equal(e(RuntimeStatus.INVALID_ARGUMENT, 'ERR_PUBSUB_NOT_FOUND'), 404)
    assert.equal(e(RuntimeStatus.FAILED_PRECONDITION, 'ERR_STATE_STORE_NOT_CONFIGURED'), 500)
    assert.equal(e(RuntimeStatus.NOT_FOUND, 'ERR_INVOKE_OUTPUT_BINDING'), 500)
    assert.equal(e(RuntimeStatus.UNAVAILABLE, 'SOMETHING_NEW'), 503)
    assert.equal(httpErrorOf(new Error('boom')).status, 500)
  })

  it('header-based invocation cleans the path as Go\'s path.Clean', () => {
    assert.equal(methodFromPath('/'), '')
    assert.equal(methodFromPath('/a/b/'), 'a/b')
    assert.equal(methodFromPath('//a/./b/../c'), 'a/c')
  })
})
