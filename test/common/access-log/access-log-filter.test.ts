import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compileAccessLogFilter } from '../../../source/common/access-log/access-log-filter.js'
import type { AccessLogFilter, ComparisonFilter } from '../../../source/common/protobuf/generated/envoy/config/accesslog/v3.js'
import type { HeaderMatcher } from '../../../source/common/protobuf/generated/envoy/config/route/v3.js'
import { RuntimeSnapshotImpl } from '../../../source/common/runtime/runtime-impl.js'
import { StreamInfoImpl } from '../../../source/common/stream-info/stream-info-impl.js'
import { type HeaderMapView, ResponseFlag } from '../../../source/envoy/stream-info/stream-info.js'

function headers(h: Record<string, string>): HeaderMapView {
  const m = new Map(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))
  return { get: (n) => m.get(n.toLowerCase()), entries: () => m.entries() }
}

function info(fields: { code?: number; durationMs?: number; headers?: Record<string, string>; healthCheck?: boolean } = {}): StreamInfoImpl {
  const i = new StreamInfoImpl({ downstreamLocalAddress: '10.0.0.1:80', downstreamRemoteAddress: '10.0.0.2:5000', connectionId: 1 })
  Object.defineProperty(i, 'startTimeMonotonic', { value: 1000 })
  i.endTimeMonotonic = 1000 + (fields.durationMs ?? 0)
  i.responseCode = fields.code
  if (fields.headers !== undefined) i.requestHeaders = headers(fields.headers)
  i.healthCheck = fields.healthCheck ?? false
  return i
}

function cmp(op: ComparisonFilter['op'], value: number, runtimeKey = ''): ComparisonFilter {
  return { op, value: { default_value: value, runtime_key: runtimeKey } }
}

function header(fields: Partial<HeaderMatcher> & { name: string }): AccessLogFilter {
  return { header_filter: { header: { invert_match: false, treat_missing_header_as_empty: false, ...fields } } }
}

const compile = (f: AccessLogFilter, opts = {}): ReturnType<typeof compileAccessLogFilter> => compileAccessLogFilter(f, 'access_log[0].filter', opts)

describe('status_code_filter and duration_filter', () => {
  it('compares the response code with EQ, GE and LE', () => {
    const ge = compile({ status_code_filter: { comparison: cmp('GE', 500) } })
    const le = compile({ status_code_filter: { comparison: cmp('LE', 299) } })
    const eq = compile({ status_code_filter: { comparison: cmp('EQ', 404) } })
    assert.deepEqual([499, 500, 503].map((code) => ge(info({ code }), 'DownstreamEnd')), [false, true, true])
    assert.deepEqual([200, 299, 300].map((code) => le(info({ code }), 'DownstreamEnd')), [true, true, false])
    assert.deepEqual([403, 404, 405].map((code) => eq(info({ code }), 'DownstreamEnd')), [false, true, false])
  })

  it('treats a missing response code as 0', () => {
    assert.equal(compile({ status_code_filter: { comparison: cmp('EQ', 0) } })(info(), 'DownstreamEnd'), true)
    assert.equal(compile({ status_code_filter: { comparison: cmp('GE', 1) } })(info(), 'DownstreamEnd'), false)
  })

  it('reads an override of the value from the runtime', () => {
    let snapshot = new RuntimeSnapshotImpl(new Map([['access_log.min_status', '400']]))
    const f = compile({ status_code_filter: { comparison: cmp('GE', 500, 'access_log.min_status') } }, { runtime: () => snapshot })
    assert.equal(f(info({ code: 404 }), 'DownstreamEnd'), true)
    snapshot = new RuntimeSnapshotImpl(new Map())
    assert.equal(f(info({ code: 404 }), 'DownstreamEnd'), false)
  })

  it('compares the duration in whole milliseconds', () => {
    const f = compile({ duration_filter: { comparison: cmp('GE', 100) } })
    assert.equal(f(info({ durationMs: 99.9 }), 'DownstreamEnd'), false)
    assert.equal(f(info({ durationMs: 100.2 }), 'DownstreamEnd'), true)
    const eq = compile({ duration_filter: { comparison: cmp('EQ', 7) } })
    assert.equal(eq(info({ durationMs: 7.8 }), 'DownstreamEnd'), true)
  })
})

