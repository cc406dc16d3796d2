import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, type LogLine, startEnvoy } from './helpers/envoy-process.js'
import {
  type Action, type HttpUpstream, RawHttpConnection, cluster, hcmBootstrap, hcmListener, patternDigest, startHttpUpstream,
  stderrJsonAccessLog, within,
} from './helpers/http-upstream.js'
import { listenerPort, statValue, waitForStat } from './helpers/tcp.js'

/**
 * The HTTP/1.1 codec over raw sockets: framing, keep-alive, pipelining, 100-continue, HTTP/1.0,
 * trailers, and request-smuggling vectors that must each end in a 400 (or 431/501) and a close.
 */

const T = { timeout: 15_000 }
const ACCESS_LOG = stderrJsonAccessLog({
  client: '%DOWNSTREAM_REMOTE_ADDRESS%',
  code: '%RESPONSE_CODE%',
  details: '%RESPONSE_CODE_DETAILS%',
  path: '%REQ(:PATH)%',
})
const TRAILERS_OPTIONS = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http_protocol_options: { enable_trailers: true } },
  },
}

/** Hooks start and stop processes: bounded, so a failed start cannot hang the run. */
const HOOK = { timeout: 30_000 }
let envoy: EnvoyProcess
let upstream: HttpUpstream
const ports: Record<string, number> = {}

