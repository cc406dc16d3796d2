import crypto from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import type { EnvoyProcess } from './envoy-process.js'

/** What the upstream saw of one request. */
export interface SeenRequest {
  /** 1-based, in arrival order (of request heads). */
  n: number
  method: string
  /** The request-target as received (`:path` after any rewrite). */
  path: string
  /** Lower-cased names; repeated headers joined by Node's rules. */
  headers: http.IncomingHttpHeaders
  /** Raw name/value pairs in wire order. */
  rawHeaders: string[]
  trailers: NodeJS.Dict<string>
  body: string
  /** The upstream connection the request came on (its remote port). */
  remotePort: number
}

/** The JSON an `echo` answer carries. */
export interface EchoBody {
  n: number
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  body: string
  trailers: NodeJS.Dict<string>
  remotePort: number
  /** The upstream's name (`opts.name`), so tests can tell upstreams apart. */
  upstream: string
}

/** How the upstream answers one request. */
export type Action =
  /** 200 (or `status`) with the request as JSON (EchoBody). */
  | { kind: 'echo'; status?: number; headers?: Record<string, string | string[]>; delayMs?: number }
  /** A fixed answer. */
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string | string[]>; delayMs?: number }
  /** Reads the request, then destroys the socket without a byte of response. */
  | { kind: 'reset-before-headers'; delayMs?: number }
  /** Destroys the socket as soon as the request head arrives (the body may still be in flight). */
  | { kind: 'reset-on-headers' }
  /** Sends the status line and headers (and `partialBody`), then destroys the socket. */
  | { kind: 'reset-after-headers'; status?: number; partialBody?: string; declaredLength?: number }
  /** Never answers (until the connection goes away). */
  | { kind: 'hang' }
  /** Streams `bytes` of the deterministic block pattern (chunked unless `contentLength`), honouring back-pressure. */
  | { kind: 'source'; bytes: number; contentLength?: boolean; trailers?: Record<string, string> }
  /** Hashes the request body as it streams (never buffers it), then answers with `{ bytes, sha256 }`; `slow` pauses reading. */
  | { kind: 'sink'; slow?: { every: number; pauseMs: number } }
  /** Full control. */
  | { kind: 'custom'; handle: (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void }

export interface HttpUpstreamOptions {
  /** Picks the action per request; `n` counts requests from 1. Default: echo. */
  behavior?: (n: number, req: http.IncomingMessage) => Action
  /** Reported in echo bodies. */
  name?: string
}

/** A deterministic 64 KiB block; streamed bodies are this block repeated, so both ends can hash them. */
export const BLOCK = Buffer.from(
  crypto.createHash('sha512').update('envoy-ts-http').digest().toString('hex').repeat(512).slice(0, 64 * 1024),
)

/** sha256 of `bytes` of the BLOCK pattern. */
export function patternDigest(bytes: number): string {
  const h = crypto.createHash('sha256')
  let left = bytes
  while (left > 0) {
    const n = Math.min(left, BLOCK.length)
    h.update(BLOCK.subarray(0, n))
    left -= n
  }
  return h.digest('hex')
}

/**
 * A real HTTP/1.1 upstream (Node's `http.createServer`) whose answer per request is chosen by
 * `behavior`. It records every request it saw and the connections it accepted.
 */
export class HttpUpstream {
  readonly server: http.Server
  readonly seen: SeenRequest[] = []
  port = 0
  /** TCP connections accepted. */
  connections = 0
  private readonly sockets = new Set<net.Socket>()
  private readonly opts: HttpUpstreamOptions
  private readonly waiters: Array<{ count: number; resolve: () => void }> = []
  /** Request heads received (counts requests the upstream reset or never answered, too). */
  requestCount = 0
  /** `method path` of every request head received, in order (complete or not). */
  readonly heads: string[] = []

  constructor(opts: HttpUpstreamOptions = {}) {
    this.opts = opts
    this.server = http.createServer({ keepAliveTimeout: 30_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => this.onRequest(req, res))
    this.server.on('connection', (s: net.Socket) => {
      this.connections++
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    // A reset from the proxy is part of the tests; never let it crash the runner.
    this.server.on('clientError', (_err, s: net.Socket) => s.destroy())
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this
  }

  /** Resolves once `count` request heads have arrived. */
  waitForRequests(count: number): Promise<void> {
    if (this.requestCount >= count) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ count, resolve }))
  }

  /** The last request seen whole (throws if none). */
  last(): SeenRequest {
    const r = this.seen[this.seen.length - 1]
    if (r === undefined) throw new Error('the upstream saw no request')
    return r
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const n = ++this.requestCount
    this.heads.push(`${req.method} ${req.url}`)
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.requestCount >= this.waiters[i]!.count) this.waiters.splice(i, 1)[0]!.resolve()
    }
    req.on('error', () => {})
    res.on('error', () => {})
    const action = this.opts.behavior?.(n, req) ?? { kind: 'echo' }
    const seen: SeenRequest = {
      n, method: req.method ?? '', path: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders,
      trailers: {}, body: '', remotePort: req.socket.remotePort ?? 0,
    }
    switch (action.kind) {
      case 'reset-on-headers':
        this.seen.push(seen)
        req.socket.destroy()
        return
      case 'hang':
        this.seen.push(seen)
        req.resume()
        return
      case 'custom':
        this.seen.push(seen)
        action.handle(req, res, seen)
        return
      case 'sink': {
        const hash = crypto.createHash('sha256')
        let bytes = 0
        let sincePause = 0
        const slow = action.slow
        req.on('data', (c: Buffer) => {
          hash.update(c)
          bytes += c.length
          sincePause += c.length
          if (slow !== undefined && sincePause >= slow.every) {
            sincePause = 0
            req.pause()
            setTimeout(() => req.resume(), slow.pauseMs)
          }
        })
        req.on('end', () => {
          this.seen.push(seen)
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') }))
        })
        return
      }
      case 'source':
        req.resume()
        req.on('end', () => {
          this.seen.push(seen)
          writeSource(res, action.bytes, action.contentLength === true, action.trailers)
        })
        return
      default:
        break
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.body = Buffer.concat(chunks).toString('utf8')
      seen.trailers = req.trailers
      this.seen.push(seen)
      const answer = (): void => this.answer(action, req, res, seen)
      const delay = 'delayMs' in action ? action.delayMs ?? 0 : 0
      if (delay > 0) setTimeout(answer, delay)
      else answer()
    })
  }

  private answer(action: Action, req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest): void {
    if (res.destroyed || req.socket.destroyed) return
    switch (action.kind) {
      case 'echo': {
        const body: EchoBody = {
          n: seen.n, method: seen.method, path: seen.path, headers: seen.headers, body: seen.body,
          trailers: seen.trailers, remotePort: seen.remotePort, upstream: this.opts.name ?? '',
        }
        // statusCode + setHeader (not writeHead) so that Node frames the body with Content-Length.
        res.statusCode = action.status ?? 200
        setHeaders(res, { 'content-type': 'application/json', ...action.headers })
        res.end(JSON.stringify(body))
        return
      }
      case 'status':
        res.statusCode = action.status
        setHeaders(res, action.headers ?? {})
        res.end(action.body ?? '')
        return
      case 'reset-before-headers':
        req.socket.destroy()
        return
      case 'reset-after-headers': {
        const headers: Record<string, string> = { 'content-type': 'text/plain' }
        if (action.declaredLength !== undefined) headers['content-length'] = String(action.declaredLength)
        res.writeHead(action.status ?? 200, headers)
        res.flushHeaders()
        if (action.partialBody !== undefined) res.write(action.partialBody)
        // Let the head (and partial body) reach the proxy before the connection goes.
        setImmediate(() => req.socket.destroy())
        return
      }
      default:
        return
    }
  }
}

