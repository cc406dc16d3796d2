import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { createFormatter, createJsonFormatter } from '../../../source/common/formatter/json-formatter.js'
import type { SubstitutionFormatString } from '../../../source/common/protobuf/generated/envoy/config/core/v3.js'
import { StreamInfoImpl } from '../../../source/common/stream-info/stream-info-impl.js'
import { type HeaderMapView, ResponseFlag } from '../../../source/envoy/stream-info/stream-info.js'

const START = Date.UTC(2026, 10, 22, 10, 0, 0, 123)

function headers(h: Record<string, string>): HeaderMapView {
  const m = new Map(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))
  return { get: (n) => m.get(n.toLowerCase()), entries: () => m.entries() }
}

function makeInfo(): StreamInfoImpl {
  const info = new StreamInfoImpl({ downstreamLocalAddress: '10.0.0.1:443', downstreamRemoteAddress: '192.168.1.7:51234', connectionId: 7 })
  Object.defineProperty(info, 'startTime', { value: START })
  Object.defineProperty(info, 'startTimeMonotonic', { value: 1000 })
  info.endTimeMonotonic = 1042.6
  info.protocol = 'HTTP/1.1'
  info.responseCode = 200
  info.bytesSent = 512
  info.requestHeaders = headers({ ':method': 'POST', ':path': '/v1/x', 'user-agent': 'curl/8.0.1' })
  info.dynamicMetadata['ns'] = { s: 'str', o: { z: 1, a: [true, null] } }
  info.filterState.set('fs', { k: 'v' })
  return info
}

function sfs(fields: Partial<SubstitutionFormatString>): SubstitutionFormatString {
  return { omit_empty_values: false, content_type: '', formatters: [], ...fields }
}

function typed(format: Record<string, unknown>, extra: Partial<SubstitutionFormatString> = {}): string {
  return createFormatter(sfs({ json_format: format, ...extra }), 'log_format').format(makeInfo(), 'DownstreamEnd')
}

describe('JsonFormatterImpl (typed, log_format.json_format)', () => {
  it('keeps the type of a value that is exactly one operator', () => {
    const line = typed({
      code: '%RESPONSE_CODE%', duration: '%DURATION%', bytes: '%BYTES_SENT%', port: '%DOWNSTREAM_REMOTE_PORT%', id: '%CONNECTION_ID%',
      protocol: '%PROTOCOL%', method: '%REQ(:METHOD)%', start: '%START_TIME%', flags: '%RESPONSE_FLAGS%',
    })
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'))
    assert.deepEqual(JSON.parse(line), {
      code: 200, duration: 42, bytes: 512, port: 51234, id: 7, protocol: 'HTTP/1.1', method: 'POST', start: '2026-11-22T10:00:00.123Z', flags: '-',
    })
  })

  it('renders unset values as null and concatenations as strings with -', () => {
    const line = typed({ host: '%UPSTREAM_HOST%', ua: '%REQ(X-MISSING)%', mixed: '%UPSTREAM_HOST% via %PROTOCOL%', code: 'code=%RESPONSE_CODE%' })
    assert.equal(line, '{"host":null,"ua":null,"mixed":"- via HTTP/1.1","code":"code=200"}\n')
  })

  it('keeps the config key order, nests objects and lists, and passes constants through', () => {
    const line = typed({ z: 'literal', a: { inner: '%RESPONSE_CODE%', list: ['%PROTOCOL%', 3, { deep: '%BYTES_SENT%' }] }, n: 1.5, b: false, e: '' })
    assert.equal(line, '{"z":"literal","a":{"inner":200,"list":["HTTP/1.1",3,{"deep":512}]},"n":1.5,"b":false,"e":""}\n')
  })

  it('renders metadata and filter state as JSON values, ignoring the length', () => {
    const line = typed({ all: '%DYNAMIC_METADATA(ns)%', s: '%DYNAMIC_METADATA(ns:s):1%', fs: '%FILTER_STATE(fs)%', plain: '%FILTER_STATE(fs:PLAIN)%' })
    assert.deepEqual(JSON.parse(line), { all: { s: 'str', o: { z: 1, a: [true, null] } }, s: 'str', fs: { k: 'v' }, plain: '{"k":"v"}' })
  })

  it('drops unset values with omit_empty_values', () => {
    const line = typed({ host: '%UPSTREAM_HOST%', code: '%RESPONSE_CODE%', nested: { ua: '%REQ(X-MISSING)%' }, list: ['%ROUTE_NAME%', 'x'], mixed: '[%ROUTE_NAME%]' },
      { omit_empty_values: true })
    assert.equal(line, '{"code":200,"nested":{},"list":["x"],"mixed":"[]"}\n')
  })

  it('sorts properties at every level with json_format_options.sort_properties', () => {
    const line = typed({ z: 1, a: { y: '%DYNAMIC_METADATA(ns:o)%', b: 2 } }, { json_format_options: { sort_properties: true } })
    assert.equal(line, '{"a":{"b":2,"y":{"a":[true,null],"z":1}},"z":1}\n')
  })

  it('escapes values so each entry stays one valid JSON line', () => {
    const info = makeInfo()
    info.requestHeaders = headers({ 'user-agent': 'a"b\nc\\d' })
    const line = createFormatter(sfs({ json_format: { ua: '%REQ(USER-AGENT)%', ua2: 'x %REQ(USER-AGENT)%' } }), 'p').format(info, 'DownstreamEnd')
    assert.equal(line.split('\n').length, 2)
    assert.deepEqual(JSON.parse(line), { ua: 'a"b\nc\\d', ua2: 'x a"b\nc\\d' })
  })

  it('defaults the content type to application/json and keeps a configured one', () => {
    assert.equal(createFormatter(sfs({ json_format: {} }), 'p').contentType, 'application/json')
    assert.equal(createFormatter(sfs({ json_format: {}, content_type: 'application/x-ndjson' }), 'p').contentType, 'application/x-ndjson')
  })
})

