import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import type { HTTPFault } from '../../../../../source/common/protobuf/generated/envoy/extensions/filters/http/fault/v3.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../../source/envoy/http/filter.js'
import type { Route } from '../../../../../source/envoy/router/router.js'
import { ResponseFlag } from '../../../../../source/envoy/stream-info/stream-info.js'
import { createFaultFilterConfig, faultFilterFactory, setup } from '../../../../../source/extensions/filters/http/fault/config.js'
import { FaultFilter, type FaultFilterConfig } from '../../../../../source/extensions/filters/http/fault/fault.js'
import { FakeStream, FakeTimers, fakeHttpFactoryContext, fakeRoute } from '../../../../mocks/http/fake-filter-callbacks.js'
import { FakeRuntime } from '../../../../mocks/network/factory-context.js'
import { newStatMemory } from '../../../../mocks/network/factory-context.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault'
const NAME = 'envoy.filters.http.fault'
let seq = 0
const uniquePath = (): string => `fault_test.http_filters[${seq++}].typed_config`
const ALL = { numerator: 100, denominator: 'HUNDRED' as const }

function fault(overrides: Partial<HTTPFault> = {}): HTTPFault {
  return {
    upstream_cluster: '',
    headers: [],
    downstream_nodes: [],
    delay_percent_runtime: '',
    abort_percent_runtime: '',
    delay_duration_runtime: '',
    abort_http_status_runtime: '',
    max_active_faults_runtime: '',
    response_rate_limit_percent_runtime: '',
    abort_grpc_status_runtime: '',
    disable_downstream_cluster_stats: false,
    ...overrides,
  }
}

const REQ = { ':method': 'GET', ':path': '/', ':authority': 'x' }

interface Harness {
  config: FaultFilterConfig
  timers: FakeTimers
  runtime: FakeRuntime
  ctx: ReturnType<typeof fakeHttpFactoryContext>
  open(route?: Route): FakeStream
  counter(name: string): number
  gauge(name: string): number
}

function harness(c: HTTPFault, opts: { random?: () => number; path?: string; memory?: ReturnType<typeof newStatMemory>; workerIndex?: number } = {}): Harness {
  const runtime = new FakeRuntime()
  const timers = new FakeTimers()
  const ctx = fakeHttpFactoryContext({ runtime, ...(opts.memory !== undefined ? { memory: opts.memory } : {}), ...(opts.workerIndex !== undefined ? { workerIndex: opts.workerIndex } : {}) })
  const config = createFaultFilterConfig(c, ctx, opts.path ?? uniquePath(), { timers, random: opts.random ?? (() => 0) })
  return {
    config,
    timers,
    runtime,
    ctx,
    open(route = fakeRoute()) {
      const s = new FakeStream({ route })
      s.addStreamFilter(new FaultFilter(config))
      return s
    },
    counter: (name) => ctx.store.counter(`http.ingress_http.fault.${name}`).value(),
    gauge: (name) => ctx.store.gauge(`http.ingress_http.fault.${name}`).value(),
  }
}

function expectInvalid(c: unknown, re: RegExp): void {
  assert.throws(() => faultFilterFactory.createFilterFactory(c, fakeHttpFactoryContext(), 'f.typed_config'), (err: { code?: string; message: string }) => {
    assert.equal(err.code, ErrorCode.CONFIG_INVALID)
    assert.match(err.message, re)
    return true
  })
}

describe('fault config', () => {
  it('registers by name and by @type; the per-route type is HTTPFault', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS)
    assert.equal(category.lookup(NAME, undefined), faultFilterFactory)
    assert.equal(category.lookup('x', TYPE), faultFilterFactory)
    assert.equal(faultFilterFactory.perRouteConfigType, 'envoy.extensions.filters.http.fault.v3.HTTPFault')
  })

  it('accepts a valid config', () => {
    const c = fault({ delay: { fixed_delay: '0.5s', percentage: ALL }, abort: { http_status: 503, percentage: ALL }, response_rate_limit: { fixed_limit: { limit_kbps: 10 } } })
    assert.equal(typeof faultFilterFactory.createFilterFactory(c, fakeHttpFactoryContext(), uniquePath()), 'function')
    assert.equal(typeof faultFilterFactory.createRouteSpecificFilterConfig!(c, fakeHttpFactoryContext(), 'r'), 'object')
  })

  it('rejects bad configs with ETS_ERR_CONFIG_INVALID naming the field', () => {
    expectInvalid(fault({ abort: { http_status: 100 } }), /^f\.typed_config\.abort\.http_status: value must be inside range \[200, 600\)/)
    expectInvalid(fault({ abort: {} }), /abort: one of http_status, grpc_status or header_abort is required/)
    expectInvalid(fault({ delay: {} }), /delay: one of fixed_delay or header_delay is required/)
    expectInvalid(fault({ delay: { fixed_delay: '0s' } }), /delay\.fixed_delay: value must be greater than 0s/)
    expectInvalid(fault({ response_rate_limit: { fixed_limit: { limit_kbps: 0 } } }), /limit_kbps/)
    expectInvalid(fault({ abort: { http_status: 500, percentage: { numerator: 1, denominator: 'X' as never } } }), /abort\.percentage\.denominator/)
    expectInvalid(fault({ headers: [{ name: 'x', safe_regex_match: { regex: '(' }, invert_match: false, treat_missing_header_as_empty: false }] }), /headers\[0\]/)
  })
})

