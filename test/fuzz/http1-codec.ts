/**
 * The HTTP/1 codec fuzz target (Envoy's codec_impl_fuzz_test, end to end): mutated requests
 * over real sockets into the real binary's HTTP connection manager, routed to a real upstream.
 * Each case is one downstream connection: one to four pipelined requests built from valid ones
 * (methods, targets, header names and values with odd bytes, huge lines within bounds,
 * Content-Length / Transfer-Encoding combinations, chunked bodies with extensions and trailers),
 * sometimes byte-mutated or truncated, written in random pieces and then half-closed.
 *
 * Checks per case: the process is alive; what came back is a sequence of well-formed HTTP/1.1
 * responses (status line, header lines, framing) and no more of them than requests sent; a chunk
 * extension longer than the header limit is not accepted; the upstream never receives a request
 * it cannot parse. Every 50 cases: no fatal log line, no worker restart, RSS bounded.
 */
import http from 'node:http'
import net from 'node:net'
import { mutateBytes, ODD_BYTES, splitBytes } from './lib/mutate.js'
import type { Prng } from './lib/prng.js'
import { FuzzProxy } from './lib/proxy.js'
import { parseResponses } from './lib/http1-response.js'
import type { FuzzHarness, FuzzTarget } from './lib/runner.js'

export interface Http1Input {
  /** The bytes written, in pieces (base64). */
  writes: string[]
  /** Requests generated (before any byte mutation). */
  requests: number
  /** Indexes of requests that are HEAD (their answers carry no body), or null when mutation may have made one. */
  head: number[] | null
  /** Index of an unmutated request whose header block and chunk extension together pass the header limit, or -1. */
  bigChunkExtAt: number
}

/**
 * Envoy's default max_request_headers_kb (60 KiB). Chunk extensions count against the header
 * limit (as llhttp-based servers count them), so a header block plus an extension over it must
 * not be accepted.
 */
const HEADER_LIMIT = 60 * 1024
const CASE_TIMEOUT_MS = 10_000
/** Quiet time after which the client gives up waiting for more answers and half-closes. */
const IDLE_MS = 150
const GRACE_MS = 10

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']
const ODD_METHODS = ['get', 'G ET', 'GET\0', 'FOO', '', 'X'.repeat(200), 'TRACE', 'CONNECT', 'PRI', 'M-SEARCH', 'GET\t']
const HEADER_NAMES = ['accept', 'user-agent', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'cookie', 'content-type', 'te', 'via',
  'x-envoy-upstream-rq-timeout-ms', 'x-envoy-retry-on', 'x-envoy-max-retries', 'x-envoy-original-path', 'expect', 'upgrade', 'proxy-connection',
  'keep-alive', 'forwarded', 'authorization', 'x-a', 'x_underscore', 'range', 'if-none-match', 'trailer']
const ODD_NAMES = ['x a', 'x:a', ' x', 'x ', '', 'x\u0080', 'x\u00ff', 'x\u0000', 'x\ty', '(x)', 'x"', 'x\\', 'x@', '\u0001', 'transfer-encoding ', 'content-length\t']

function oddByteString(rng: Prng, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += rng.chance(0.2) ? String.fromCharCode(rng.pick(ODD_BYTES)) : rng.string(1, 'abcxyz0189=;,/ ')
  return s
}

function headerValue(rng: Prng): string {
  return rng.weighted<() => string>([
    [6, () => rng.string(rng.range(0, 24))],
    [2, () => oddByteString(rng, rng.range(1, 24))],
    [1, () => 'v'.repeat(rng.pick([4096, 8192, 16384, 40000]))],
    [1, () => rng.pick(['', ' ', '\t', ' padded ', '\u00e9', '\u00ff\u0080', 'a\rb', 'a\nb'])],
  ])()
}

interface Built {
  bytes: Buffer
  head: boolean
  /** Header block plus the longest chunk extension (0 without one). */
  chunkExt: number
}