function setHeaders(res: http.ServerResponse, headers: Record<string, string | string[]>): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
}

function writeSource(res: http.ServerResponse, total: number, contentLength: boolean, trailers?: Record<string, string>): void {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
  if (contentLength) headers['content-length'] = String(total)
  if (trailers !== undefined) headers.trailer = Object.keys(trailers).join(', ')
  res.writeHead(200, headers)
  let sent = 0
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(BLOCK.length, total - sent)
      sent += n
      if (!res.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
        res.once('drain', pump)
        return
      }
    }
    if (trailers !== undefined) res.addTrailers(trailers)
    res.end()
  }
  res.on('close', () => res.off('drain', pump))
  pump()
}

export async function startHttpUpstream(opts: HttpUpstreamOptions = {}): Promise<HttpUpstream> {
  return new HttpUpstream(opts).listen()
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const u = await startHttpUpstream()
  const port = u.port
  await u.close()
  return port
}

// ---------------------------------------------------------------------------------------------
// Bootstrap building. JSON is YAML, so bootstraps are built as objects and serialized as JSON.

export type Json = Record<string, unknown>

export interface ClusterOptions {
  /** Endpoints: ports on 127.0.0.1, or `host:port` strings. */
  endpoints: Array<number | string>
  type?: 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS'
  connectTimeout?: string
  /** Extra cluster fields (circuit_breakers, lb_policy, ...). */
  extra?: Json
}

