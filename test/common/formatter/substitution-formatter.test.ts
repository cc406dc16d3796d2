import assert from 'node:assert/strict'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { describe, it } from 'node:test'
import { DEFAULT_FORMAT, FormatterImpl } from '../../../source/common/formatter/substitution-formatter.js'
import { StreamInfoImpl } from '../../../source/common/stream-info/stream-info-impl.js'
import { type AccessLogType, type HeaderMapView, ResponseFlag } from '../../../source/envoy/stream-info/stream-info.js'

// 2026-11-22 is a Sunday, day 326 of the year.
const START = Date.UTC(2026, 10, 22, 10, 0, 0, 123)

function headers(h: Record<string, string>): HeaderMapView {
  const m = new Map(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))
  return { get: (n) => m.get(n.toLowerCase()), entries: () => m.entries() }
}

function emptyInfo(): StreamInfoImpl {
  const info = new StreamInfoImpl({ downstreamLocalAddress: '10.0.0.1:443', downstreamRemoteAddress: '192.168.1.7:51234', connectionId: 42 })
  Object.defineProperty(info, 'startTime', { value: START })
  Object.defineProperty(info, 'startTimeMonotonic', { value: 1000 })
  return info
}

function fullInfo(): StreamInfoImpl {
  const info = new StreamInfoImpl({
    downstreamLocalAddress: '10.0.0.1:443',
    downstreamRemoteAddress: '192.168.1.7:51234',
    downstreamDirectRemoteAddress: '[2001:db8::1]:4000',
    connectionId: 42,
  })
  Object.defineProperty(info, 'startTime', { value: START })
  Object.defineProperty(info, 'startTimeMonotonic', { value: 1000 })
  info.endTimeMonotonic = 1250.9
  info.lastDownstreamRxByteReceived = 1010.5
  info.lastUpstreamTxByteSent = 1020.2
  info.firstUpstreamRxByteReceived = 1100.7
  info.lastDownstreamTxByteSent = 1240.1
  info.protocol = 'HTTP/1.1'
  info.responseCode = 503
  info.responseCodeDetails = 'upstream reset before response'
  info.setResponseFlag(ResponseFlag.UpstreamConnectionFailure)
  info.setResponseFlag(ResponseFlag.NoHealthyUpstream)
  info.connectionTerminationDetails = 'idle timeout'
  info.bytesReceived = 17
  info.bytesSent = 1024
  info.upstreamBytesSent = 300
  info.upstreamBytesReceived = 1400
  info.requestedServerName = 'api.example.com'
  info.upstreamHost = '10.1.2.3:8080'
  info.upstreamHostname = 'backend-1'
  info.upstreamCluster = 'backend'
  info.upstreamLocalAddress = '10.0.0.1:40000'
  info.upstreamTransportFailureReason = 'TLS error: handshake failed'
  info.upstreamRequestAttemptCount = 2
  info.routeName = 'default_route'
  info.virtualClusterName = 'vc1'
  info.requestHeaders = headers({
    ':method': 'GET', ':path': '/api/v1/items?id=3', ':authority': 'api.example.com', 'user-agent': 'curl/8.0.1',
    'x-request-id': '6f3b5a2e-7d11-4c1f-9a5e-0b2c3d4e5f60', 'x-forwarded-for': '203.0.113.9',
  })
  info.responseHeaders = headers({ 'x-envoy-upstream-service-time': '88', 'content-type': 'text/html' })
  info.responseTrailers = headers({ 'grpc-status': '14' })
  info.dynamicMetadata['com.test.my_filter'] = { test_key: 'foo', test_object: { inner_key: 'bar' }, n: 5 }
  info.filterState.set('my.key', 'value1')
  info.filterState.set('my.obj', { a: 1 })
  return info
}

function format(f: string, info: StreamInfoImpl, type: AccessLogType = 'DownstreamEnd'): string {
  return new FormatterImpl(f, 'access_log[0].typed_config.log_format.text_format').format(info, type)
}

