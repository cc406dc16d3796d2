import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import type { LocalRateLimit } from '../../../../../source/common/protobuf/generated/envoy/extensions/filters/http/local_ratelimit/v3.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../../source/envoy/http/filter.js'
import type { Connection } from '../../../../../source/envoy/network/connection.js'
import type { Route } from '../../../../../source/envoy/router/router.js'
import { ResponseFlag } from '../../../../../source/envoy/stream-info/stream-info.js'
import {
  createLocalRateLimitFilterConfig, createLocalRateLimitSettings, httpLocalRateLimitFilterFactory, setup,
} from '../../../../../source/extensions/filters/http/local-ratelimit/config.js'
import { LocalRateLimitFilter, type LocalRateLimitFilterConfig, markPerRoute } from '../../../../../source/extensions/filters/http/local-ratelimit/local-ratelimit.js'
import { FakeStream, fakeHttpFactoryContext, fakeRoute } from '../../../../mocks/http/fake-filter-callbacks.js'
import { FakeConnection } from '../../../../mocks/network/fake-connection.js'
import { FakeRuntime, newStatMemory } from '../../../../mocks/network/factory-context.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit'
const NAME = 'envoy.filters.http.local_ratelimit'
let seq = 0
const uniquePath = (): string => `lrl_test.http_filters[${seq++}].typed_config`
const ALL = { runtime_key: 'rl.enabled', default_value: { numerator: 100, denominator: 'HUNDRED' as const } }
const ENFORCED = { runtime_key: 'rl.enforced', default_value: { numerator: 100, denominator: 'HUNDRED' as const } }
const REQ = { ':method': 'GET', ':path': '/', ':authority': 'x' }

function config(overrides: Partial<LocalRateLimit> = {}): LocalRateLimit {
  return {
    stat_prefix: 'rl',
    token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: '1s' },
    filter_enabled: ALL,
    filter_enforced: ENFORCED,
    request_headers_to_add_when_not_enforced: [],
    response_headers_to_add: [],
    descriptors: [],
    stage: 0,
    local_rate_limit_per_downstream_connection: false,
    enable_x_ratelimit_headers: 'OFF',
    vh_rate_limits: 'OVERRIDE',
    rate_limited_as_resource_exhausted: false,
    ...overrides,
  }
}

function expectInvalid(c: unknown, re: RegExp, perRoute = false): void {
  const run = (): unknown => perRoute
    ? httpLocalRateLimitFilterFactory.createRouteSpecificFilterConfig!(c, fakeHttpFactoryContext(), 'f.typed_config')
    : httpLocalRateLimitFilterFactory.createFilterFactory(c, fakeHttpFactoryContext(), 'f.typed_config')
  assert.throws(run, (err: { code?: string; message: string }) => {
    assert.equal(err.code, ErrorCode.CONFIG_INVALID)
    assert.match(err.message, re)
    return true
  })
}

interface Harness {
  config: LocalRateLimitFilterConfig
  ctx: ReturnType<typeof fakeHttpFactoryContext>
  runtime: FakeRuntime
  clock: { now: number }
  send(opts?: { route?: Route; connection?: Connection; headers?: Record<string, string> }): FakeStream
  stat(name: string, prefix?: string): number
}

function harness(c: LocalRateLimit, opts: { path?: string; memory?: ReturnType<typeof newStatMemory>; workerIndex?: number; random?: () => number } = {}): Harness {
  const runtime = new FakeRuntime()
  const clock = { now: 1_000_000 }
  const ctx = fakeHttpFactoryContext({ runtime, ...(opts.memory !== undefined ? { memory: opts.memory } : {}), ...(opts.workerIndex !== undefined ? { workerIndex: opts.workerIndex } : {}) })
  const cfg = createLocalRateLimitFilterConfig(c, ctx, opts.path ?? uniquePath(), { now: () => clock.now, random: opts.random ?? (() => 0) })
  return {
    config: cfg,
    ctx,
    runtime,
    clock,
    send({ route = fakeRoute(), connection, headers = {} } = {}) {
      const s = new FakeStream({ route, ...(connection !== undefined ? { connection } : {}) })
      s.addStreamFilter(new LocalRateLimitFilter(cfg))
      s.decodeHeaders({ ...REQ, ...headers }, true)
      if (s.forwarded) s.encodeHeaders({ ':status': '200' }, true)
      return s
    },
    stat: (name, prefix = 'rl') => ctx.store.counter(`${prefix}.http_local_rate_limit.${name}`).value(),
  }
}