export function cluster(name: string, o: ClusterOptions): Json {
  const lbEndpoints = o.endpoints.map((e) => {
    const [address, port] = typeof e === 'number' ? ['127.0.0.1', e] : [e.slice(0, e.lastIndexOf(':')), Number(e.slice(e.lastIndexOf(':') + 1))]
    return { endpoint: { address: { socket_address: { address, port_value: port } } } }
  })
  return {
    name,
    type: o.type ?? 'STATIC',
    connect_timeout: o.connectTimeout ?? '1s',
    ...(o.type === 'STRICT_DNS' || o.type === 'LOGICAL_DNS' ? { dns_lookup_family: 'V4_ONLY' } : {}),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: lbEndpoints }] },
    ...o.extra,
  }
}

export interface HcmListenerOptions {
  /** Listener name; default `http_in`. */
  name?: string
  /** `stat_prefix` of the HCM (stats `http.<statPrefix>.*`); default `ingress`. */
  statPrefix?: string
  /** Virtual hosts; default one `*` host routing `/` to cluster `backend`. */
  virtualHosts?: Json[]
  /** Extra `route_config` fields (request_headers_to_add, ...). */
  routeConfig?: Json
  /** Extra HttpConnectionManager fields. */
  hcm?: Json
  /** HTTP filters before the router. */
  httpFilters?: Json[]
  /** Router filter config. */
  router?: Json
  /** Extra listener fields. */
  listener?: Json
}

export interface HcmBootstrapOptions extends HcmListenerOptions {
  clusters?: Json[]
  /** More listeners (see `hcmListener`). */
  extraListeners?: Json[]
}

/** The listener's name in every bootstrap built here. */
export const HTTP_LISTENER = 'http_in'

/** One listener on 127.0.0.1:0 with an HTTP connection manager. */
export function hcmListener(o: HcmListenerOptions = {}): Json {
  const virtualHosts = o.virtualHosts ?? [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }]
  const hcm = {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: o.statPrefix ?? 'ingress',
    route_config: { name: 'local_route', virtual_hosts: virtualHosts, ...o.routeConfig },
    http_filters: [
      ...(o.httpFilters ?? []),
      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', ...o.router } },
    ],
    ...o.hcm,
  }
  return {
    name: o.name ?? HTTP_LISTENER,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] }],
    ...o.listener,
  }
}