describe('FormatterImpl: default format', () => {
  it('is Envoy\'s default format string', () => {
    assert.equal(DEFAULT_FORMAT, '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% '
      + '%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" '
      + '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n')
  })

  it('formats a full request like Envoy', () => {
    assert.equal(format(DEFAULT_FORMAT, fullInfo()),
      '[2026-11-22T10:00:00.123Z] "GET /api/v1/items?id=3 HTTP/1.1" 503 UH,UF 17 1024 250 88 "203.0.113.9" "curl/8.0.1" '
      + '"6f3b5a2e-7d11-4c1f-9a5e-0b2c3d4e5f60" "api.example.com" "10.1.2.3:8080"\n')
  })

  it('prints - for every unset value and 0 for a missing response code', () => {
    const info = emptyInfo()
    info.endTimeMonotonic = 1007
    assert.equal(format(DEFAULT_FORMAT, info), '[2026-11-22T10:00:00.123Z] "- - -" 0 - 0 0 7 - "-" "-" "-" "-" "-"\n')
  })

  it('prefers X-ENVOY-ORIGINAL-PATH over :path', () => {
    const info = fullInfo()
    info.requestHeaders = headers({ ':path': '/rewritten', 'x-envoy-original-path': '/original' })
    assert.equal(format('%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', info), '/original')
  })

  it('prints nothing for unset values with omit_empty_values', () => {
    const f = new FormatterImpl('[%PROTOCOL%|%UPSTREAM_HOST%|%REQ(x-missing)%]', 'p', { omitEmptyValues: true })
    assert.equal(f.format(emptyInfo(), 'DownstreamEnd'), '[||]')
    assert.equal(f.contentType, 'text/plain')
  })
})