describe('simple filters', () => {
  it('not_health_check_filter skips health checks', () => {
    const f = compile({ not_health_check_filter: {} })
    assert.equal(f(info({ healthCheck: true }), 'DownstreamEnd'), false)
    assert.equal(f(info(), 'DownstreamEnd'), true)
  })

  it('traceable_filter never matches without tracing', () => {
    assert.equal(compile({ traceable_filter: {} })(info(), 'DownstreamEnd'), false)
  })

  it('response_flag_filter matches any flag when empty, else the listed ones', () => {
    const any = compile({ response_flag_filter: { flags: [] } })
    const some = compile({ response_flag_filter: { flags: ['UH', 'NR'] } })
    const unknownHere = compile({ response_flag_filter: { flags: ['UAEX'] } })
    const i = info()
    assert.equal(any(i, 'DownstreamEnd'), false)
    i.setResponseFlag(ResponseFlag.UpstreamConnectionFailure)
    assert.equal(any(i, 'DownstreamEnd'), true)
    assert.equal(some(i, 'DownstreamEnd'), false)
    i.setResponseFlag(ResponseFlag.NoRouteFound)
    assert.equal(some(i, 'DownstreamEnd'), true)
    assert.equal(unknownHere(i, 'DownstreamEnd'), false)
  })

  it('log_type_filter includes or excludes types', () => {
    const only = compile({ log_type_filter: { types: ['DownstreamEnd', 'TcpConnectionEnd'], exclude: false } })
    const not = compile({ log_type_filter: { types: ['DownstreamPeriodic'], exclude: true } })
    assert.equal(only(info(), 'DownstreamEnd'), true)
    assert.equal(only(info(), 'DownstreamStart'), false)
    assert.equal(not(info(), 'DownstreamPeriodic'), false)
    assert.equal(not(info(), 'DownstreamEnd'), true)
  })

  it('and_filter needs all, or_filter needs one', () => {
    const errors = { status_code_filter: { comparison: cmp('GE', 500) } }
    const slow = { duration_filter: { comparison: cmp('GE', 1000) } }
    const and = compile({ and_filter: { filters: [errors, slow] } })
    const or = compile({ or_filter: { filters: [errors, slow] } })
    const cases = [info({ code: 200, durationMs: 5 }), info({ code: 503, durationMs: 5 }), info({ code: 200, durationMs: 2000 }), info({ code: 503, durationMs: 2000 })]
    assert.deepEqual(cases.map((c) => and(c, 'DownstreamEnd')), [false, false, false, true])
    assert.deepEqual(cases.map((c) => or(c, 'DownstreamEnd')), [false, true, true, true])
  })
})

describe('runtime_filter', () => {
  const fixed = (v: number) => ({ random: () => v })

  it('samples nothing by default and everything at 100%', () => {
    const none = compile({ runtime_filter: { runtime_key: 'k', use_independent_randomness: true } }, fixed(0))
    const all = compile({ runtime_filter: { runtime_key: 'k', use_independent_randomness: true, percent_sampled: { numerator: 100, denominator: 'HUNDRED' } } }, fixed(0.999))
    assert.equal(none(info(), 'DownstreamEnd'), false)
    assert.equal(all(info(), 'DownstreamEnd'), true)
  })

  it('compares the random draw with the percentage and its denominator', () => {
    const cfg: AccessLogFilter = { runtime_filter: { runtime_key: 'k', use_independent_randomness: true, percent_sampled: { numerator: 25, denominator: 'TEN_THOUSAND' } } }
    // floor(r * 2^32) % 10000 < 25
    assert.equal(compile(cfg, fixed(24 / 2 ** 32))(info(), 'DownstreamEnd'), true)
    assert.equal(compile(cfg, fixed(25 / 2 ** 32))(info(), 'DownstreamEnd'), false)
  })

  it('samples on x-request-id unless use_independent_randomness', () => {
    const cfg = (independent: boolean): AccessLogFilter => ({
      runtime_filter: { runtime_key: 'k', use_independent_randomness: independent, percent_sampled: { numerator: 50, denominator: 'HUNDRED' } },
    })
    // 0x0000001e = 30 < 50; 0x00000046 = 70 >= 50.
    const low = info({ headers: { 'x-request-id': '0000001e-aaaa-4bbb-8ccc-dddddddddddd' } })
    const high = info({ headers: { 'x-request-id': '00000046-aaaa-4bbb-8ccc-dddddddddddd' } })
    const byId = compile(cfg(false), fixed(0.99))
    assert.equal(byId(low, 'DownstreamEnd'), true)
    assert.equal(byId(high, 'DownstreamEnd'), false)
    const independent = compile(cfg(true), fixed(0))
    assert.equal(independent(high, 'DownstreamEnd'), true)
  })

  it('takes the numerator from the runtime key when set', () => {
    const runtime = new RuntimeSnapshotImpl(new Map([['access_log.sample', '100']]))
    const f = compile({ runtime_filter: { runtime_key: 'access_log.sample', use_independent_randomness: true } }, { runtime: () => runtime, random: () => 0.5 })
    assert.equal(f(info(), 'DownstreamEnd'), true)
  })
})