describe('http local_ratelimit config', () => {
  it('registers by name and by @type; the per-route type is LocalRateLimit', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS)
    assert.equal(category.lookup(NAME, undefined), httpLocalRateLimitFilterFactory)
    assert.equal(category.lookup('x', TYPE), httpLocalRateLimitFilterFactory)
    assert.equal(httpLocalRateLimitFilterFactory.perRouteConfigType, 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit')
  })

  it('accepts valid configs, including a filter-level config without a bucket', () => {
    assert.equal(typeof httpLocalRateLimitFilterFactory.createFilterFactory(config(), fakeHttpFactoryContext(), uniquePath()), 'function')
    const noBucket = config()
    delete noBucket.token_bucket
    assert.equal(typeof httpLocalRateLimitFilterFactory.createFilterFactory(noBucket, fakeHttpFactoryContext(), uniquePath()), 'function')
  })

  it('rejects bad configs with ETS_ERR_CONFIG_INVALID naming the field', () => {
    expectInvalid(config({ stat_prefix: '' }), /^f\.typed_config\.stat_prefix: /)
    expectInvalid(config({ token_bucket: { max_tokens: 1, fill_interval: '0.010s' } }), /fill_interval: .*>= 50ms/)
    expectInvalid(config({ token_bucket: { max_tokens: 0, fill_interval: '1s' } }), /token_bucket\.max_tokens/)
    expectInvalid(config({ descriptors: [{ entries: [{ key: 'a', value: 'b' }] }] }), /descriptors: not supported yet/)
    expectInvalid(config({ local_cluster_rate_limit: {} }), /local_cluster_rate_limit: not supported yet/)
    expectInvalid(config({ rate_limited_as_resource_exhausted: true }), /rate_limited_as_resource_exhausted: not supported yet/)
    expectInvalid(config({ status: { code: 'Empty' } }), /status\.code/)
    expectInvalid(config({ response_headers_to_add: [{ header: { key: 'x-ip', value: '%BOGUS%', raw_value: '' }, append_action: 'APPEND_IF_EXISTS_OR_ADD', keep_empty_value: false }] }), /response_headers_to_add\[0\]\.header\.value: /)
    const noBucket = config()
    delete noBucket.token_bucket
    expectInvalid(noBucket, /token_bucket: local rate limit token bucket must be set for per filter configs/, true)
  })
})