/** A bootstrap with one HCM listener on 127.0.0.1:0 (`http_in`), any extra listeners, and admin on port 0. */
export function hcmBootstrap(o: HcmBootstrapOptions = {}): string {
  const bootstrap = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [hcmListener(o), ...(o.extraListeners ?? [])],
      clusters: o.clusters ?? [],
    },
  }
  return JSON.stringify(bootstrap, null, 1)
}

/** An access log on the process's stderr (EnvoyProcess parses JSON lines there into `logs`). */
export function stderrJsonAccessLog(fields: Record<string, string>): Json {
  return {
    name: 'envoy.access_loggers.stderr',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
      log_format: { json_format: fields },
    },
  }
}

/** Resolves with the first stdout line (past or future) that `pred` accepts. */
export function waitForStdoutLine(envoy: EnvoyProcess, pred: (line: string) => boolean, timeoutMs = 5000): Promise<string> {
  const find = (): string | undefined => envoy.stdout.split('\n').slice(0, -1).find(pred)
  const seen = find()
  if (seen !== undefined) return Promise.resolve(seen)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      envoy.child.stdout!.off('data', onData)
      reject(new Error(`no matching stdout line within ${timeoutMs} ms; stdout:\n${envoy.stdout.slice(-2000)}`))
    }, timeoutMs)
    const onData = (): void => {
      // EnvoyProcess appends to `stdout` in its own listener, registered before this one.
      const line = find()
      if (line === undefined) return
      clearTimeout(timer)
      envoy.child.stdout!.off('data', onData)
      resolve(line)
    }
    envoy.child.stdout!.on('data', onData)
  })
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1 client over one socket, for protocol-level cases.

export interface RawResponse {
  status: number
  statusLine: string
  /** Lower-cased names, in wire order. */
  headerList: Array<[string, string]>
  headers: Record<string, string>
  body: Buffer
  /** Chunked trailers, if any. */
  trailers: Record<string, string>
  /** The exact bytes of this response. */
  raw: Buffer
}