describe('header_filter', () => {
  const h = { 'x-env': 'production', 'x-count': '42', 'x-empty': '' }
  const cases: Array<[string, AccessLogFilter, boolean]> = [
    ['exact', header({ name: 'X-Env', exact_match: 'production' }), true],
    ['exact mismatch', header({ name: 'x-env', exact_match: 'prod' }), false],
    ['prefix', header({ name: 'x-env', prefix_match: 'prod' }), true],
    ['suffix', header({ name: 'x-env', suffix_match: 'tion' }), true],
    ['contains', header({ name: 'x-env', contains_match: 'duct' }), true],
    ['safe_regex matches the whole value', header({ name: 'x-env', safe_regex_match: { regex: 'prod.*' } }), true],
    ['safe_regex partial is no match', header({ name: 'x-env', safe_regex_match: { regex: 'prod' } }), false],
    ['range inside', header({ name: 'x-count', range_match: { start: 40, end: 43 } }), true],
    ['range end is exclusive', header({ name: 'x-count', range_match: { start: 0, end: 42 } }), false],
    ['range on a non-number', header({ name: 'x-env', range_match: { start: 0, end: 100 } }), false],
    ['string_match ignore_case', header({ name: 'x-env', string_match: { exact: 'PRODUCTION', ignore_case: true } }), true],
    ['name only means present', header({ name: 'x-env' }), true],
    ['present_match true', header({ name: 'x-empty', present_match: true }), true],
    ['present_match false on a present header', header({ name: 'x-env', present_match: false }), false],
    ['present_match false on a missing header', header({ name: 'x-missing', present_match: false }), true],
    ['missing header fails a value match', header({ name: 'x-missing', exact_match: '' }), false],
    ['missing header fails an inverted value match', header({ name: 'x-missing', exact_match: 'a', invert_match: true }), false],
    ['missing header passes an inverted present match', header({ name: 'x-missing', present_match: true, invert_match: true }), true],
    ['treat_missing_header_as_empty', header({ name: 'x-missing', exact_match: '', treat_missing_header_as_empty: true }), true],
    ['invert_match', header({ name: 'x-env', exact_match: 'staging', invert_match: true }), true],
    ['inverted match', header({ name: 'x-env', exact_match: 'production', invert_match: true }), false],
  ]
  for (const [name, f, want] of cases) {
    it(name, () => assert.equal(compile(f)(info({ headers: h }), 'DownstreamEnd'), want))
  }

  it('does not match a stream without request headers', () => {
    assert.equal(compile(header({ name: 'x-env', exact_match: 'production' }))(info(), 'TcpConnectionEnd'), false)
  })
})

describe('invalid filters', () => {
  const cases: Array<[string, AccessLogFilter, RegExp]> = [
    ['an empty filter', {}, /^access_log\[0\]\.filter: an access log filter must set exactly one filter type/],
    ['a nested empty filter', { and_filter: { filters: [{ not_health_check_filter: {} }, {}] } }, /^access_log\[0\]\.filter\.and_filter\.filters\[1\]: /],
    ['grpc_status_filter', { grpc_status_filter: { statuses: ['OK'], exclude: false } }, /grpc_status_filter is not implemented/],
    ['a comparison without op value', { status_code_filter: {} }, /status_code_filter\.comparison: comparison is required/],
    ['a header filter without a header', { header_filter: {} }, /header_filter: header is required/],
  ]
  for (const [name, f, re] of cases) {
    it(`rejects ${name}`, () => {
      assert.throws(() => compile(f), (err: { code?: string; message: string }) => {
        assert.equal(err.code, 'ETS_ERR_CONFIG_INVALID')
        assert.match(err.message, re)
        return true
      })
    })
  }
})
