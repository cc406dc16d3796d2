import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { StreamInfoImpl } from '../../common/stream-info/stream-info-impl.js'
import type { StringMatch } from '../../common/matcher/string-matcher.js'
import type { AccessLogInstance } from '../../envoy/access-log/access-log.js'
import type { HeaderMapView } from '../../envoy/stream-info/stream-info.js'
import type { Instance } from '../../envoy/server/instance.js'
import { type AdminEndpoint, type AdminRequest, type AdminResponse, TEXT } from './admin-endpoint.js'
import { helpText } from './handlers/help-handler.js'

export interface AdminOptions {
  endpoints: readonly AdminEndpoint[]
  allowPaths: readonly StringMatch[]
  accessLogs: readonly AccessLogInstance[]
  log: Logger
}

function headerView(h: http.IncomingHttpHeaders | http.OutgoingHttpHeaders): HeaderMapView {
  return {
    get(name) {
      const v = h[name.toLowerCase()]
      return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : String(v)
    },
    *entries() {
      for (const [k, v] of Object.entries(h)) if (v !== undefined) yield [k, Array.isArray(v) ? v.join(',') : String(v)] as const
    },
  }
}

function formatAddress(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return ''
  return address.includes(':') ? `[${address}]:${port ?? 0}` : `${address}:${port ?? 0}`
}

/**
 * The admin endpoint (Envoy's AdminImpl): an HTTP/1.1 server on main that dispatches on the
 * exact path. Mutations need POST; `allow_paths` limits what may be asked at all.
 */
export class AdminImpl {
  private readonly server: Instance
  private readonly opts: AdminOptions
  private readonly byPath: Map<string, AdminEndpoint>
  private readonly http: http.Server
  private connectionIds = 0

  constructor(server: Instance, opts: AdminOptions) {
    this.server = server
    this.opts = opts
    this.byPath = new Map(opts.endpoints.map((e) => [e.path, e]))
    this.http = http.createServer((req, res) => void this.serve(req, res))
    this.http.keepAliveTimeout = 5000
  }

  /** Binds the admin socket; resolves with the bound address. */
  listen(target: { host: string; port: number } | { path: string }): Promise<AddressInfo | string> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject)
      const done = (): void => {
        this.http.off('error', reject)
        resolve(this.http.address() as AddressInfo | string)
      }
      if ('path' in target) this.http.listen(target.path, done)
      else this.http.listen(target.port, target.host, done)
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.http.close(() => resolve())
      this.http.closeAllConnections()
    })
  }

  endpoints(): readonly AdminEndpoint[] {
    return this.opts.endpoints
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin')
    const method = req.method ?? 'GET'
    const info = new StreamInfoImpl({
      downstreamLocalAddress: formatAddress(req.socket.localAddress, req.socket.localPort),
      downstreamRemoteAddress: formatAddress(req.socket.remoteAddress, req.socket.remotePort),
      connectionId: ++this.connectionIds,
    })
    info.protocol = `HTTP/${req.httpVersion}`
    // Access log formats address the request line as HTTP/2-style pseudo headers.
    info.requestHeaders = headerView({
      ':method': method,
      ':path': req.url ?? '/',
      ':authority': req.headers.host,
      ':scheme': 'http',
      ...req.headers,
    })
    let response: AdminResponse
    try {
      response = await this.dispatch({ method, path: url.pathname, query: url.searchParams })
    } catch (err) {
      this.opts.log.error({ err, path: url.pathname }, 'admin handler failed')
      response = { status: 500, body: `${(err as Error).message}\n` }
    }
    // Drain any request body; admin takes its input from the query string.
    req.resume()
    res.statusCode = response.status
    res.setHeader('content-type', response.contentType ?? TEXT)
    res.setHeader('cache-control', 'no-cache, max-age=0')
    res.setHeader('x-content-type-options', 'nosniff')
    for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v)
    const finish = (bytes: number): void => {
      info.responseCode = response.status
      info.bytesSent = bytes
      info.responseHeaders = headerView(res.getHeaders())
      info.endTimeMonotonic = performance.now()
      for (const l of this.opts.accessLogs) l.log(info, 'DownstreamEnd')
      response.after?.()
    }
    if (response.stream !== undefined) {
      let bytes = 0
      response.stream.on('data', (c: Buffer | string) => { bytes += c.length })
      response.stream.pipe(res)
      res.on('finish', () => finish(bytes))
      return
    }
    const body = response.body ?? ''
    res.end(body, () => finish(Buffer.byteLength(body)))
  }

  private async dispatch(req: AdminRequest): Promise<AdminResponse> {
    if (this.opts.allowPaths.length > 0 && !this.opts.allowPaths.some((m) => m(req.path))) {
      return { status: 403, body: `path ${req.path} is not allowed by admin.allow_paths\n` }
    }
    const endpoint = this.byPath.get(req.path)
    if (endpoint === undefined) {
      return { status: 404, body: `invalid path: ${req.path}\n${helpText(this.opts.endpoints)}` }
    }
    if (endpoint.mutatesState && req.method !== 'POST') {
      this.opts.log.warn({ path: req.path, method: req.method }, 'admin path mutates state; POST required')
      return { status: 400, body: `Method ${req.method} not allowed, POST required.\n` }
    }
    return endpoint.handler(req, this.server)
  }
}
