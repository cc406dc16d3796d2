import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import type { CorsPolicy } from '../../../../../source/common/protobuf/generated/envoy/extensions/filters/http/cors/v3.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../../source/envoy/http/filter.js'
import type { Route } from '../../../../../source/envoy/router/router.js'
import { corsFilterFactory, setup } from '../../../../../source/extensions/filters/http/cors/config.js'
import { CorsFilter, corsStats } from '../../../../../source/extensions/filters/http/cors/cors.js'
import { FakeStream, fakeHttpFactoryContext, fakeRoute } from '../../../../mocks/http/fake-filter-callbacks.js'
import { FakeRuntime } from '../../../../mocks/network/factory-context.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors'
const NAME = 'envoy.filters.http.cors'
const ORIGIN = 'https://app.example'

function policy(overrides: Partial<CorsPolicy> = {}): CorsPolicy {
  return {
    allow_origin_string_match: [{ exact: ORIGIN, ignore_case: false }],
    allow_methods: 'GET, POST',
    allow_headers: 'content-type, x-token',
    expose_headers: 'x-request-id',
    max_age: '600',
    ...overrides,
  }
}

const build = (p: CorsPolicy): unknown => corsFilterFactory.createRouteSpecificFilterConfig!(p, fakeHttpFactoryContext(), 'route.typed_per_filter_config')

function setupStream(route: Route | undefined, opts: { runtime?: FakeRuntime; random?: () => number } = {}) {
  const ctx = fakeHttpFactoryContext(opts.runtime !== undefined ? { runtime: opts.runtime } : {})
  const stats = corsStats(ctx.httpScope)
  const stream = new FakeStream({ route })
  stream.addStreamFilter(new CorsFilter({ stats, runtime: ctx.runtime, random: opts.random ?? (() => 0) }))
  return { stream, ctx, valid: () => ctx.store.counter('http.ingress_http.cors.origin_valid').value(), invalid: () => ctx.store.counter('http.ingress_http.cors.origin_invalid').value() }
}

const preflight = (origin = ORIGIN, extra: Record<string, string> = {}) => ({
  ':method': 'OPTIONS', ':path': '/api', ':authority': 'api.example', origin, 'access-control-request-method': 'POST', ...extra,
})

describe('cors config', () => {
  it('registers by name and by @type, with CorsPolicy as the per-route type', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS)
    assert.equal(category.lookup(NAME, undefined), corsFilterFactory)
    assert.equal(category.lookup('x', TYPE), corsFilterFactory)
    assert.equal(corsFilterFactory.perRouteConfigType, 'envoy.extensions.filters.http.cors.v3.CorsPolicy')
    assert.equal(corsFilterFactory.isTerminalFilter, false)
  })

  it('accepts the empty filter config and a per-route policy', () => {
    assert.equal(typeof corsFilterFactory.createFilterFactory({}, fakeHttpFactoryContext(), 'f'), 'function')
    assert.equal(typeof build(policy()), 'object')
  })

  it('rejects a bad policy with ETS_ERR_CONFIG_INVALID', () => {
    assert.throws(() => build(policy({ allow_origin_string_match: [{ safe_regex: { regex: '[' }, ignore_case: false }] })), (err: { code?: string; message: string }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.message, /^route\.typed_per_filter_config\.allow_origin_string_match\[0\]: /)
      return true
    })
    assert.throws(() => build(policy({ filter_enabled: { runtime_key: 'k', default_value: { numerator: 1, denominator: 'BAD' as never } } })), /filter_enabled\.default_value\.denominator/)
  })
})

