import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import pino from 'pino'
import { createAccessLogs } from '../../../source/common/access-log/access-log-impl.js'
import { AccessLogManagerImpl } from '../../../source/common/access-log/access-log-manager-impl.js'
import { RegistryImpl } from '../../../source/common/config/registry-impl.js'
import type { AccessLog } from '../../../source/common/protobuf/generated/envoy/config/accesslog/v3.js'
import { StreamInfoImpl } from '../../../source/common/stream-info/stream-info-impl.js'
import {
  ACCESS_LOGGERS, type AccessLogFactoryContext, type AccessLogFile, type AccessLogInstanceFactory, type AccessLogManager,
} from '../../../source/envoy/access-log/access-log.js'
import type { HeaderMapView } from '../../../source/envoy/stream-info/stream-info.js'
import { setupAllExtensions } from '../../../source/extensions/all-extensions.js'
import { fileAccessLogFactory, setup as setupFile } from '../../../source/extensions/access-loggers/file/config.js'
import {
  setup as setupStream, stderrAccessLogFactory, stdoutAccessLogFactory,
} from '../../../source/extensions/access-loggers/stream/config.js'

const FILE_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog'
const STDOUT_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog'
const STDERR_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-access-loggers-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
const silent = pino({ level: 'silent' })

function headers(h: Record<string, string>): HeaderMapView {
  const m = new Map(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))
  return { get: (n) => m.get(n.toLowerCase()), entries: () => m.entries() }
}

function request(code: number): StreamInfoImpl {
  const info = new StreamInfoImpl({ downstreamLocalAddress: '127.0.0.1:10000', downstreamRemoteAddress: '127.0.0.1:40000', connectionId: 3 })
  Object.defineProperty(info, 'startTime', { value: Date.UTC(2026, 10, 22, 10, 0, 0, 123) })
  Object.defineProperty(info, 'startTimeMonotonic', { value: 1000 })
  info.endTimeMonotonic = 1012
  info.protocol = 'HTTP/1.1'
  info.responseCode = code
  info.requestHeaders = headers({ ':method': 'GET', ':path': '/hello', ':authority': 'localhost' })
  return info
}

function registry(): RegistryImpl {
  const r = new RegistryImpl()
  setupFile(r)
  setupStream(r)
  return r
}

/** A manager that records what would be written, per path. */
class RecordingManager implements AccessLogManager {
  readonly written = new Map<string, string[]>()
  createAccessLogFile(p: string): AccessLogFile {
    const lines = this.written.get(p) ?? []
    this.written.set(p, lines)
    return { write: (entry) => lines.push(entry) }
  }

  reopen(): void {}
  flush(): void {}
}

function expectConfigError(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (err: { code?: string; message: string }) => {
    assert.equal(err.code, code)
    assert.match(err.message, re)
    return true
  })
}

describe('access logger registration', () => {
  it('finds each logger by name and by @type', () => {
    const category = registry().category<AccessLogInstanceFactory>(ACCESS_LOGGERS)
    for (const [factory, type] of [[fileAccessLogFactory, FILE_TYPE], [stdoutAccessLogFactory, STDOUT_TYPE], [stderrAccessLogFactory, STDERR_TYPE]] as const) {
      assert.equal(category.lookup(factory.name, undefined), factory)
      assert.equal(category.lookup('some.other.name', type), factory)
    }
  })

  it('is part of the built-in extensions', () => {
    const r = new RegistryImpl()
    setupAllExtensions(r)
    assert.deepEqual(r.describe()[ACCESS_LOGGERS], ['envoy.access_loggers.file', 'envoy.access_loggers.stderr', 'envoy.access_loggers.stdout'])
  })
})