describe('fault filter: aborts', () => {
  it('aborts with the configured status (FI), counts it, and releases the active fault on destroy', () => {
    const h = harness(fault({ abort: { http_status: 503, percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders(REQ, true)
    assert.equal(s.forwarded, false)
    assert.deepEqual([s.localReply?.code, s.localReply?.body, s.localReply?.details], [503, 'fault filter abort', 'fault_filter_abort'])
    assert.equal(s.streamInfo.hasResponseFlag(ResponseFlag.FaultInjected), true)
    assert.equal(h.counter('aborts_injected'), 1)
    assert.equal(h.gauge('active_faults'), 1)
    s.destroy()
    assert.equal(h.gauge('active_faults'), 0)
  })

  it('an unset percentage is 0%: nothing happens unless the runtime says so', () => {
    const h = harness(fault({ abort: { http_status: 503 } }))
    const s = h.open()
    s.decodeHeaders(REQ, true)
    assert.equal(s.forwarded, true)
    h.runtime.values.set('fault.http.abort.abort_percent', '100')
    const t = h.open()
    t.decodeHeaders(REQ, true)
    assert.equal(t.localReply?.code, 503)
  })

  it('percentages, runtime keys and status overrides', () => {
    let draw = 49
    const h = harness(fault({ abort: { http_status: 500, percentage: { numerator: 50, denominator: 'HUNDRED' } }, abort_percent_runtime: 'my.abort', abort_http_status_runtime: 'my.status' }), { random: () => draw })
    const s1 = h.open()
    s1.decodeHeaders(REQ, true)
    assert.equal(s1.localReply?.code, 500)
    draw = 150
    const s2 = h.open()
    s2.decodeHeaders(REQ, true)
    assert.equal(s2.forwarded, true)
    h.runtime.values.set('my.abort', '100')
    h.runtime.values.set('my.status', '418')
    const s3 = h.open()
    s3.decodeHeaders(REQ, true)
    assert.equal(s3.localReply?.code, 418)
    // A fraction from the runtime (a static layer's {numerator, denominator}).
    h.runtime.values.delete('my.abort')
    h.runtime.values.set('my.abort.numerator', '151')
    h.runtime.values.set('my.abort.denominator', 'TEN_THOUSAND')
    const s4 = h.open()
    s4.decodeHeaders(REQ, true)
    assert.equal(s4.localReply?.code, 418)
  })

  it('header_abort takes the status from the request, capped by the percentage headers', () => {
    const h = harness(fault({ abort: { header_abort: {}, percentage: ALL } }))
    const run = (headers: Record<string, string>): number | undefined => {
      const s = h.open()
      s.decodeHeaders({ ...REQ, ...headers }, true)
      return s.forwarded ? undefined : s.localReply?.code
    }
    assert.equal(run({ 'x-envoy-fault-abort-request': '429' }), 429)
    assert.equal(run({}), undefined)
    assert.equal(run({ 'x-envoy-fault-abort-request': '700' }), undefined)
    assert.equal(run({ 'x-envoy-fault-abort-request': 'nope' }), undefined)
    assert.equal(run({ 'x-envoy-fault-abort-request': '503', 'x-envoy-fault-abort-request-percentage': '0' }), undefined)
    assert.equal(run({ 'x-envoy-fault-abort-request': '503', 'x-envoy-fault-abort-request-percentage': '100' }), 503)
  })

  it('gRPC aborts answer HTTP 200 with grpc-status on gRPC requests', () => {
    const grpc = { ...REQ, ':method': 'POST', 'content-type': 'application/grpc' }
    const fixed = harness(fault({ abort: { grpc_status: 14, percentage: ALL } }))
    const s = fixed.open()
    s.decodeHeaders(grpc, false)
    assert.equal(s.localReply?.code, 200)
    assert.equal(s.downstream.headers?.get('grpc-status'), '14')
    assert.equal(s.downstream.headers?.get('grpc-message'), 'fault filter abort')
    assert.equal(s.downstream.headers?.get('content-type'), 'application/grpc')
    assert.equal(s.downstream.bodyText, '')
    assert.equal(s.downstream.ended, true)
    // Not a gRPC request: a plain 200 with the abort body (Envoy ignores the gRPC status then).
    const plain = fixed.open()
    plain.decodeHeaders(REQ, true)
    assert.deepEqual([plain.localReply?.code, plain.downstream.bodyText], [200, 'fault filter abort'])

    const header = harness(fault({ abort: { header_abort: {}, percentage: ALL } }))
    const t = header.open()
    t.decodeHeaders({ ...grpc, 'x-envoy-fault-abort-grpc-request': '8' }, false)
    assert.equal(t.downstream.headers?.get('grpc-status'), '8')
  })
})

describe('fault filter: delays', () => {
  it('holds the request (DI) until the timer fires, body included, then continues', () => {
    const h = harness(fault({ delay: { fixed_delay: '0.5s', percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders({ ...REQ, ':method': 'POST' }, false)
    s.decodeData('hello', true)
    assert.equal(s.forwarded, false)
    assert.deepEqual(h.timers.delays(), [500])
    assert.equal(s.streamInfo.hasResponseFlag(ResponseFlag.DelayInjected), true)
    assert.equal(h.counter('delays_injected'), 1)
    assert.equal(h.gauge('active_faults'), 1)
    h.timers.advance(499)
    assert.equal(s.forwarded, false)
    h.timers.advance(1)
    assert.equal(s.forwarded, true)
    assert.equal(s.upstream.bodyText, 'hello')
    assert.equal(s.upstream.ended, true)
    assert.equal(s.dispatched, 1)
    // The delay is over: no longer an active fault.
    assert.equal(h.gauge('active_faults'), 0)
    s.destroy()
    assert.equal(h.gauge('active_faults'), 0)
  })

  it('a delay can be followed by an abort; both are counted, one active fault', () => {
    const h = harness(fault({ delay: { fixed_delay: '1s', percentage: ALL }, abort: { http_status: 502, percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders(REQ, true)
    assert.equal(s.localReplies.length, 0)
    assert.equal(h.gauge('active_faults'), 1)
    h.timers.advance(1000)
    assert.equal(s.localReply?.code, 502)
    assert.equal(s.forwarded, false)
    assert.deepEqual([h.counter('delays_injected'), h.counter('aborts_injected'), h.gauge('active_faults')], [1, 1, 1])
    assert.equal(s.streamInfo.hasResponseFlag(ResponseFlag.DelayInjected) && s.streamInfo.hasResponseFlag(ResponseFlag.FaultInjected), true)
  })

  it('onDestroy cancels the delay timer', () => {
    const h = harness(fault({ delay: { fixed_delay: '1s', percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders(REQ, true)
    assert.equal(h.timers.size, 1)
    s.destroy()
    assert.equal(h.timers.size, 0)
    h.timers.advance(5000)
    assert.equal(s.forwarded, false)
    assert.equal(h.gauge('active_faults'), 0)
  })

  it('header_delay and the runtime duration override', () => {
    const h = harness(fault({ delay: { header_delay: {}, percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders({ ...REQ, 'x-envoy-fault-delay-request': '200' }, true)
    assert.deepEqual(h.timers.delays(), [200])
    const none = h.open()
    none.decodeHeaders(REQ, true)
    assert.equal(none.forwarded, true)
    const capped = h.open()
    capped.decodeHeaders({ ...REQ, 'x-envoy-fault-delay-request': '200', 'x-envoy-fault-delay-request-percentage': '0' }, true)
    assert.equal(capped.forwarded, true)

    const fixed = harness(fault({ delay: { fixed_delay: '1s', percentage: ALL } }))
    fixed.runtime.values.set('fault.http.delay.fixed_duration_ms', '30')
    fixed.open().decodeHeaders(REQ, true)
    assert.deepEqual(fixed.timers.delays(), [30])
    fixed.runtime.values.set('fault.http.delay.fixed_duration_ms', '0')
    const zero = fixed.open()
    zero.decodeHeaders(REQ, true)
    assert.equal(zero.forwarded, true)
  })
})

describe('fault filter: scoping and limits', () => {
  it('max_active_faults is process-wide: configs built from the same path share the count', () => {
    const path = uniquePath()
    const memory = newStatMemory()
    const c = fault({ delay: { fixed_delay: '1s', percentage: ALL }, max_active_faults: 1 })
    const w0 = harness(c, { path, memory, workerIndex: 0 })
    const w1 = harness(c, { path, memory, workerIndex: 1 })
    const first = w0.open()
    first.decodeHeaders(REQ, true)
    assert.equal(first.forwarded, false)
    const second = w1.open()
    second.decodeHeaders(REQ, true)
    assert.equal(second.forwarded, true)
    assert.equal(w1.counter('faults_overflow'), 1)
    assert.equal(w0.gauge('active_faults'), 1)
    first.destroy()
    const third = w1.open()
    third.decodeHeaders(REQ, true)
    assert.equal(third.forwarded, false)
    // The runtime can lift the limit.
    w0.runtime.values.set('fault.http.max_active_faults', '5')
    const fourth = w0.open()
    fourth.decodeHeaders(REQ, true)
    assert.equal(fourth.forwarded, false)
  })

  it('headers, upstream_cluster and downstream_nodes select the requests', () => {
    const base = { abort: { http_status: 503, percentage: ALL } }
    const byHeader = harness(fault({ ...base, headers: [{ name: 'x-chaos', exact_match: 'yes', invert_match: false, treat_missing_header_as_empty: false }] }))
    const a = byHeader.open()
    a.decodeHeaders({ ...REQ, 'x-chaos': 'yes' }, true)
    assert.equal(a.localReply?.code, 503)
    const b = byHeader.open()
    b.decodeHeaders(REQ, true)
    assert.equal(b.forwarded, true)

    const byCluster = harness(fault({ ...base, upstream_cluster: 'payments' }))
    const c = byCluster.open(fakeRoute({ cluster: 'payments' }))
    c.decodeHeaders(REQ, true)
    assert.equal(c.localReply?.code, 503)
    const d = byCluster.open(fakeRoute({ cluster: 'other' }))
    d.decodeHeaders(REQ, true)
    assert.equal(d.forwarded, true)

    const byNode = harness(fault({ ...base, downstream_nodes: ['node-a'] }))
    const e = byNode.open()
    e.decodeHeaders({ ...REQ, 'x-envoy-downstream-service-node': 'node-a' }, true)
    assert.equal(e.localReply?.code, 503)
    const f = byNode.open()
    f.decodeHeaders({ ...REQ, 'x-envoy-downstream-service-node': 'node-b' }, true)
    assert.equal(f.forwarded, true)
  })

  it('per-downstream-cluster stats and runtime keys', () => {
    const h = harness(fault({ abort: { http_status: 503, percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders({ ...REQ, 'x-envoy-downstream-service-cluster': 'frontend' }, true)
    assert.equal(h.counter('frontend.aborts_injected'), 1)
    assert.equal(h.counter('aborts_injected'), 1)
    h.runtime.values.set('fault.http.frontend.abort.http_status', '504')
    const t = h.open()
    t.decodeHeaders({ ...REQ, 'x-envoy-downstream-service-cluster': 'frontend' }, true)
    assert.equal(t.localReply?.code, 504)
    h.runtime.values.set('fault.http.frontend.abort.abort_percent', '0')
    const u = h.open()
    u.decodeHeaders({ ...REQ, 'x-envoy-downstream-service-cluster': 'frontend' }, true)
    assert.equal(u.forwarded, true)

    const delays = harness(fault({ delay: { fixed_delay: '1s', percentage: ALL } }))
    delays.runtime.values.set('fault.http.backend.delay.fixed_delay_percent', '0')
    const v = delays.open()
    v.decodeHeaders({ ...REQ, 'x-envoy-downstream-service-cluster': 'backend' }, true)
    assert.equal(v.forwarded, true)
    const w = delays.open()
    w.decodeHeaders({ ...REQ, 'x-envoy-downstream-service-cluster': 'web' }, true)
    assert.equal(w.forwarded, false)
    assert.equal(delays.counter('web.delays_injected'), 1)

    const quiet = harness(fault({ abort: { http_status: 503, percentage: ALL }, disable_downstream_cluster_stats: true }))
    quiet.open().decodeHeaders({ ...REQ, 'x-envoy-downstream-service-cluster': 'frontend' }, true)
    assert.equal(quiet.counter('aborts_injected'), 1)
    assert.equal(quiet.ctx.store.counter('http.ingress_http.fault.frontend.aborts_injected').used(), false)
  })

  it('a route typed_per_filter_config replaces the filter settings', () => {
    const h = harness(fault({ abort: { http_status: 503, percentage: ALL } }))
    const perRoute = faultFilterFactory.createRouteSpecificFilterConfig!(fault({ delay: { fixed_delay: '0.1s', percentage: ALL } }), h.ctx, 'route')
    const s = h.open(fakeRoute({ perFilterConfig: { [NAME]: perRoute } }))
    s.decodeHeaders(REQ, true)
    assert.equal(s.localReplies.length, 0)
    assert.deepEqual(h.timers.delays(), [100])
    h.timers.advance(100)
    assert.equal(s.forwarded, true)
    // Another filter's per-route config under the same name is ignored.
    const t = h.open(fakeRoute({ perFilterConfig: { [NAME]: { unrelated: true } } }))
    t.decodeHeaders(REQ, true)
    assert.equal(t.localReply?.code, 503)
  })

  it('filter_metadata goes to dynamic metadata when a fault is injected', () => {
    const h = harness(fault({ abort: { http_status: 503, percentage: ALL }, filter_metadata: { reason: 'chaos' } }))
    const s = h.open()
    s.decodeHeaders(REQ, true)
    assert.deepEqual(s.streamInfo.dynamicMetadata[NAME], { reason: 'chaos' })
  })
})

describe('fault filter: response rate limit', () => {
  it('throttles the response body to limit_kbps, holding trailers until it is out', () => {
    const h = harness(fault({ response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders(REQ, true)
    assert.equal(s.forwarded, true)
    assert.equal(h.counter('response_rl_injected'), 1)
    s.encodeHeaders({ ':status': '200' }, false)
    assert.equal(s.downstream.headers?.get(':status'), '200')
    s.encodeData(Buffer.alloc(3000, 1), false)
    s.encodeTrailers({ 'x-checksum': 'abc' })
    assert.equal(s.downstream.body.length, 0)
    h.timers.advance(0)
    // The bucket starts with one second of tokens: 16 slices of 64 bytes.
    assert.equal(s.downstream.body.length, 1024)
    h.timers.advance(62.5)
    assert.equal(s.downstream.body.length, 1088)
    h.timers.advance(937.5)
    assert.equal(s.downstream.body.length, 2048)
    assert.equal(s.downstream.trailers === undefined, true)
    h.timers.advance(1000)
    assert.equal(s.downstream.body.length, 3000)
    assert.equal(s.downstream.trailers?.get('x-checksum'), 'abc')
    assert.equal(s.downstream.ended, true)
    s.destroy()
    assert.equal(h.gauge('active_faults'), 0)
  })

  it('header_limit reads x-envoy-fault-throughput-response; end of stream passes through', () => {
    const h = harness(fault({ response_rate_limit: { header_limit: {}, percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders({ ...REQ, 'x-envoy-fault-throughput-response': '2' }, true)
    s.encodeHeaders({ ':status': '200' }, false)
    s.encodeData(Buffer.alloc(5000), true)
    h.timers.advance(0)
    assert.equal(s.downstream.body.length, 2048)
    assert.equal(s.downstream.ended, false)
    h.timers.advance(2000)
    assert.equal(s.downstream.body.length, 5000)
    assert.equal(s.downstream.ended, true)

    const none = h.open()
    none.decodeHeaders(REQ, true)
    none.encodeHeaders({ ':status': '200' }, false)
    none.encodeData('x', true)
    assert.equal(none.downstream.bodyText, 'x')
  })

  it('destroy stops the limiter timer', () => {
    const h = harness(fault({ response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: ALL } }))
    const s = h.open()
    s.decodeHeaders(REQ, true)
    s.encodeHeaders({ ':status': '200' }, false)
    s.encodeData(Buffer.alloc(4000), true)
    h.timers.advance(0)
    assert.equal(h.timers.size, 1)
    s.destroy()
    assert.equal(h.timers.size, 0)
  })
})

describe('fault factory', () => {
  it('installs one stream filter', () => {
    const install = faultFilterFactory.createFilterFactory(fault({ abort: { http_status: 503, percentage: ALL } }), fakeHttpFactoryContext(), uniquePath())
    const s = new FakeStream({ route: fakeRoute() })
    install(s)
    s.decodeHeaders(REQ, true)
    assert.equal(s.localReply?.code, 503)
  })
})
