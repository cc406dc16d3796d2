/**
 * Loopback upstreams for the health, outlier and priority tests: each answers with its own name
 * so a client learns which host the proxy picked, can fail its health check while still serving
 * traffic (or the other way round), and can go down and come back on the same port.
 */
import http from 'node:http'
import net from 'node:net'
import type { EnvoyProcess } from './envoy-process.js'
import { request } from './http-client.js'

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** An HTTP upstream: `GET /healthz` answers `healthStatus`; anything else `dataStatus` with the name as body. */
export class HttpBackend {
  readonly name: string
  port = 0
  healthStatus = 200
  dataStatus = 200
  /** Extra headers on data responses. */
  dataHeaders: Record<string, string> = {}
  served = 0
  private server: http.Server | undefined
  private readonly sockets = new Set<net.Socket>()

  constructor(name: string) {
    this.name = name
  }

  /** Listens (again) on its port, or a new one the first time. */
  async start(): Promise<this> {
    const server = http.createServer((req, res) => {
      if (req.url === '/healthz') {
        res.statusCode = this.healthStatus
        res.end('ok')
        return
      }
      this.served++
      res.statusCode = this.dataStatus
      for (const [k, v] of Object.entries(this.dataHeaders)) res.setHeader(k, v)
      res.end(this.name)
    })
    server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve))
    this.port = (server.address() as net.AddressInfo).port
    this.server = server
    return this
  }

  /** Goes down: stops listening and drops every connection (checks and traffic get refused). */
  async stop(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    for (const s of this.sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  }
}

export async function httpBackends(...names: string[]): Promise<HttpBackend[]> {
  return Promise.all(names.map((n) => new HttpBackend(n).start()))
}

/**
 * A TCP upstream for tcp_health_check payloads: a chunk `PING` is answered `PONG` while
 * `healthy`, `NOPE` otherwise; any other data is answered with the name.
 */
export class TcpBackend {
  readonly name: string
  port = 0
  healthy = true
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()

  constructor(name: string) {
    this.name = name
    this.server = net.createServer((s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
      s.on('error', () => {})
      s.on('data', (d) => s.write(d.toString() === 'PING' ? (this.healthy ? 'PONG' : 'NOPE') : this.name))
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this
  }

  /** Stops listening and drops every connection (the proxy's health check connection included). */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/** One request through the proxy on a fresh connection; resolves with the body (the backend's name) and status. */
export async function via(port: number, path = '/'): Promise<{ status: number; body: string }> {
  const r = await request(`http://127.0.0.1:${port}${path}`)
  return { status: r.status, body: r.body }
}

/** `n` requests (`batch` at a time); counts per response body. */
export async function distribution(port: number, n: number, batch = 20): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (let done = 0; done < n; done += batch) {
    const rs = await Promise.all(Array.from({ length: Math.min(batch, n - done) }, () => via(port)))
    for (const r of rs) counts.set(r.body, (counts.get(r.body) ?? 0) + 1)
  }
  return counts
}

/** One tcp_proxy round trip: sends `hello`, resolves with the upstream's reply (its name), '' if closed first. */
export function tcpPick(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('hello'))
    s.once('data', (d) => { resolve(d.toString()); s.destroy() })
    s.once('close', () => resolve(''))
    s.once('error', reject)
  })
}

/** `/clusters` text as `host → { key: value }` for one cluster. */
export async function clusterHosts(envoy: EnvoyProcess, cluster: string): Promise<Map<string, Record<string, string>>> {
  const text = (await request(`${envoy.adminUrl}/clusters`)).body
  const out = new Map<string, Record<string, string>>()
  for (const line of text.split('\n')) {
    const parts = line.split('::')
    if (parts[0] !== cluster || parts.length !== 4) continue
    const [, host, key, value] = parts as [string, string, string, string]
    if (!out.has(host)) out.set(host, {})
    out.get(host)![key] = value
  }
  return out
}

/**
 * Polls `/clusters` until `pred` holds for the host at 127.0.0.1:`port` (another process: there is
 * no event to await). Resolves with the time it took.
 */
export async function waitForHost(envoy: EnvoyProcess, cluster: string, port: number, pred: (h: Record<string, string>) => boolean, timeoutMs = 10_000): Promise<number> {
  const start = Date.now()
  for (;;) {
    const h = (await clusterHosts(envoy, cluster)).get(`127.0.0.1:${port}`)
    if (h !== undefined && pred(h)) return Date.now() - start
    if (Date.now() - start > timeoutMs) throw new Error(`host 127.0.0.1:${port} never matched; last: ${JSON.stringify(h)}`)
    await sleep(20)
  }
}

export const healthy = (h: Record<string, string>): boolean => h.health_flags === 'healthy'
export const flagged = (flag: string) => (h: Record<string, string>): boolean => (h.health_flags ?? '').includes(`/${flag}`)

/** An HTTP listener `http_in` routing everything to `backend`, a tcp_proxy listener `tcp_in`, and `clusters`. */
export function proxyBootstrap(clusters: string, extra = ''): string {
  const hcm = (name: string): string => `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: backend } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${extra}
static_resources:
  listeners:${hcm('http_in')}
  - name: tcp_in
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp_in
          cluster: backend
  clusters:
${clusters}
`
}

/** `load_assignment.endpoints` YAML: one LocalityLbEndpoints per group. */
export function endpointsYaml(groups: Array<{ ports: number[]; priority?: number; zone?: string; weight?: number }>): string {
  return groups.map((g) => [
    `      - ${g.zone !== undefined ? `locality: { region: r, zone: ${g.zone} }` : 'locality: {}'}`,
    ...(g.priority !== undefined ? [`        priority: ${g.priority}`] : []),
    ...(g.weight !== undefined ? [`        load_balancing_weight: ${g.weight}`] : []),
    '        lb_endpoints:',
    ...g.ports.map((p) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`),
  ].join('\n')).join('\n')
}