describe('createAccessLogs', () => {
  it('writes a line through a file logger, end to end', () => {
    const file = path.join(dir, 'access.log')
    const manager = new AccessLogManagerImpl(60000, silent)
    const ctx: AccessLogFactoryContext = { accessLogManager: manager, log: silent }
    const configs: AccessLog[] = [{
      name: 'envoy.access_loggers.file',
      filter: { status_code_filter: { comparison: { op: 'GE', value: { default_value: 500, runtime_key: '' } } } },
      typed_config: { '@type': FILE_TYPE, path: file, log_format: { text_format: '%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %DURATION%\n', omit_empty_values: false, content_type: '', formatters: [] } },
    }]
    const [log] = createAccessLogs(configs, 'access_log', registry(), ctx)
    log!.log(request(200), 'DownstreamEnd')
    log!.log(request(503), 'DownstreamEnd')
    manager.flush()
    assert.equal(fs.readFileSync(file, 'utf8'), 'GET /hello 503 12\n')
    manager.close()
  })

  it('uses Envoy\'s default format and the deprecated format fields', () => {
    const m = new RecordingManager()
    const ctx = { accessLogManager: m, log: silent }
    const configs: AccessLog[] = [
      { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: '/x/default' } },
      { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: '/x/format', format: '%RESPONSE_CODE% %ROUTE_NAME%\n' } },
      { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: '/x/json', json_format: { code: '%RESPONSE_CODE%', route: '%ROUTE_NAME%' } } },
      { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: '/x/typed', typed_json_format: { code: '%RESPONSE_CODE%', route: '%ROUTE_NAME%' } } },
    ]
    for (const log of createAccessLogs(configs, 'access_log', registry(), ctx)) log.log(request(204), 'DownstreamEnd')
    assert.deepEqual(Object.fromEntries(m.written), {
      '/x/default': ['[2026-11-22T10:00:00.123Z] "GET /hello HTTP/1.1" 204 - 0 0 12 - "-" "-" "-" "localhost" "-"\n'],
      '/x/format': ['204 -\n'],
      '/x/json': ['{"code":"204","route":"-"}\n'],
      '/x/typed': ['{"code":204,"route":null}\n'],
    })
  })

  it('sends stdout and stderr loggers to /dev/stdout and /dev/stderr', () => {
    const m = new RecordingManager()
    const configs: AccessLog[] = [
      { name: 'envoy.access_loggers.stdout', typed_config: { '@type': STDOUT_TYPE, log_format: { json_format: { code: '%RESPONSE_CODE%' }, omit_empty_values: false, content_type: '', formatters: [] } } },
      { name: 'envoy.access_loggers.stderr', typed_config: { '@type': STDERR_TYPE } },
    ]
    for (const log of createAccessLogs(configs, 'access_log', registry(), { accessLogManager: m, log: silent })) log.log(request(404), 'DownstreamEnd')
    assert.deepEqual(m.written.get('/dev/stdout'), ['{"code":404}\n'])
    assert.match(m.written.get('/dev/stderr')![0]!, /^\[2026-11-22T10:00:00\.123Z\] "GET \/hello HTTP\/1\.1" 404 /)
  })

  it('never lets a logger error escape log()', () => {
    const r = registry()
    r.category<AccessLogInstanceFactory>(ACCESS_LOGGERS).register({
      name: 'test.throwing',
      configType: 'test.Throwing',
      createAccessLogInstance: () => ({ log: () => { throw new Error('disk on fire') } }),
    })
    const [log] = createAccessLogs([{ name: 'test.throwing' }], 'access_log', r, { accessLogManager: new RecordingManager(), log: silent })
    assert.doesNotThrow(() => log!.log(request(200), 'DownstreamEnd'))
  })

  it('rejects an unknown logger by EXTENSION_UNKNOWN', () => {
    expectConfigError(() => createAccessLogs([
      { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: '/x/ok' } },
      { name: 'envoy.access_loggers.open_telemetry', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig' } },
    ], 'static_resources.listeners[0].access_log', registry(), { accessLogManager: new RecordingManager(), log: silent }),
    'ETS_ERR_EXTENSION_UNKNOWN',
    /^static_resources\.listeners\[0\]\.access_log\[1\]: Didn't find a registered implementation for name: 'envoy\.access_loggers\.open_telemetry' with type URL: 'type\.googleapis\.com\/envoy\.extensions\.access_loggers\.open_telemetry\.v3\.OpenTelemetryAccessLogConfig'$/)
  })

  const invalid: Array<[string, AccessLog, RegExp]> = [
    ['a file logger without a path', { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: '' } }, /^access_log\[0\]\.typed_config\.path: /],
    ['a bad operator', { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: '/x', format: '%NOPE%' } },
      /^access_log\[0\]\.typed_config\.format: Not supported field in StreamInfo: NOPE/],
    ['a bad operator in log_format', { name: 'envoy.access_loggers.stdout', typed_config: { '@type': STDOUT_TYPE, log_format: { text_format: '%REQ%', omit_empty_values: false, content_type: '', formatters: [] } } },
      /^access_log\[0\]\.typed_config\.log_format\.text_format: REQ requires parameters/],
    ['a bad filter', { name: 'envoy.access_loggers.stdout', filter: {}, typed_config: { '@type': STDOUT_TYPE } }, /^access_log\[0\]\.filter: /],
  ]
  for (const [name, config, re] of invalid) {
    it(`rejects ${name} by CONFIG_INVALID`, () => {
      expectConfigError(() => createAccessLogs([config], 'access_log', registry(), { accessLogManager: new RecordingManager(), log: silent }),
        'ETS_ERR_CONFIG_INVALID', re)
    })
  }

  it('rejects a file it cannot open', () => {
    const manager = new AccessLogManagerImpl(60000, silent)
    expectConfigError(() => createAccessLogs([{ name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: path.join(dir, 'missing', 'a.log') } }],
      'access_log', registry(), { accessLogManager: manager, log: silent }), 'ETS_ERR_CONFIG_INVALID', /^access_log\[0\]\.typed_config\.path: unable to open access log file/)
  })
})