/** One client connection that writes bytes as given and parses the responses it gets back. */
export class RawHttpConnection {
  readonly socket: net.Socket
  private buf: Buffer = Buffer.alloc(0)
  private ended = false
  private wake: (() => void) | undefined
  /** Resolves when the peer has closed (FIN or RST) — never rejects. */
  readonly closed: Promise<void>
  /** An error code seen on the socket (ECONNRESET...), if any. */
  error: string | undefined

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (c: Buffer) => {
      this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c])
      this.poke()
    })
    socket.on('error', (e: NodeJS.ErrnoException) => { this.error = e.code ?? e.message })
    this.closed = new Promise((resolve) => {
      const done = (): void => {
        this.ended = true
        this.poke()
        resolve()
      }
      socket.once('end', done)
      socket.once('close', done)
    })
  }

  static async open(port: number): Promise<RawHttpConnection> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
      s.once('connect', () => resolve(s))
      s.once('error', reject)
    })
    return new RawHttpConnection(socket)
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Bytes received and not yet parsed. */
  get pending(): Buffer {
    return this.buf
  }

  /** True once the peer closed its side. */
  get peerClosed(): boolean {
    return this.ended
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** Waits until `n` unparsed bytes are available; false if the peer closed first. */
  private async need(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      if (this.ended) return false
      await new Promise<void>((resolve) => { this.wake = resolve })
    }
    return true
  }

  private async needDelimiter(delim: string, from = 0): Promise<number> {
    for (;;) {
      const i = this.buf.indexOf(delim, from, 'latin1')
      if (i >= 0) return i
      if (this.ended) return -1
      await new Promise<void>((resolve) => { this.wake = resolve })
    }
  }

  private poke(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }

  /**
   * Reads one response (a 1xx counts as one). `head: true` for a response to HEAD. Rejects if
   * the connection closes before a whole response arrived.
   */
  async readResponse(opts: { head?: boolean } = {}): Promise<RawResponse> {
    const end = await this.needDelimiter('\r\n\r\n')
    if (end < 0) throw new Error(`connection closed before a response head; got ${JSON.stringify(this.buf.toString('latin1'))}`)
    const rawParts: Buffer[] = [this.take(end + 4)]
    const lines = rawParts[0]!.toString('latin1').slice(0, end).split('\r\n')
    const statusLine = lines[0]!
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN)
    const headerList: Array<[string, string]> = lines.slice(1).map((l) => {
      const c = l.indexOf(':')
      return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()]
    })
    const headers: Record<string, string> = {}
    for (const [k, v] of headerList) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`
    const trailers: Record<string, string> = {}
    let body: Buffer = Buffer.alloc(0)
    const bodyless = opts.head === true || (status >= 100 && status < 200) || status === 204 || status === 304
    if (bodyless) {
      // no body
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = []
      for (;;) {
        const le = await this.needDelimiter('\r\n')
        if (le < 0) throw new Error('connection closed inside a chunk size')
        const sizeLine = this.take(le + 2)
        rawParts.push(sizeLine)
        const size = parseInt(sizeLine.toString('latin1'), 16)
        if (size === 0) {
          const te = await this.needDelimiter('\r\n')
          if (te < 0) throw new Error('connection closed in trailers')
          if (te > 0) {
            const tEnd = await this.needDelimiter('\r\n\r\n')
            const block = this.take(tEnd + 4)
            rawParts.push(block)
            for (const l of block.toString('latin1').split('\r\n').filter((x) => x !== '')) {
              const c = l.indexOf(':')
              trailers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim()
            }
          } else {
            rawParts.push(this.take(2))
          }
          break
        }
        if (!await this.need(size + 2)) throw new Error('connection closed inside a chunk')
        const chunk = this.take(size + 2)
        rawParts.push(chunk)
        parts.push(chunk.subarray(0, size))
      }
      body = Buffer.concat(parts)
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length'])
      if (!await this.need(n)) throw new Error(`connection closed after ${this.buf.length} of ${n} body bytes`)
      body = this.take(n)
      rawParts.push(body)
    } else {
      await this.closed
      body = this.take(this.buf.length)
      rawParts.push(body)
    }
    return { status, statusLine, headerList, headers, body, trailers, raw: Buffer.concat(rawParts) }
  }

  /** Sends `request` and reads one final response (skipping 1xx). */
  async roundTrip(request: string | Buffer, opts: { head?: boolean } = {}): Promise<RawResponse> {
    this.write(request)
    for (;;) {
      const r = await this.readResponse(opts)
      if (r.status >= 200 || r.status === 101) return r
    }
  }
}

/** Opens a connection, sends `request`, reads one final response. */
export async function rawRequest(port: number, request: string | Buffer): Promise<{ response: RawResponse; conn: RawHttpConnection }> {
  const conn = await RawHttpConnection.open(port)
  const response = await conn.roundTrip(request)
  return { response, conn }
}

// ---------------------------------------------------------------------------------------------
// A Node http client bound to a proxy port.

export interface ProxyResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  /** The body parsed as an echo (throws if it is not one). */
  echo(): EchoBody
}

/** One request to 127.0.0.1:`port` with Node's client (no pooling unless `agent` is given). */
export function send(port: number, path: string, o: {
  method?: string
  headers?: Record<string, string | string[]>
  body?: string | Buffer
  agent?: http.Agent
} = {}): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: o.headers, agent: o.agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          echo: () => {
            try {
              return JSON.parse(body) as EchoBody
            } catch {
              throw new Error(`not an echo (status ${res.statusCode}): ${body.slice(0, 300)}`)
            }
          },
        })
      })
    })
    req.on('error', reject)
    req.end(o.body)
  })
}

/** Rejects with `what` if `p` has not settled within `ms` (a guard, not a wait). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const guard = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms) })
  return Promise.race([p, guard]).finally(() => clearTimeout(timer))
}