function buildRequest(rng: Prng, last: boolean): Built {
  const method = rng.chance(0.9) ? rng.pick(METHODS) : rng.pick(ODD_METHODS)
  const path = rng.weighted<() => string>([
    [6, () => `/p/${rng.string(rng.range(0, 12))}`],
    [2, () => `/chunked/${rng.string(4)}?q=${rng.string(4)}`],
    [1, () => '/empty'],
    [1, () => `/p/${'a'.repeat(rng.pick([2048, 8192, 16000]))}`],
    [1, () => rng.pick(['*', 'http://example.com/abs', '//x', '/../../etc', '/%00', '/a b', '', '/p?x=\u00ff', '/p#frag', '/\u0001'])],
  ])()
  const version = rng.chance(0.92) ? 'HTTP/1.1' : rng.pick(['HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 ', 'HTTP/1', '', 'HTTP/01.1'])
  const eol = (): string => (rng.chance(0.97) ? '\r\n' : rng.pick(['\n', '\r', '\r\r\n', '\n\r']))
  const lines: string[] = [`${method} ${path} ${version}`]
  if (rng.chance(0.95)) lines.push(`host: ${rng.chance(0.9) ? 'fuzz.local' : headerValue(rng)}`)
  if (rng.chance(0.05)) lines.push('host: second.local')
  const extra = rng.weighted([[6, rng.range(0, 3)], [2, rng.range(4, 20)], [1, rng.range(50, 150)]])
  for (let i = 0; i < extra; i++) {
    const name = rng.chance(0.9) ? rng.pick(HEADER_NAMES) : rng.pick(ODD_NAMES)
    lines.push(`${name}:${rng.chance(0.9) ? ' ' : rng.pick(['', '  ', '\t'])}${headerValue(rng)}`)
    if (rng.chance(0.02)) lines.push(` folded ${rng.string(3)}`)
  }
  if (last && rng.chance(0.3)) lines.push('connection: close')
  else if (rng.chance(0.05)) lines.push(`connection: ${rng.pick(['keep-alive', 'upgrade', 'close, te', 'foo'])}`)

  // Body and framing.
  const bodyLen = rng.weighted([[5, rng.range(0, 64)], [2, rng.range(65, 4096)], [1, rng.range(4097, 131072)]])
  const body: Buffer = Buffer.alloc(bodyLen, "b")
  const framing = rng.weighted([[4, 'none'], [4, 'cl'], [4, 'chunked'], [1, 'cl+te'], [1, 'dup-cl'], [1, 'odd-cl'], [1, 'odd-te']] as const)
  let chunkExt = 0
  let bodyBytes: Buffer = Buffer.alloc(0)
  const chunked = (): Buffer => {
    const parts: Buffer[] = []
    let off = 0
    while (off < body.length) {
      const n = Math.min(body.length - off, rng.range(1, 8192))
      let ext = ''
      if (rng.chance(0.2)) {
        const size = rng.weighted([[6, rng.range(1, 40)], [1, 4096], [1, 60_000], [1, 70_000], [1, 200_000]])
        chunkExt = Math.max(chunkExt, size)
        ext = `;${'e'.repeat(Math.max(1, size - 3))}=${rng.chance(0.5) ? 'v' : '"q"'}`
      }
      const sizeText = rng.chance(0.95) ? n.toString(16) : rng.pick([`0${n.toString(16)}`, `${n.toString(16).toUpperCase()}`, ` ${n.toString(16)}`, `${n.toString(16)} `, `0x${n.toString(16)}`, `+${n.toString(16)}`])
      parts.push(Buffer.from(`${sizeText}${ext}\r\n`), body.subarray(off, off + n), Buffer.from('\r\n'))
      off += n
    }
    parts.push(Buffer.from(rng.chance(0.9) ? '0\r\n' : rng.pick(['0;last=1\r\n', '00000000000000000\r\n', '0\n'])))
    if (rng.chance(0.1)) parts.push(Buffer.from(`x-trailer: ${headerValue(rng)}\r\n`))
    parts.push(Buffer.from('\r\n'))
    return Buffer.concat(parts)
  }
  switch (framing) {
    case 'none': if (bodyLen > 0 && rng.chance(0.5)) bodyBytes = body; break
    case 'cl': lines.push(`content-length: ${bodyLen}`); bodyBytes = body; break
    case 'chunked': lines.push('transfer-encoding: chunked'); bodyBytes = chunked(); break
    case 'cl+te': lines.push(`content-length: ${bodyLen}`, 'transfer-encoding: chunked'); bodyBytes = chunked(); break
    case 'dup-cl': lines.push(`content-length: ${bodyLen}`, `content-length: ${rng.chance(0.5) ? bodyLen : bodyLen + 1}`); bodyBytes = body; break
    case 'odd-cl':
      lines.push(`content-length: ${rng.pick([` ${bodyLen}`, `+${bodyLen}`, `0x${bodyLen.toString(16)}`, `${bodyLen},${bodyLen}`, '-1', '99999999999999999999', `${bodyLen} ${bodyLen}`, '', `${bodyLen}\u0000`])}`)
      bodyBytes = body
      break
    default:
      lines.push(`transfer-encoding: ${rng.pick(['Chunked', 'chunked, chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'chunked ', ' chunked', 'x-chunked', 'chunked;q=1', 'chu\u0000nked'])}`)
      bodyBytes = chunked()
  }
  const headText = lines.map((l) => l + eol()).join('') + '\r\n'
  return { bytes: Buffer.concat([Buffer.from(headText, 'latin1'), bodyBytes]), head: method === 'HEAD', chunkExt: chunkExt === 0 ? 0 : chunkExt + headText.length }
}

