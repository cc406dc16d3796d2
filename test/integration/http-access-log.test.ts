import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, type LogLine, startEnvoy } from './helpers/envoy-process.js'
import {
  type HttpUpstream, type ProxyResponse, cluster, hcmBootstrap, send, startHttpUpstream, stderrJsonAccessLog, waitForStdoutLine, within,
} from './helpers/http-upstream.js'
import { listenerPort } from './helpers/tcp.js'

/**
 * The HCM access log, line for line: Envoy's default format (stdout), a custom text format
 * (stdout, prefixed `custom `) and a json_format (stderr), for a proxied request, a request
 * with a body, a direct response, a 404 with no route and a 503 from a dead upstream.
 */

const T = { timeout: 15_000 }
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
const CUSTOM = 'custom %REQ(:METHOD)% %REQ(:PATH)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% ' +
  '%UPSTREAM_CLUSTER% %ROUTE_NAME% %BYTES_RECEIVED% %BYTES_SENT% %REQ(X-MISSING)% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%\n'

/** Hooks start and stop processes: bounded, so a failed start cannot hang the run. */
const HOOK = { timeout: 30_000 }
let envoy: EnvoyProcess
let upstream: HttpUpstream
let deadPort = 0
let port = 0

function config(): string {
  const stdout = (format?: string): Record<string, unknown> => ({
    name: 'envoy.access_loggers.stdout',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
      ...(format !== undefined ? { log_format: { text_format_source: { inline_string: format } } } : {}),
    },
  })
  return hcmBootstrap({
    statPrefix: 'logs',
    hcm: {
      access_log: [
        stdout(),
        stdout(CUSTOM),
        stderrJsonAccessLog({
          kind: 'json',
          method: '%REQ(:METHOD)%',
          path: '%REQ(:PATH)%',
          protocol: '%PROTOCOL%',
          code: '%RESPONSE_CODE%',
          flags: '%RESPONSE_FLAGS%',
          details: '%RESPONSE_CODE_DETAILS%',
          cluster: '%UPSTREAM_CLUSTER%',
          upstream_host: '%UPSTREAM_HOST%',
          bytes_received: '%BYTES_RECEIVED%',
          bytes_sent: '%BYTES_SENT%',
          duration: '%DURATION%',
          start_time: '%START_TIME%',
          service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
          request_id: '%REQ(X-REQUEST-ID)%',
          user_agent: '%REQ(USER-AGENT)%',
          missing: '%REQ(X-MISSING)%',
        }),
      ],
    },
    virtualHosts: [{
      name: 'logs',
      domains: ['log.test'],
      routes: [
        { name: 'direct_route', match: { path: '/log/direct' }, direct_response: { status: 200, body: { inline_string: 'direct!' } } },
        { name: 'dead_route', match: { prefix: '/log/dead' }, route: { cluster: 'dead' } },
        { name: 'proxied_route', match: { prefix: '/log/proxied' }, route: { cluster: 'backend' } },
      ],
    }],
    clusters: [cluster('backend', { endpoints: [upstream.port] }), cluster('dead', { endpoints: [deadPort] })],
  })
}

const HEADERS = { host: 'log.test', 'user-agent': 'log-test/1.0' }

/** The three lines of one request (matched by path, unique per test). */
async function linesOf(path: string): Promise<{ dflt: string; custom: string; json: LogLine }> {
  const dflt = await waitForStdoutLine(envoy, (l) => l.startsWith('[') && l.includes(` ${path} HTTP/1.1"`))
  const custom = await waitForStdoutLine(envoy, (l) => l.startsWith(`custom GET ${path} `) || l.startsWith(`custom POST ${path} `))
  const json = await within(envoy.waitForLog((l) => l.kind === 'json' && l.path === path), 5000, `json line for ${path}`)
  return { dflt, custom, json }
}

/** Checks the shared parts of the default line and returns its variable fields. */
function parseDefault(line: string, started: number): { bytesSent: number; duration: number; serviceTime: string; requestId: string; upstreamHost: string } {
  const re = new RegExp(
    '^\\[(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z)\\] "(?:GET|POST) \\S+ HTTP/1\\.1" \\d{3} \\S+ \\d+ (\\d+) (\\d+) (\\S+) ' +
    `"-" "log-test/1\\.0" "(${UUID})" "log\\.test" "(\\S+)"$`)
  const m = re.exec(line)
  assert.ok(m !== null, `default format line: ${line}`)
  const start = Date.parse(m[1]!)
  assert.ok(start >= started - 1000 && start <= Date.now() + 1000, `START_TIME ${m[1]} is now`)
  return { bytesSent: Number(m[2]), duration: Number(m[3]), serviceTime: m[4]!, requestId: m[5]!, upstreamHost: m[6]! }
}

function bodyBytes(r: ProxyResponse): number {
  return Buffer.byteLength(r.body)
}