describe('cors filter', () => {
  it('answers an allowed preflight itself with the allow-* headers', () => {
    const { stream, valid } = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy({ allow_credentials: true })) } }))
    stream.decodeHeaders(preflight(), true)
    assert.equal(stream.forwarded, false)
    assert.equal(stream.localReply?.code, 200)
    assert.equal(stream.localReply?.details, 'cors_response')
    const h = stream.downstream.headers!
    assert.equal(h.get('access-control-allow-origin'), ORIGIN)
    assert.equal(h.get('access-control-allow-methods'), 'GET, POST')
    assert.equal(h.get('access-control-allow-headers'), 'content-type, x-token')
    assert.equal(h.get('access-control-max-age'), '600')
    assert.equal(h.get('access-control-allow-credentials'), 'true')
    assert.equal(valid(), 1)
  })

  it('adds allow-origin, credentials and expose headers to the response of a simple request', () => {
    const { stream } = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy({ allow_credentials: true })) } }))
    stream.decodeHeaders({ ':method': 'GET', ':path': '/api', origin: ORIGIN }, true)
    assert.equal(stream.forwarded, true)
    stream.encodeHeaders({ ':status': '200' }, true)
    const h = stream.downstream.headers!
    assert.equal(h.get('access-control-allow-origin'), ORIGIN)
    assert.equal(h.get('access-control-allow-credentials'), 'true')
    assert.equal(h.get('access-control-expose-headers'), 'x-request-id')
    assert.equal(h.has('access-control-allow-methods'), false)
  })

  it('leaves requests from other origins alone and counts them; preflights are forwarded by default', () => {
    const { stream, valid, invalid } = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy()) } }))
    stream.decodeHeaders(preflight('https://evil.example'), true)
    assert.equal(stream.forwarded, true)
    stream.encodeHeaders({ ':status': '204' }, true)
    assert.equal(stream.downstream.headers?.has('access-control-allow-origin'), false)
    assert.deepEqual([valid(), invalid()], [0, 1])
  })

  it('answers a non-matching preflight without CORS headers when forward_not_matching_preflights is false', () => {
    const { stream } = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy({ forward_not_matching_preflights: false })) } }))
    stream.decodeHeaders(preflight('https://evil.example'), true)
    assert.equal(stream.forwarded, false)
    assert.equal(stream.localReply?.code, 200)
    assert.equal(stream.downstream.headers?.has('access-control-allow-origin'), false)
    assert.equal(stream.downstream.headers?.get('access-control-allow-methods'), 'GET, POST')
    // A non-matching simple request still goes through.
    const simple = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy({ forward_not_matching_preflights: false })) } })).stream
    simple.decodeHeaders({ ':method': 'GET', ':path': '/', origin: 'https://evil.example' }, true)
    assert.equal(simple.forwarded, true)
  })

  it('ignores requests without origin, routes without a policy, and direct responses', () => {
    const none = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy()) } }))
    none.stream.decodeHeaders({ ':method': 'OPTIONS', ':path': '/', 'access-control-request-method': 'GET' }, true)
    assert.equal(none.stream.forwarded, true)
    assert.equal(none.valid() + none.invalid(), 0)

    const noPolicy = setupStream(fakeRoute())
    noPolicy.stream.decodeHeaders(preflight(), true)
    assert.equal(noPolicy.stream.forwarded, true)

    const direct = { ...fakeRoute({ perFilterConfig: { [NAME]: build(policy()) } }), routeEntry: undefined }
    const d = setupStream(direct)
    d.stream.decodeHeaders(preflight(), true)
    assert.equal(d.stream.forwarded, true)
    assert.equal(d.valid(), 0)

    const noRoute = setupStream(undefined)
    noRoute.stream.decodeHeaders(preflight(), true)
    assert.equal(noRoute.stream.forwarded, true)
  })

  it('an OPTIONS without access-control-request-method is a simple request', () => {
    const { stream } = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy()) } }))
    stream.decodeHeaders({ ':method': 'OPTIONS', ':path': '/', origin: ORIGIN }, true)
    assert.equal(stream.forwarded, true)
    stream.encodeHeaders({ ':status': '200' }, true)
    assert.equal(stream.downstream.headers?.get('access-control-allow-origin'), ORIGIN)
  })

  it('falls back to the virtual host policy, setting by setting', () => {
    const route = fakeRoute({
      perFilterConfig: { [NAME]: build(policy({ allow_methods: '', allow_credentials: undefined })) },
      virtualHostPerFilterConfig: { [NAME]: build(policy({ allow_origin_string_match: [], allow_methods: 'PUT', allow_credentials: true })) },
    })
    const { stream } = setupStream(route)
    stream.decodeHeaders(preflight(), true)
    const h = stream.downstream.headers!
    assert.equal(h.get('access-control-allow-origin'), ORIGIN)
    assert.equal(h.get('access-control-allow-methods'), 'PUT')
    assert.equal(h.get('access-control-allow-credentials'), 'true')

    const vhostOnly = setupStream(fakeRoute({ virtualHostPerFilterConfig: { [NAME]: build(policy()) } }))
    vhostOnly.stream.decodeHeaders(preflight(), true)
    assert.equal(vhostOnly.stream.localReply?.code, 200)
  })

  it('allow_methods / allow_headers "*" echo what the preflight asks for', () => {
    const { stream } = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy({ allow_methods: '*', allow_headers: '*' })) } }))
    stream.decodeHeaders(preflight(ORIGIN, { 'access-control-request-headers': 'x-a, x-b' }), true)
    assert.equal(stream.downstream.headers?.get('access-control-allow-methods'), 'POST')
    assert.equal(stream.downstream.headers?.get('access-control-allow-headers'), 'x-a, x-b')
  })

  it('a matcher that accepts "*" allows any origin', () => {
    const { stream } = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy({ allow_origin_string_match: [{ exact: '*', ignore_case: false }] })) } }))
    stream.decodeHeaders(preflight('https://anything.example'), true)
    assert.equal(stream.downstream.headers?.get('access-control-allow-origin'), 'https://anything.example')
  })

  it('allow_private_network_access answers private network preflights', () => {
    const { stream } = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy({ allow_private_network_access: true })) } }))
    stream.decodeHeaders(preflight(ORIGIN, { 'access-control-request-private-network': 'true' }), true)
    assert.equal(stream.downstream.headers?.get('access-control-allow-private-network'), 'true')
    const off = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(policy()) } })).stream
    off.decodeHeaders(preflight(ORIGIN, { 'access-control-request-private-network': 'true' }), true)
    assert.equal(off.downstream.headers?.has('access-control-allow-private-network'), false)
  })

  it('filter_enabled and shadow_enabled follow their runtime fractions', () => {
    const runtime = new FakeRuntime()
    const disabled = policy({ filter_enabled: { runtime_key: 'cors.on', default_value: { numerator: 0, denominator: 'HUNDRED' } } })
    const off = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(disabled) } }), { runtime })
    off.stream.decodeHeaders(preflight(), true)
    assert.equal(off.stream.forwarded, true)
    assert.equal(off.valid(), 0)

    runtime.values.set('cors.on', '100')
    const on = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(disabled) } }), { runtime })
    on.stream.decodeHeaders(preflight(), true)
    assert.equal(on.stream.localReply?.code, 200)

    // Fractions: 50/10000 enabled for draws 0..49 of every 10000.
    const fraction = policy({ filter_enabled: { runtime_key: '', default_value: { numerator: 50, denominator: 'TEN_THOUSAND' } } })
    const hit = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(fraction) } }), { random: () => 10_049 })
    hit.stream.decodeHeaders(preflight(), true)
    assert.equal(hit.stream.forwarded, false)
    const miss = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(fraction) } }), { random: () => 10_050 })
    miss.stream.decodeHeaders(preflight(), true)
    assert.equal(miss.stream.forwarded, true)

    // Shadow mode: counted, not acted on.
    const shadow = policy({
      filter_enabled: { runtime_key: '', default_value: { numerator: 0, denominator: 'HUNDRED' } },
      shadow_enabled: { runtime_key: '', default_value: { numerator: 100, denominator: 'HUNDRED' } },
    })
    const s = setupStream(fakeRoute({ perFilterConfig: { [NAME]: build(shadow) } }))
    s.stream.decodeHeaders(preflight(), true)
    assert.equal(s.stream.forwarded, true)
    s.stream.encodeHeaders({ ':status': '200' }, true)
    assert.equal(s.stream.downstream.headers?.has('access-control-allow-origin'), false)
    assert.equal(s.valid(), 1)
  })

  it('installs through the factory and counts stats under http.<stat_prefix>.cors', () => {
    const ctx = fakeHttpFactoryContext({ statPrefix: 'edge' })
    const install = corsFilterFactory.createFilterFactory({}, ctx, 'f')
    const stream = new FakeStream({ route: fakeRoute({ perFilterConfig: { [NAME]: build(policy()) } }) })
    install(stream)
    stream.decodeHeaders(preflight(), true)
    assert.equal(ctx.store.counter('http.edge.cors.origin_valid').value(), 1)
  })
})