const req = (s: string): string => Buffer.from(s, 'latin1').toString('base64')
/**
 * Cases 0..n-1 of every seed: one of each shape, so that a short slice always covers them (a
 * valid request of each framing, pipelining, HEAD, and a chunk extension over the header limit
 * arriving in one piece).
 */
const DIRECTED: readonly Http1Input[] = [
  { writes: [req('GET /p/a HTTP/1.1\r\nhost: fuzz.local\r\n\r\n')], requests: 1, head: [], bigChunkExtAt: -1 },
  { writes: [req('POST /p/b HTTP/1.1\r\nhost: fuzz.local\r\ncontent-length: 5\r\n\r\nhello')], requests: 1, head: [], bigChunkExtAt: -1 },
  { writes: [req('POST /chunked/c HTTP/1.1\r\nhost: fuzz.local\r\ntransfer-encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nx-t: 1\r\n\r\n')], requests: 1, head: [], bigChunkExtAt: -1 },
  {
    writes: [req(`POST /p/ext HTTP/1.1\r\nhost: fuzz.local\r\nx-pad: ${'p'.repeat(2000)}\r\ntransfer-encoding: chunked\r\n\r\n`), req(`5;${'e'.repeat(60_000)}=v\r\nhello\r\n0\r\n\r\n`)],
    requests: 1,
    head: [],
    bigChunkExtAt: 0,
  },
  { writes: [req('GET /p/1 HTTP/1.1\r\nhost: a\r\n\r\nHEAD /p/2 HTTP/1.1\r\nhost: a\r\n\r\nGET /empty HTTP/1.1\r\nhost: a\r\n\r\nGET /direct HTTP/1.1\r\nhost: a\r\n\r\n')], requests: 4, head: [1], bigChunkExtAt: -1 },
]

function generate(rng: Prng, index: number): Http1Input {
  if (index < DIRECTED.length) return DIRECTED[index]!
  const n = rng.weighted([[6, 1], [2, 2], [1, 3], [1, 4]])
  const built = Array.from({ length: n }, (_, i) => buildRequest(rng, i === n - 1))
  let bytes: Buffer = Buffer.concat(built.map((b) => b.bytes))
  const mutated = rng.chance(0.25)
  if (mutated) bytes = mutateBytes(rng, bytes)
  const truncated = rng.chance(0.08)
  if (truncated) bytes = bytes.subarray(0, rng.int(bytes.length))
  const big = built.findIndex((b) => b.chunkExt > HEADER_LIMIT)
  return {
    writes: splitBytes(rng, bytes).map((b) => b.toString('base64')),
    requests: n,
    head: mutated ? null : built.flatMap((b, i) => (b.head ? [i] : [])),
    bigChunkExtAt: mutated || truncated ? -1 : big,
  }
}

function upstreamServer(onParseError: (code: string) => void): Promise<http.Server> {
  const server = http.createServer({ maxHeaderSize: 256 * 1024, requireHostHeader: false, keepAliveTimeout: 30_000 }, (req, res) => {
    let n = 0
    req.on('data', (c: Buffer) => { n += c.length })
    req.on('end', () => {
      const body = JSON.stringify({ m: req.method, u: req.url?.slice(0, 64), n })
      if (req.url?.startsWith('/empty') === true) {
        res.writeHead(204).end()
      } else if (req.url?.startsWith('/chunked') === true) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write(body.slice(0, 5))
        res.end(body.slice(5))
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
      }
    })
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    // A request the upstream cannot parse was produced by the proxy's encoder. A connection the
    // proxy cut mid-request (its client went away) ends with an EOF error, which is fine.
    // Node's llhttp also knows only a fixed list of methods (a token like FOO is a valid method
    // the proxy may forward) and takes PRI for the HTTP/2 preface: those are the upstream's limits.
    const code = err.code ?? ''
    const upstreamLimit = code === 'HPE_INVALID_EOF_STATE' || code === 'HPE_INVALID_METHOD' || /Connection Preface/.test(err.message)
    if (code.startsWith('HPE_') && !upstreamLimit) onParseError(`${code}: ${err.message}`)
    socket.destroy()
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

function bootstrap(upstreamPort: number): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: fuzz
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - { match: { prefix: "/direct" }, direct_response: { status: 200, body: { inline_string: direct } } }
              - { match: { prefix: "/" }, route: { cluster: upstream, timeout: 5s } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } } }] }]