describe('http local_ratelimit filter', () => {
  it('is off unless filter_enabled says otherwise (Envoy defaults to 0%)', () => {
    const c = config()
    delete c.filter_enabled
    const h = harness(c)
    for (let i = 0; i < 5; i++) assert.equal(h.send().forwarded, true)
    assert.equal(h.stat('enabled'), 0)
  })

  it('lets max_tokens requests through, then answers 429 (RL) with the configured headers; refills', () => {
    const h = harness(config({
      response_headers_to_add: [
        { header: { key: 'x-local-rate-limit', value: 'true', raw_value: '' }, append: false, append_action: 'APPEND_IF_EXISTS_OR_ADD', keep_empty_value: false },
        { header: { key: 'x-client', value: '%DOWNSTREAM_REMOTE_ADDRESS%', raw_value: '' }, append_action: 'APPEND_IF_EXISTS_OR_ADD', keep_empty_value: false },
      ],
    }))
    assert.equal(h.send().forwarded, true)
    assert.equal(h.send().forwarded, true)
    const limited = h.send()
    assert.equal(limited.forwarded, false)
    assert.deepEqual([limited.localReply?.code, limited.localReply?.body, limited.localReply?.details], [429, 'local_rate_limited', 'local_rate_limited'])
    assert.equal(limited.streamInfo.hasResponseFlag(ResponseFlag.RateLimited), true)
    assert.equal(limited.downstream.headers?.get('x-local-rate-limit'), 'true')
    assert.equal(limited.downstream.headers?.get('x-envoy-ratelimited'), 'true')
    assert.equal(limited.downstream.headers?.get('x-client'), '10.0.0.1:40000')
    assert.deepEqual(['enabled', 'ok', 'rate_limited', 'enforced'].map((n) => h.stat(n)), [3, 2, 1, 1])
    h.clock.now += 1000
    assert.equal(h.send().forwarded, true)
    assert.equal(h.send().forwarded, false)
  })

  it('when not enforced, rate-limited requests go on with request_headers_to_add_when_not_enforced', () => {
    const c = config({
      filter_enforced: { runtime_key: 'rl.enforced', default_value: { numerator: 0, denominator: 'HUNDRED' } },
      request_headers_to_add_when_not_enforced: [{ header: { key: 'x-would-be-limited', value: 'yes', raw_value: '' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD', keep_empty_value: false }],
    })
    const h = harness(c)
    h.send()
    h.send()
    const over = h.send()
    assert.equal(over.forwarded, true)
    assert.equal(over.upstream.headers?.get('x-would-be-limited'), 'yes')
    assert.deepEqual(['enabled', 'ok', 'rate_limited', 'enforced'].map((n) => h.stat(n)), [3, 2, 1, 0])
    // The runtime turns enforcement on.
    h.runtime.values.set('rl.enforced', '100')
    assert.equal(h.send().localReply?.code, 429)
  })

  it('status: a code >= 400 is used, below 400 falls back to 429', () => {
    const a = harness(config({ token_bucket: { max_tokens: 1, fill_interval: '60s' }, status: { code: 'ServiceUnavailable' } }))
    a.send()
    assert.equal(a.send().localReply?.code, 503)
    const b = harness(config({ token_bucket: { max_tokens: 1, fill_interval: '60s' }, status: { code: 'OK' } }))
    b.send()
    assert.equal(b.send().localReply?.code, 429)
  })

  it('DRAFT_VERSION_03 adds x-ratelimit-limit / remaining / reset to every enabled response', () => {
    const h = harness(config({ token_bucket: { max_tokens: 3, tokens_per_fill: 1, fill_interval: '10s' }, enable_x_ratelimit_headers: 'DRAFT_VERSION_03' }))
    const first = h.send()
    assert.equal(first.downstream.headers?.get('x-ratelimit-limit'), '3')
    assert.equal(first.downstream.headers?.get('x-ratelimit-remaining'), '2')
    assert.equal(first.downstream.headers?.get('x-ratelimit-reset'), '10')
    h.clock.now += 2500
    const second = h.send()
    assert.equal(second.downstream.headers?.get('x-ratelimit-remaining'), '1')
    assert.equal(second.downstream.headers?.get('x-ratelimit-reset'), '8')
    h.send()
    const limited = h.send()
    assert.equal(limited.localReply?.code, 429)
    assert.equal(limited.downstream.headers?.get('x-ratelimit-remaining'), '0')

    const off = harness(config())
    assert.equal(off.send().downstream.headers?.has('x-ratelimit-limit'), false)
  })

  it('one bucket per process: filter configs built from the same path share it', () => {
    const path = uniquePath()
    const memory = newStatMemory()
    const c = config({ token_bucket: { max_tokens: 3, fill_interval: '60s' } })
    const w = [harness(c, { path, memory, workerIndex: 0 }), harness(c, { path, memory, workerIndex: 1 })]
    const forwarded = [0, 1, 0, 1, 0].map((i) => w[i]!.send().forwarded)
    assert.deepEqual(forwarded, [true, true, true, false, false])
    assert.equal(w[0]!.stat('rate_limited'), 2)
  })

  it('local_rate_limit_per_downstream_connection gives each connection its own bucket', () => {
    const h = harness(config({ token_bucket: { max_tokens: 1, fill_interval: '60s' }, local_rate_limit_per_downstream_connection: true }))
    const a = new FakeConnection()
    const b = new FakeConnection()
    assert.equal(h.send({ connection: a }).forwarded, true)
    assert.equal(h.send({ connection: a }).forwarded, false)
    assert.equal(h.send({ connection: b }).forwarded, true)
    assert.equal(h.send({ connection: b }).forwarded, false)
  })

  it('a route config replaces the filter config, with its own bucket and stats', () => {
    const h = harness(config({ token_bucket: { max_tokens: 100, fill_interval: '60s' } }))
    const routeConfig = httpLocalRateLimitFilterFactory.createRouteSpecificFilterConfig!(
      config({ stat_prefix: 'route_rl', token_bucket: { max_tokens: 1, fill_interval: '60s' } }), h.ctx, uniquePath())
    const route = fakeRoute({ perFilterConfig: { [NAME]: routeConfig } })
    assert.equal(h.send({ route }).forwarded, true)
    assert.equal(h.send({ route }).forwarded, false)
    assert.equal(h.send().forwarded, true)
    assert.equal(h.stat('rate_limited', 'route_rl'), 1)
    assert.equal(h.stat('ok', 'rl'), 1)

    // A route config can switch the filter on where the filter level leaves it off.
    const off = config()
    delete off.filter_enabled
    const g = harness(off)
    const on = markPerRoute(createLocalRateLimitSettings(config({ stat_prefix: 'vh', token_bucket: { max_tokens: 1, fill_interval: '60s' } }), g.ctx, uniquePath(), { perRoute: true }))
    const vhost = fakeRoute({ virtualHostPerFilterConfig: { [NAME]: on } })
    assert.equal(g.send({ route: vhost }).forwarded, true)
    assert.equal(g.send({ route: vhost }).forwarded, false)
    assert.equal(g.send().forwarded, true)
  })

  it('filter_enabled fractions and runtime overrides', () => {
    let draw = 0
    const h = harness(config({ filter_enabled: { runtime_key: 'rl.enabled', default_value: { numerator: 1, denominator: 'MILLION' } } }), { random: () => draw })
    h.send()
    assert.equal(h.stat('enabled'), 1)
    draw = 1
    h.send()
    assert.equal(h.stat('enabled'), 1)
    h.runtime.values.set('rl.enabled', '0')
    draw = 0
    h.send()
    assert.equal(h.stat('enabled'), 1)
  })

  it('installs one stream filter through the factory', () => {
    const install = httpLocalRateLimitFilterFactory.createFilterFactory(config({ token_bucket: { max_tokens: 1, fill_interval: '60s' } }), fakeHttpFactoryContext(), uniquePath())
    const statuses = [0, 1].map(() => {
      const s = new FakeStream({ route: fakeRoute() })
      install(s)
      s.decodeHeaders(REQ, true)
      return s.forwarded
    })
    assert.deepEqual(statuses, [true, false])
  })
})