describe('FormatterImpl: operators', () => {
  const cases: Array<[string, string]> = [
    ['%RESPONSE_CODE%', '503'],
    ['%RESPONSE_CODE_DETAILS%', 'upstream_reset_before_response'],
    ['%RESPONSE_CODE_DETAILS(ALLOW_WHITESPACES)%', 'upstream reset before response'],
    ['%RESPONSE_FLAGS%', 'UH,UF'],
    ['%RESPONSE_FLAGS_LONG%', 'NoHealthyUpstream,UpstreamConnectionFailure'],
    ['%BYTES_RECEIVED%', '17'],
    ['%BYTES_SENT%', '1024'],
    ['%UPSTREAM_WIRE_BYTES_SENT%', '300'],
    ['%UPSTREAM_WIRE_BYTES_RECEIVED%', '1400'],
    ['%DURATION%', '250'],
    ['%REQUEST_DURATION%', '10'],
    ['%REQUEST_TX_DURATION%', '20'],
    ['%RESPONSE_DURATION%', '100'],
    ['%RESPONSE_TX_DURATION%', '139'],
    ['%UPSTREAM_HOST%', '10.1.2.3:8080'],
    ['%UPSTREAM_HOST_NAME%', 'backend-1'],
    ['%UPSTREAM_CLUSTER%', 'backend'],
    ['%UPSTREAM_LOCAL_ADDRESS%', '10.0.0.1:40000'],
    ['%UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%', '10.0.0.1'],
    ['%UPSTREAM_LOCAL_PORT%', '40000'],
    ['%UPSTREAM_REMOTE_ADDRESS%', '10.1.2.3:8080'],
    ['%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '10.1.2.3'],
    ['%UPSTREAM_REMOTE_PORT%', '8080'],
    ['%UPSTREAM_TRANSPORT_FAILURE_REASON%', 'TLS_error:_handshake_failed'],
    ['%UPSTREAM_REQUEST_ATTEMPT_COUNT%', '2'],
    ['%DOWNSTREAM_REMOTE_ADDRESS%', '192.168.1.7:51234'],
    ['%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '192.168.1.7'],
    ['%DOWNSTREAM_REMOTE_PORT%', '51234'],
    ['%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%', '[2001:db8::1]:4000'],
    ['%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%', '2001:db8::1'],
    ['%DOWNSTREAM_DIRECT_REMOTE_PORT%', '4000'],
    ['%DOWNSTREAM_LOCAL_ADDRESS%', '10.0.0.1:443'],
    ['%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%', '10.0.0.1'],
    ['%DOWNSTREAM_LOCAL_PORT%', '443'],
    ['%CONNECTION_ID%', '42'],
    ['%REQUESTED_SERVER_NAME%', 'api.example.com'],
    ['%ROUTE_NAME%', 'default_route'],
    ['%VIRTUAL_CLUSTER_NAME%', 'vc1'],
    ['%PROTOCOL%', 'HTTP/1.1'],
    ['%CONNECTION_TERMINATION_DETAILS%', 'idle timeout'],
    ['%ACCESS_LOG_TYPE%', 'DownstreamEnd'],
    ['%REQ(:METHOD)%', 'GET'],
    ['%REQ(:authority)%', 'api.example.com'],
    ['%REQ(User-Agent)%', 'curl/8.0.1'],
    ['%REQ(USER-AGENT):4%', 'curl'],
    ['%REQ(USER-AGENT):100%', 'curl/8.0.1'],
    ['%REQ(X-MISSING?USER-AGENT)%', 'curl/8.0.1'],
    ['%REQ(X-MISSING?X-ALSO-MISSING)%', '-'],
    ['%REQ(X-MISSING?USER-AGENT):2%', 'cu'],
    ['%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%', '88'],
    ['%RESP(content-type):4%', 'text'],
    ['%TRAILER(GRPC-STATUS)%', '14'],
    ['%TRAILER(X-MISSING)%', '-'],
    ['%DYNAMIC_METADATA(com.test.my_filter)%', '{"test_key":"foo","test_object":{"inner_key":"bar"},"n":5}'],
    ['%DYNAMIC_METADATA(com.test.my_filter:test_key)%', 'foo'],
    ['%DYNAMIC_METADATA(com.test.my_filter:test_object)%', '{"inner_key":"bar"}'],
    ['%DYNAMIC_METADATA(com.test.my_filter:test_object:inner_key)%', 'bar'],
    ['%DYNAMIC_METADATA(com.test.my_filter:n)%', '5'],
    ['%DYNAMIC_METADATA(com.unknown_filter)%', '-'],
    ['%DYNAMIC_METADATA(com.test.my_filter:unknown_key)%', '-'],
    ['%DYNAMIC_METADATA(com.test.my_filter:test_key:deeper)%', '-'],
    ['%DYNAMIC_METADATA(com.test.my_filter):25%', '{"test_key":"foo","test_o'],
    ['%FILTER_STATE(my.key)%', '"value1"'],
    ['%FILTER_STATE(my.key:TYPED)%', '"value1"'],
    ['%FILTER_STATE(my.key:PLAIN)%', 'value1'],
    ['%FILTER_STATE(my.key:PLAIN):3%', 'val'],
    ['%FILTER_STATE(my.obj)%', '{"a":1}'],
    ['%FILTER_STATE(missing)%', '-'],
    ['100%% done', '100% done'],
    ['%%%RESPONSE_CODE%%%', '%503%'],
    ['plain text only', 'plain text only'],
    ['', ''],
  ]
  const info = fullInfo()
  for (const [f, want] of cases) {
    it(`${f || '(empty)'} → ${want || '(empty)'}`, () => assert.equal(format(f, info), want))
  }

  it('prints - for every string operator when unset', () => {
    const info = emptyInfo()
    const unset = ['%RESPONSE_CODE_DETAILS%', '%UPSTREAM_HOST%', '%UPSTREAM_HOST_NAME%', '%UPSTREAM_CLUSTER%', '%UPSTREAM_LOCAL_ADDRESS%',
      '%UPSTREAM_LOCAL_PORT%', '%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '%UPSTREAM_TRANSPORT_FAILURE_REASON%', '%REQUESTED_SERVER_NAME%',
      '%ROUTE_NAME%', '%VIRTUAL_CLUSTER_NAME%', '%PROTOCOL%', '%CONNECTION_TERMINATION_DETAILS%', '%REQ(:PATH)%', '%RESP(X)%',
      '%TRAILER(X)%', '%REQUEST_DURATION%', '%REQUEST_TX_DURATION%', '%RESPONSE_DURATION%', '%RESPONSE_TX_DURATION%',
      '%RESPONSE_FLAGS%', '%RESPONSE_FLAGS_LONG%']
    for (const f of unset) assert.equal(format(f, info), '-', f)
    assert.equal(format('%RESPONSE_CODE% %BYTES_SENT% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %UPSTREAM_WIRE_BYTES_SENT%', info), '0 0 0 0')
  })

  it('measures DURATION of a stream still running up to now', () => {
    const info = emptyInfo()
    Object.defineProperty(info, 'startTimeMonotonic', { value: performance.now() - 5000 })
    const ms = Number(format('%DURATION%', info))
    assert.ok(ms >= 5000 && ms < 60000, `DURATION ${ms}`)
  })

  it('replaces unsafe characters of the SNI', () => {
    const info = fullInfo()
    info.requestedServerName = 'evil.com\n" 200'
    assert.equal(format('%REQUESTED_SERVER_NAME%', info), 'evil.com___200')
  })

  it('strips the port of every address form', () => {
    const info = new StreamInfoImpl({ downstreamLocalAddress: '[::1]:80', downstreamRemoteAddress: '/tmp/envoy.sock', connectionId: 1 })
    assert.equal(format('%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_PORT%', info), '::1 80')
    assert.equal(format('%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT%', info), '/tmp/envoy.sock -')
  })

  it('prints a fresh UUID for each UNIQUE_ID', () => {
    const info = emptyInfo()
    const a = format('%UNIQUE_ID%', info)
    const f = new FormatterImpl('%UNIQUE_ID%', 'p')
    const b = f.format(info, 'DownstreamEnd')
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.notEqual(a, b)
    assert.notEqual(b, f.format(info, 'DownstreamEnd'))
  })

  it('prints the host name and environment variables', () => {
    assert.equal(format('%HOSTNAME%', emptyInfo()), os.hostname())
    process.env.ENVOY_TS_FORMATTER_TEST = 'from-env'
    assert.equal(format('%ENVIRONMENT(ENVOY_TS_FORMATTER_TEST)% %ENVIRONMENT(ENVOY_TS_FORMATTER_TEST):4%', emptyInfo()), 'from-env from')
    assert.equal(format('%ENVIRONMENT(ENVOY_TS_NOT_SET_ANYWHERE)%', emptyInfo()), '-')
  })

  it('prints the log type it is called with', () => {
    assert.equal(format('%ACCESS_LOG_TYPE%', emptyInfo(), 'TcpConnectionEnd'), 'TcpConnectionEnd')
  })
})

describe('FormatterImpl: START_TIME', () => {
  const cases: Array<[string, string]> = [
    ['%START_TIME%', '2026-11-22T10:00:00.123Z'],
    ['%START_TIME()%', '2026-11-22T10:00:00.123Z'],
    ['%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%', '2026-11-22T10:00:00.123Z'],
    ['%START_TIME(%Y/%m/%dT%H:%M:%S%z %s)%', '2026/11/22T10:00:00+0000 1795341600'],
    ['%START_TIME(%s.%3f)%', '1795341600.123'],
    ['%START_TIME(%s.%6f)%', '1795341600.123000'],
    ['%START_TIME(%s.%9f)%', '1795341600.123000000'],
    ['%START_TIME(%f)%', '123000000'],
    ['%START_TIME(%1f|%2f)%', '1|12'],
    ['%START_TIME(%E3S|%E6S|%E*S|%E3f)%', '00.123|00.123000|00.123|123'],
    ['%START_TIME(%a %A %b %B %h %j %u %w)%', 'Sun Sunday Nov November Nov 326 7 0'],
    ['%START_TIME(%y %C %e %I %p %Z %Ez %E4Y)%', '26 20 22 10 AM UTC +00:00 2026'],
    ['%START_TIME(%T %D %F %R)%', '10:00:00 11/22/26 2026-11-22 10:00'],
    ['%START_TIME(%c)%', 'Sun Nov 22 10:00:00 2026'],
    ['%START_TIME(100%%)%', '100%'],
    ['[%START_TIME(%H)%] %START_TIME(%M)%', '[10] 00'],
  ]
  const info = emptyInfo()
  for (const [f, want] of cases) {
    it(`${f} → ${want}`, () => assert.equal(format(f, info), want))
  }

  it('formats %E*S without a fraction on a whole second', () => {
    const i = emptyInfo()
    Object.defineProperty(i, 'startTime', { value: Date.UTC(2026, 0, 5, 23, 59, 7, 0) })
    assert.equal(format('%START_TIME(%E*S %j %p %I)%', i), '07 005 PM 11')
  })

  it('prints local time with its offset for START_TIME_LOCAL', () => {
    const d = new Date(START)
    const off = -d.getTimezoneOffset()
    const want = `${off < 0 ? '-' : '+'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`
    assert.equal(format('%START_TIME_LOCAL(%z %H)%', emptyInfo()), `${want} ${String(d.getHours()).padStart(2, '0')}`)
  })
})

describe('FormatterImpl: errors', () => {
  const cases: Array<[string, RegExp]> = [
    ['%REQ%', /REQ requires parameters/],
    ['%REQ()%', /REQ requires parameters/],
    ['%REQ(A?B?C)%', /More than 1 alternative header specified in token: A\?B\?C/],
    ['%REQ(bad header)%', /Invalid header configuration/],
    ['%PROTOCOL(x)%', /PROTOCOL does not take any parameters or length/],
    ['%PROTOCOL:3%', /PROTOCOL does not take any parameters or length/],
    ['%START_TIME:10%', /START_TIME does not allow length to be specified/],
    ['%START_TIME(%Q)%', /unsupported time format specifier '%Q'/],
    ['%START_TIME(%n)%', /contains newline/],
    ['%DYNAMIC_METADATA%', /DYNAMIC_METADATA requires parameters/],
    ['%FILTER_STATE(:PLAIN)%', /key cannot be empty/],
    ['%FILTER_STATE(k:JSON)%', /only support PLAIN\/TYPED/],
    ['%NOT_AN_OPERATOR%', /Not supported field in StreamInfo: NOT_AN_OPERATOR/],
    ['%UPSTREAM_PROTOCOL%', /Not supported field in StreamInfo: UPSTREAM_PROTOCOL/],
    ['%REQ(:PATH', /Couldn't find valid command at position 0/],
    ['abc %PROTOCOL', /Couldn't find valid command at position 4/],
    ['100% done', /Couldn't find valid command at position 3/],
    ['%req(:path)%', /Couldn't find valid command at position 0/],
    ['trailing %', /Couldn't find valid command at position 9/],
  ]
  for (const [f, re] of cases) {
    it(`rejects ${JSON.stringify(f)}`, () => {
      assert.throws(() => new FormatterImpl(f, 'access_log[0].typed_config.format'), (err: { code?: string; message: string }) => {
        assert.equal(err.code, 'ETS_ERR_CONFIG_INVALID')
        assert.ok(err.message.startsWith('access_log[0].typed_config.format: '), err.message)
        assert.match(err.message, re)
        return true
      })
    })
  }
})