`
}

/**
 * Writes the pieces and collects what comes back. A downstream FIN makes the proxy reset its
 * streams (Envoy's HTTP/1 behaviour), so the client half-closes only once every request has
 * its answer, or when nothing arrived for IDLE_MS (the proxy waits for bytes that will not
 * come); then it reads until the proxy closes, at most CASE_TIMEOUT_MS.
 */
function exchange(port: number, writes: Buffer[], requests: number, head: ReadonlySet<number> | 'unknown'): Promise<{ data: Buffer; error?: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    const chunks: Buffer[] = []
    let error: string | undefined
    let timedOut = false
    let ended = false
    let written = false
    let idle: NodeJS.Timeout | undefined
    const timer = setTimeout(() => { timedOut = true; s.destroy() }, CASE_TIMEOUT_MS)
    const finish = (): void => {
      clearTimeout(idle)
      if (!ended && !s.destroyed) {
        ended = true
        s.end()
      }
    }
    const armIdle = (ms = IDLE_MS): void => {
      clearTimeout(idle)
      if (written && !ended) idle = setTimeout(finish, ms)
    }
    s.on('connect', () => {
      void (async () => {
        for (const w of writes) {
          if (s.destroyed) return
          s.write(w)
          // Let the proxy read each piece on its own.
          await new Promise((r) => setImmediate(r))
        }
        written = true
        armIdle()
      })()
    })
    s.on('data', (c: Buffer) => {
      chunks.push(c)
      const parsed = parseResponses(Buffer.concat(chunks), head)
      const finals = parsed.responses.filter((x) => x.status >= 200).length
      // Every request answered: a short grace for anything extra, then half-close.
      armIdle(parsed.error === undefined && finals >= requests ? GRACE_MS : IDLE_MS)
    })
    // The proxy's FIN ends the answer (it half-closes after `connection: close`).
    s.on('end', finish)
    s.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message })
    s.on('close', () => {
      clearTimeout(timer)
      clearTimeout(idle)
      resolve({ data: Buffer.concat(chunks), timedOut, ...(error !== undefined ? { error } : {}) })
    })
  })
}

async function start(): Promise<FuzzHarness<Http1Input>> {
  const upstreamErrors: string[] = []
  const upstream = await upstreamServer((e) => upstreamErrors.push(e))
  let proxy: FuzzProxy
  try {
    proxy = await FuzzProxy.start({ config: bootstrap((upstream.address() as net.AddressInfo).port) })
  } catch (err) {
    upstream.close()
    throw err
  }
  const port = await proxy.port('http')
  return {
    async run(input) {
      upstreamErrors.length = 0
      const head = input.head === null ? 'unknown' as const : new Set(input.head)
      const r = await exchange(port, input.writes.map((w) => Buffer.from(w, 'base64')), input.requests, head)
      if (!proxy.alive() || (r.error !== undefined && await proxy.exitedWithin(500))) return proxy.deathNote()
      if (r.timedOut) return `the proxy neither answered nor closed the connection within ${CASE_TIMEOUT_MS} ms (got ${r.data.length} bytes)`
      const parsed = parseResponses(r.data, head)
      if (parsed.error !== undefined) return `malformed answer${r.error !== undefined ? ` (connection ${r.error})` : ''}: ${parsed.error}`
      const finals = parsed.responses.filter((x) => x.status >= 200)
      if (finals.length > input.requests + 1) return `${finals.length} responses to ${input.requests} requests`
      if (input.bigChunkExtAt >= 0) {
        const s = finals[input.bigChunkExtAt]?.status
        if (s !== undefined && s < 300) return `a header block plus chunk extension over the ${HEADER_LIMIT}-byte header limit was accepted (request ${input.bigChunkExtAt} answered ${s})`
      }
      if (upstreamErrors.length > 0) return `the upstream could not parse what the proxy sent: ${upstreamErrors[0]}`
      return undefined
    },
    check: () => proxy.check(),
    broken: () => !proxy.alive(),
    peakRssBytes: () => proxy.peakRssBytes(),
    async stop() {
      await proxy.stop()
      upstream.closeAllConnections()
      await new Promise<void>((r) => upstream.close(() => r()))
    },
  }
}

export const http1CodecTarget: FuzzTarget<Http1Input> = {
  name: 'http1-codec',
  about: 'mutated HTTP/1.1 requests through the HTTP connection manager to a real upstream',
  generate,
  start,
}