describe('JsonFormatterImpl (untyped, deprecated json_format)', () => {
  it('renders every value as a string and unset as "-"', () => {
    const f = createJsonFormatter({ code: '%RESPONSE_CODE%', host: '%UPSTREAM_HOST%', d: '%DURATION%' }, 'json_format', { preserveTypes: false })
    assert.equal(f.format(makeInfo(), 'DownstreamEnd'), '{"code":"200","host":"-","d":"42"}\n')
  })

  it('drops unset values with omitEmptyValues', () => {
    const f = createJsonFormatter({ code: '%RESPONSE_CODE%', host: '%UPSTREAM_HOST%' }, 'json_format', { preserveTypes: false, omitEmptyValues: true })
    assert.equal(f.format(makeInfo(), 'DownstreamEnd'), '{"code":"200"}\n')
  })
})

describe('createFormatter', () => {
  const info = makeInfo()
  info.setResponseFlag(ResponseFlag.NoRouteFound)

  it('uses Envoy\'s default format without a config', () => {
    const f = createFormatter(undefined, 'p')
    assert.equal(f.format(info, 'DownstreamEnd'), '[2026-11-22T10:00:00.123Z] "POST /v1/x HTTP/1.1" 200 NR 0 512 42 - "-" "curl/8.0.1" "-" "-" "-"\n')
    assert.equal(f.contentType, 'text/plain')
  })

  it('builds text formats from text_format and every text_format_source kind', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-fmt-'))
    const file = path.join(dir, 'format.txt')
    fs.writeFileSync(file, '%RESPONSE_CODE% from file\n')
    process.env.ENVOY_TS_JSON_FORMATTER_TEST = '%PROTOCOL% from env'
    try {
      assert.equal(createFormatter(sfs({ text_format: '%RESPONSE_CODE%|%ROUTE_NAME%' }), 'p').format(info, 'DownstreamEnd'), '200|-')
      assert.equal(createFormatter(sfs({ text_format_source: { inline_string: '%RESPONSE_FLAGS%' } }), 'p').format(info, 'DownstreamEnd'), 'NR')
      const bytes = Buffer.from('%BYTES_SENT%').toString('base64')
      assert.equal(createFormatter(sfs({ text_format_source: { inline_bytes: bytes } }), 'p').format(info, 'DownstreamEnd'), '512')
      assert.equal(createFormatter(sfs({ text_format_source: { filename: file } }), 'p').format(info, 'DownstreamEnd'), '200 from file\n')
      assert.equal(createFormatter(sfs({ text_format_source: { environment_variable: 'ENVOY_TS_JSON_FORMATTER_TEST' } }), 'p')
        .format(info, 'DownstreamEnd'), 'HTTP/1.1 from env')
      const omit = createFormatter(sfs({ text_format: '[%ROUTE_NAME%]', omit_empty_values: true, content_type: 'text/html' }), 'p')
      assert.equal(omit.format(info, 'DownstreamEnd'), '[]')
      assert.equal(omit.contentType, 'text/html')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  const errors: Array<[string, SubstitutionFormatString, string, RegExp]> = [
    ['a bad operator in text_format', sfs({ text_format: '%NOPE%' }), 'ETS_ERR_CONFIG_INVALID', /^log_format\.text_format: Not supported field/],
    ['a bad operator deep in json_format', sfs({ json_format: { a: { b: ['%REQ%'] } } }), 'ETS_ERR_CONFIG_INVALID', /^log_format\.json_format\.a\.b\[0\]: REQ requires parameters/],
    ['a null in json_format', sfs({ json_format: { a: null } }), 'ETS_ERR_CONFIG_INVALID', /^log_format\.json_format\.a: Only string values/],
    ['a missing file', sfs({ text_format_source: { filename: '/nonexistent/envoy-ts/format' } }), 'ETS_ERR_CONFIG_INVALID', /^log_format\.text_format_source\.filename: cannot read/],
    ['an unset environment variable', sfs({ text_format_source: { environment_variable: 'ENVOY_TS_NOT_SET_ANYWHERE' } }), 'ETS_ERR_CONFIG_INVALID', /is not set/],
    ['no format at all', sfs({}), 'ETS_ERR_CONFIG_INVALID', /^log_format: one of text_format, json_format or text_format_source is required/],
    ['formatter extensions', sfs({ text_format: 'x', formatters: [{ name: 'envoy.formatter.req_without_query', typed_config: { '@type': 'x' } }] }),
      'ETS_ERR_EXTENSION_UNKNOWN', /^log_format\.formatters\[0\]: formatter extension 'envoy\.formatter\.req_without_query' is not supported/],
  ]
  for (const [name, config, code, re] of errors) {
    it(`rejects ${name}`, () => {
      assert.throws(() => createFormatter(config, 'log_format'), (err: { code?: string; message: string }) => {
        assert.equal(err.code, code)
        assert.match(err.message, re)
        return true
      })
    })
  }
})