describe('HTTP access log', () => {
  before(async () => {
    upstream = await startHttpUpstream()
    const gone = await startHttpUpstream()
    deadPort = gone.port
    await gone.close()
    envoy = await startEnvoy({ config: config(), args: ['--file-flush-interval-msec', '10', '--drain-time-s', '2'] })
    port = await listenerPort(envoy, 'http_in')
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    await upstream?.close()
  }, HOOK)

  it('a proxied request', T, async () => {
    const started = Date.now()
    const r = await send(port, '/log/proxied?x=1', { headers: HEADERS })
    assert.equal(r.status, 200)
    const { dflt, custom, json } = await linesOf('/log/proxied?x=1')
    const sent = bodyBytes(r)
    const requestId = r.echo().headers['x-request-id'] as string
    const serviceTime = r.headers['x-envoy-upstream-service-time'] as string
    const upstreamHost = `127.0.0.1:${upstream.port}`

    assert.ok(dflt.startsWith('['))
    assert.ok(dflt.includes(`] "GET /log/proxied?x=1 HTTP/1.1" 200 - 0 ${sent} `), dflt)
    const d = parseDefault(dflt, started)
    assert.deepEqual([d.bytesSent, d.serviceTime, d.requestId, d.upstreamHost], [sent, serviceTime, requestId, upstreamHost])
    assert.ok(d.duration >= 0 && d.duration <= Date.now() - started)

    assert.equal(custom, `custom GET /log/proxied?x=1 HTTP/1.1 200 - via_upstream backend proxied_route 0 ${sent} - 127.0.0.1`)

    assert.equal(typeof json.duration, 'number')
    assert.ok(Math.abs(Date.parse(String(json.start_time)) - started) < 2000)
    const { duration: _d, start_time: _s, ...stable } = json
    assert.deepEqual(stable, {
      kind: 'json', method: 'GET', path: '/log/proxied?x=1', protocol: 'HTTP/1.1', code: 200, flags: '-', details: 'via_upstream',
      cluster: 'backend', upstream_host: upstreamHost, bytes_received: 0, bytes_sent: sent, service_time: serviceTime,
      request_id: requestId, user_agent: 'log-test/1.0', missing: null,
    })
  })

  it('a request with a body: BYTES_RECEIVED', T, async () => {
    const r = await send(port, '/log/proxied/post', { method: 'POST', headers: HEADERS, body: 'twelve bytes' })
    assert.equal(r.status, 200)
    const { dflt, custom, json } = await linesOf('/log/proxied/post')
    assert.ok(dflt.includes(`] "POST /log/proxied/post HTTP/1.1" 200 - 12 ${bodyBytes(r)} `), dflt)
    assert.equal(custom, `custom POST /log/proxied/post HTTP/1.1 200 - via_upstream backend proxied_route 12 ${bodyBytes(r)} - 127.0.0.1`)
    assert.equal(json.bytes_received, 12)
  })

  it('a local reply: 404, no route', T, async () => {
    const started = Date.now()
    const r = await send(port, '/log/missing', { headers: HEADERS })
    assert.equal(r.status, 404)
    const { dflt, custom, json } = await linesOf('/log/missing')
    const d = parseDefault(dflt, started)
    assert.ok(dflt.includes('] "GET /log/missing HTTP/1.1" 404 NR 0 0 '), dflt)
    assert.deepEqual([d.serviceTime, d.upstreamHost], ['-', '-'])
    assert.equal(custom, 'custom GET /log/missing HTTP/1.1 404 NR route_not_found - - 0 0 - 127.0.0.1')
    assert.equal(json.code, 404)
    assert.equal(json.flags, 'NR')
    assert.equal(json.details, 'route_not_found')
    assert.equal(json.cluster, null)
    assert.equal(json.upstream_host, null)
    assert.equal(json.service_time, null)
  })

  it('a local reply: direct_response', T, async () => {
    const started = Date.now()
    const r = await send(port, '/log/direct', { headers: HEADERS })
    assert.equal(r.body, 'direct!')
    const { dflt, custom, json } = await linesOf('/log/direct')
    parseDefault(dflt, started)
    assert.ok(dflt.includes('] "GET /log/direct HTTP/1.1" 200 - 0 7 '), dflt)
    assert.equal(custom, 'custom GET /log/direct HTTP/1.1 200 - direct_response - direct_route 0 7 - 127.0.0.1')
    assert.equal(json.details, 'direct_response')
    assert.equal(json.bytes_sent, 7)
  })

  it('a local reply: 503 from a dead upstream', T, async () => {
    const started = Date.now()
    const r = await send(port, '/log/dead', { headers: HEADERS })
    assert.equal(r.status, 503)
    const { dflt, custom, json } = await linesOf('/log/dead')
    const d = parseDefault(dflt, started)
    assert.ok(dflt.includes(`] "GET /log/dead HTTP/1.1" 503 UF 0 ${bodyBytes(r)} `), dflt)
    assert.equal(d.upstreamHost, `127.0.0.1:${deadPort}`, 'the host that was tried')
    assert.equal(custom, `custom GET /log/dead HTTP/1.1 503 UF upstream_reset_before_response_started{connection_failure} dead dead_route 0 ${bodyBytes(r)} - 127.0.0.1`)
    assert.equal(json.flags, 'UF')
    assert.equal(json.cluster, 'dead')
  })
})