function behavior(_n: number, req: { url?: string }): Action {
  const url = req.url ?? ''
  const m = /^\/source\/(\d+)/.exec(url)
  if (m !== null) return { kind: 'source', bytes: Number(m[1]) }
  if (url.startsWith('/fixed')) return { kind: 'status', status: 200, body: `fixed:${url}` }
  if (url.startsWith('/bad-chunk-ext')) {
    // A response whose first chunk line carries a 60,000-byte extension, written raw.
    return {
      kind: 'custom',
      handle: (_req, res) => {
        res.socket?.end(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=${'a'.repeat(60_000)}\r\nhello\r\n0\r\n\r\n`)
      },
    }
  }
  if (url.startsWith('/source-trailers')) return { kind: 'source', bytes: 1000, trailers: { 'x-resp-trailer': 'from-upstream' } }
  return { kind: 'echo' }
}

function config(upstreamPort: number): string {
  const common = { delayed_close_timeout: '0.1s', access_log: [ACCESS_LOG] }
  const toCluster = (name: string): Array<Record<string, unknown>> => [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: name } }] }]
  return hcmBootstrap({
    statPrefix: 'codec',
    hcm: common,
    extraListeners: [
      hcmListener({ name: 'http10', statPrefix: 'codec10', hcm: { ...common, http_protocol_options: { accept_http_10: true } } }),
      hcmListener({
        name: 'trailers',
        statPrefix: 'trailers',
        hcm: { ...common, http_protocol_options: { enable_trailers: true } },
        virtualHosts: toCluster('backend_trailers'),
      }),
      hcmListener({
        name: 'limits',
        statPrefix: 'limits',
        hcm: {
          ...common,
          max_request_headers_kb: 1,
          common_http_protocol_options: { max_headers_count: 10, headers_with_underscores_action: 'REJECT_REQUEST' },
        },
      }),
    ],
    clusters: [
      cluster('backend', { endpoints: [upstreamPort] }),
      cluster('backend_trailers', { endpoints: [upstreamPort], extra: { typed_extension_protocol_options: TRAILERS_OPTIONS } }),
    ],
  })
}

/** The access log line of the connection `conn` (matched by its client address). */
function accessLogOf(conn: RawHttpConnection): Promise<LogLine> {
  const client = `127.0.0.1:${conn.socket.localPort}`
  return within(envoy.waitForLog((l) => l.client === client), 5000, `access log line for ${client}`)
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: codec.test\r\n${extra}\r\n`

describe('HTTP/1.1 codec', () => {
  before(async () => {
    upstream = await startHttpUpstream({ behavior })
    envoy = await startEnvoy({ config: config(upstream.port), args: ['--file-flush-interval-msec', '10', '--drain-time-s', '2'] })
    for (const l of ['http_in', 'http10', 'trailers', 'limits']) ports[l] = await listenerPort(envoy, l)
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    await upstream?.close()
  }, HOOK)

  it('keeps a connection alive across requests, downstream and upstream', T, async () => {
    const cxBefore = await statValue(envoy, 'http.codec.downstream_cx_total')
    const conn = await RawHttpConnection.open(ports.http_in!)
    const r1 = await conn.roundTrip(get('/ka/1'))
    const r2 = await conn.roundTrip(get('/ka/2'))
    const r3 = await conn.roundTrip('POST /ka/3 HTTP/1.1\r\nHost: codec.test\r\nContent-Length: 4\r\n\r\nbody')
    for (const r of [r1, r2, r3]) {
      assert.equal(r.status, 200)
      assert.equal(r.headers.connection, undefined, 'no connection: close')
    }
    const echoes = [r1, r2, r3].map((r) => JSON.parse(r.body.toString()) as { path: string; remotePort: number; body: string })
    assert.deepEqual(echoes.map((e) => e.path), ['/ka/1', '/ka/2', '/ka/3'])
    assert.equal(echoes[2]!.body, 'body')
    assert.equal(new Set(echoes.map((e) => e.remotePort)).size, 1, 'one pooled upstream connection served all three')
    assert.equal(conn.peerClosed, false)
    assert.equal(await statValue(envoy, 'http.codec.downstream_cx_total'), cxBefore + 1)
    conn.destroy()
  })

  it('answers pipelined requests (one write) in order', T, async () => {
    const conn = await RawHttpConnection.open(ports.http_in!)
    conn.write(get('/pipe/1') + 'POST /pipe/2 HTTP/1.1\r\nHost: codec.test\r\nContent-Length: 5\r\n\r\nhello' + get('/pipe/3'))
    const paths: string[] = []
    for (let i = 0; i < 3; i++) {
      const r = await within(conn.readResponse(), 5000, `pipelined response ${i + 1}`)
      assert.equal(r.status, 200)
      const e = JSON.parse(r.body.toString()) as { path: string; body: string }
      paths.push(e.path)
      if (e.path === '/pipe/2') assert.equal(e.body, 'hello')
    }
    assert.deepEqual(paths, ['/pipe/1', '/pipe/2', '/pipe/3'])
    assert.equal(conn.pending.length, 0, 'nothing extra was sent')
    conn.destroy()
  })

  it('a malformed request pipelined behind a good one: 200, then 400 and close, counted once', T, async () => {
    const errBefore = await statValue(envoy, 'http.codec.downstream_cx_protocol_error')
    const conn = await RawHttpConnection.open(ports.http_in!)
    // The bad head is parsed only after the first response completes (a resumed dispatch).
    conn.write(get('/pipe/good') + 'GET /pipe/bad HTTP/1.1\r\nHost: codec.test\r\nBad Header: x\r\n\r\n')
    const first = await within(conn.readResponse(), 5000, 'the first response')
    assert.equal(first.status, 200)
    const second = await within(conn.readResponse(), 5000, 'the error response')
    assert.equal(second.status, 400)
    await within(conn.closed, 3000, 'the proxy closes the connection')
    await waitForStat(envoy, 'http.codec.downstream_cx_protocol_error', (n) => n === errBefore + 1)
  })

  it('chunked request and response bodies', T, async () => {
    const conn = await RawHttpConnection.open(ports.http_in!)
    const r = await conn.roundTrip(
      'POST /chunked HTTP/1.1\r\nHost: codec.test\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n')
    assert.equal(r.status, 200)
    const e = JSON.parse(r.body.toString()) as { body: string; headers: Record<string, string> }
    assert.equal(e.body, 'hello world')
    assert.equal(e.headers['transfer-encoding'], 'chunked', 'an unknown-length body goes upstream chunked')
    // A body of unknown length comes back chunked; 300 000 bytes, byte-exact.
    const big = await conn.roundTrip(get('/source/300000'))
    assert.equal(big.status, 200)
    assert.equal(big.headers['transfer-encoding'], 'chunked')
    assert.equal(big.headers['content-length'], undefined)
    assert.equal(big.body.length, 300_000)
    assert.equal(crypto.createHash('sha256').update(big.body).digest('hex'), patternDigest(300_000))
    conn.destroy()
  })

  it('Expect: 100-continue gets 100 Continue before the body is sent', T, async () => {
    const conn = await RawHttpConnection.open(ports.http_in!)
    conn.write('POST /continue HTTP/1.1\r\nHost: codec.test\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n')
    const interim = await within(conn.readResponse(), 5000, '100 Continue')
    assert.equal(interim.statusLine, 'HTTP/1.1 100 Continue')
    assert.equal(interim.body.length, 0)
    conn.write('payload')
    const r = await within(conn.readResponse(), 5000, 'final response')
    assert.equal(r.status, 200, 'exactly one 100 came before the final response')
    const e = JSON.parse(r.body.toString()) as { body: string; headers: Record<string, string> }
    assert.equal(e.body, 'payload')
    assert.equal(e.headers.expect, undefined, 'the proxy answered the expectation itself')
    conn.destroy()
  })

  it('HTTP/1.0 is rejected by default with 426', T, async () => {
    const before = await statValue(envoy, 'http.codec.downstream_cx_protocol_error')
    const conn = await RawHttpConnection.open(ports.http_in!)
    conn.write('GET /ten HTTP/1.0\r\nHost: codec.test\r\n\r\n')
    const r = await within(conn.readResponse(), 5000, '426')
    assert.equal(r.status, 426)
    assert.equal(r.body.toString(), 'Upgrade Required')
    assert.equal(r.headers.connection, 'close')
    await within(conn.closed, 3000, 'close after 426')
    assert.equal((await accessLogOf(conn)).details, 'low_version')
    await waitForStat(envoy, 'http.codec.downstream_cx_protocol_error', (v) => v === before + 1)
    assert.ok(!upstream.heads.includes('GET /ten'))
  })

  it('HTTP/1.0 is served with accept_http_10', T, async () => {
    const conn = await RawHttpConnection.open(ports.http10!)
    conn.write('GET /ten HTTP/1.0\r\nHost: codec.test\r\n\r\n')
    const r = await within(conn.readResponse(), 5000, 'HTTP/1.0 response')
    assert.equal(r.statusLine, 'HTTP/1.0 200 OK')
    assert.equal(r.headers['transfer-encoding'], undefined, 'no chunked coding for HTTP/1.0')
    assert.equal((JSON.parse(r.body.toString()) as { path: string }).path, '/ten')
    await within(conn.closed, 3000, 'HTTP/1.0 without keep-alive closes')
    // A length-delimited response can keep a 1.0 connection that asked for keep-alive.
    const ka = await RawHttpConnection.open(ports.http10!)
    const first = await within(ka.roundTrip('GET /fixed/1 HTTP/1.0\r\nHost: codec.test\r\nConnection: keep-alive\r\n\r\n'), 5000, 'keep-alive 1.0')
    assert.equal(first.statusLine, 'HTTP/1.0 200 OK')
    assert.equal(first.headers.connection, 'keep-alive')
    assert.equal(first.body.toString(), 'fixed:/fixed/1')
    const second = await within(ka.roundTrip('GET /fixed/2 HTTP/1.0\r\nHost: codec.test\r\nConnection: keep-alive\r\n\r\n'), 5000, 'second 1.0 request')
    assert.equal(second.body.toString(), 'fixed:/fixed/2')
    // A close-delimited one cannot.
    const last = await within(ka.roundTrip('GET /source/100 HTTP/1.0\r\nHost: codec.test\r\nConnection: keep-alive\r\n\r\n'), 5000, 'third 1.0 request')
    assert.equal(last.headers.connection, 'close')
    assert.equal(last.body.length, 100)
    await within(ka.closed, 3000, 'close after a close-delimited body')
    ka.destroy()
  })

  it('trailers pass both ways with enable_trailers, and are dropped without it', T, async () => {
    const conn = await RawHttpConnection.open(ports.trailers!)
    const r = await conn.roundTrip(
      'POST /t HTTP/1.1\r\nHost: codec.test\r\nTransfer-Encoding: chunked\r\nTrailer: x-req-trailer\r\n\r\n' +
      '3\r\nabc\r\n0\r\nx-req-trailer: from-client\r\n\r\n')
    assert.equal(r.status, 200)
    const e = JSON.parse(r.body.toString()) as { body: string; trailers: Record<string, string> }
    assert.equal(e.body, 'abc')
    assert.deepEqual(e.trailers, { 'x-req-trailer': 'from-client' })
    const resp = await conn.roundTrip(get('/source-trailers'))
    assert.equal(resp.status, 200)
    assert.equal(resp.body.length, 1000)
    assert.deepEqual(resp.trailers, { 'x-resp-trailer': 'from-upstream' })
    conn.destroy()

    const plain = await RawHttpConnection.open(ports.http_in!)
    const p = await plain.roundTrip(
      'POST /t HTTP/1.1\r\nHost: codec.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-req-trailer: from-client\r\n\r\n')
    assert.equal(p.status, 200)
    const pe = JSON.parse(p.body.toString()) as { body: string; trailers: Record<string, string> }
    assert.equal(pe.body, 'abc')
    assert.deepEqual(pe.trailers, {})
    const pr = await plain.roundTrip(get('/source-trailers'))
    assert.equal(pr.body.length, 1000)
    assert.deepEqual(pr.trailers, {})
    plain.destroy()
  })

  describe('request smuggling and malformed requests', () => {
    interface Vector {
      name: string
      listener: 'http_in' | 'limits'
      request: string
      status: number
      details: string
      /** Extra stat that must count the rejection. */
      stat?: string
    }
    const host = 'Host: codec.test\r\n'
    const vectors: Vector[] = [
      {
        name: 'Content-Length and Transfer-Encoding together',
        listener: 'http_in',
        request: `POST /v HTTP/1.1\r\n${host}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        status: 400,
        details: 'http1.content_length_and_chunked_not_allowed',
      },
      {
        name: 'two differing Content-Length headers',
        listener: 'http_in',
        request: `POST /v HTTP/1.1\r\n${host}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'Content-Length with a comma list',
        listener: 'http_in',
        request: `POST /v HTTP/1.1\r\n${host}Content-Length: 3, 4\r\n\r\nabcd`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'a bad chunk size',
        listener: 'http_in',
        request: `POST /v HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'a 60,000-byte chunk extension',
        listener: 'http_in',
        request: `POST /v HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n5;x=${'a'.repeat(60_000)}\r\nhello\r\n0\r\n\r\n`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'short chunk extensions adding up past max_request_headers_kb',
        listener: 'limits',
        request: `POST /v HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n${`1;e=${'b'.repeat(200)}\r\nz\r\n`.repeat(8)}0\r\n\r\n`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'obs-fold (a continuation line)',
        listener: 'http_in',
        request: `GET /v HTTP/1.1\r\n${host}X-Folded: a\r\n  b\r\n\r\n`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'a bare LF ending a header line',
        listener: 'http_in',
        request: `GET /v HTTP/1.1\r\n${host}X-A: 1\nX-B: 2\r\n\r\n`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'a bare CR inside a header value',
        listener: 'http_in',
        request: `GET /v HTTP/1.1\r\n${host}X-A: 1\rX-B: 2\r\n\r\n`,
        status: 400,
        details: 'http1.invalid_characters',
      },
      {
        name: 'an invalid character in a header name',
        listener: 'http_in',
        request: `GET /v HTTP/1.1\r\n${host}X(bad): 1\r\n\r\n`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'NUL in a header value',
        listener: 'http_in',
        request: `GET /v HTTP/1.1\r\n${host}X-A: a\0b\r\n\r\n`,
        status: 400,
        details: 'http1.invalid_characters',
      },
      {
        name: 'whitespace between a header name and the colon',
        listener: 'http_in',
        request: `POST /v HTTP/1.1\r\n${host}Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        // Envoy only understands `chunked` alone and answers anything else 501 Not Implemented.
        name: 'Transfer-Encoding: gzip, chunked',
        listener: 'http_in',
        request: `POST /v HTTP/1.1\r\n${host}Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
        status: 501,
        details: 'http1.invalid_transfer_encoding',
      },
      {
        name: 'Transfer-Encoding: chunked, identity',
        listener: 'http_in',
        request: `POST /v HTTP/1.1\r\n${host}Transfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
        status: 501,
        details: 'http1.invalid_transfer_encoding',
      },
      {
        name: 'two Host headers',
        listener: 'http_in',
        request: `GET /v HTTP/1.1\r\n${host}Host: other.test\r\n\r\n`,
        status: 400,
        details: 'http1.codec_error',
      },
      {
        name: 'headers over max_request_headers_kb',
        listener: 'limits',
        request: `GET /v HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(1100)}\r\n\r\n`,
        status: 431,
        details: 'http1.headers_too_large',
      },
      {
        name: 'more headers than max_headers_count',
        listener: 'limits',
        request: `GET /v HTTP/1.1\r\n${host}${Array.from({ length: 11 }, (_, i) => `X-H${i}: ${i}\r\n`).join('')}\r\n`,
        status: 431,
        details: 'http1.too_many_headers',
      },
      {
        name: 'an underscore in a header name with headers_with_underscores_action REJECT_REQUEST',
        listener: 'limits',
        request: `GET /v HTTP/1.1\r\n${host}X_Under: 1\r\n\r\n`,
        status: 400,
        details: 'http1.unexpected_underscore',
        stat: 'http1.requests_rejected_with_underscores_in_headers',
      },
    ]

    for (const [i, v] of vectors.entries()) {
      it(`${v.name} → ${v.status}, close, counted; the request behind it never reaches the upstream`, T, async () => {
        const prefix = v.listener === 'http_in' ? 'codec' : 'limits'
        const errBefore = await statValue(envoy, `http.${prefix}.downstream_cx_protocol_error`)
        const extraBefore = v.stat !== undefined ? await statValue(envoy, v.stat) : 0
        const conn = await RawHttpConnection.open(ports[v.listener]!)
        const smuggled = `/smuggled/${i}`
        // The malformed request and a well-formed one behind it, in one write.
        conn.write(v.request + get(smuggled))
        const r = await within(conn.readResponse(), 5000, 'the error response')
        assert.equal(r.status, v.status, r.raw.toString('latin1'))
        assert.equal(r.headers.connection, 'close')
        await within(conn.closed, 3000, 'the proxy closes the connection')
        assert.equal(conn.pending.length, 0, `nothing after the error response: ${JSON.stringify(conn.pending.toString('latin1'))}`)
        const line = await accessLogOf(conn)
        assert.equal(line.details, v.details)
        assert.equal(line.code, v.status)
        await waitForStat(envoy, `http.${prefix}.downstream_cx_protocol_error`, (n) => n === errBefore + 1)
        if (v.stat !== undefined) assert.equal(await statValue(envoy, v.stat), extraBefore + 1)
        assert.ok(!upstream.heads.some((h) => h.endsWith(smuggled)), 'the pipelined request was never forwarded')
      })
    }

    it('an upstream response with a 60,000-byte chunk extension is refused and counted, never relayed whole', T, async () => {
      const cxErr = await statValue(envoy, 'cluster.backend.upstream_cx_protocol_error')
      const codecErr = await statValue(envoy, 'cluster.backend.http1.protocol_error')
      const conn = await RawHttpConnection.open(ports.http_in!)
      conn.write(get('/bad-chunk-ext'))
      // The head was already relayed when the bad chunk line came: the downstream is reset (Envoy).
      await within(conn.closed, 5000, 'the proxy resets the downstream')
      const raw = conn.pending.toString('latin1')
      assert.ok(!raw.includes('hello'), 'the chunk behind the bad line never reached the client')
      assert.ok(!raw.endsWith('0\r\n\r\n'), 'the client never got a complete response')
      await waitForStat(envoy, 'cluster.backend.upstream_cx_protocol_error', (n) => n === cxErr + 1)
      assert.equal(await statValue(envoy, 'cluster.backend.http1.protocol_error'), codecErr + 1)
    })

    it('small chunk extensions are still accepted', T, async () => {
      const conn = await RawHttpConnection.open(ports.http_in!)
      const r = await conn.roundTrip(`POST /ext-ok HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n`)
      assert.equal(r.status, 200)
      assert.equal((JSON.parse(r.body.toString()) as { body: string }).body, 'hello')
      conn.destroy()
    })

    it('none of the malformed requests was forwarded whole', T, () => {
      assert.ok(!upstream.seen.some((s) => s.path === '/v'), JSON.stringify(upstream.heads))
    })
  })
})
