import net from 'node:net'
import type { EnvoyProcess } from './envoy-process.js'
import { request } from './http-client.js'

export interface Upstream {
  port: number
  server: net.Server
  /** Connections accepted so far. */
  accepted: number
  close(): Promise<void>
}

/**
 * A loopback upstream. By default it echoes; `greeting` is sent first on every connection, so
 * a client can tell which upstream it reached.
 */
export async function startUpstream(opts: { greeting?: string; echo?: boolean; onSocket?: (s: net.Socket) => void } = {}): Promise<Upstream> {
  const sockets = new Set<net.Socket>()
  const u = { port: 0, accepted: 0 } as Upstream
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    u.accepted++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    if (opts.greeting !== undefined) s.write(opts.greeting)
    if (opts.onSocket !== undefined) opts.onSocket(s)
    else if (opts.echo !== false) s.pipe(s)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  u.port = (server.address() as net.AddressInfo).port
  u.server = server
  u.close = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  })
  return u
}

/** Connects, writes `payload`, half-closes, and reads until the peer closes. */
export function roundTrip(port: number, payload: string | Buffer, host = '127.0.0.1'): Promise<{ data: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host, allowHalfOpen: true })
    const chunks: Buffer[] = []
    let error: string | undefined
    s.on('connect', () => s.end(payload))
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message })
    s.on('close', () => resolve({ data: Buffer.concat(chunks), ...(error !== undefined ? { error } : {}) }))
  })
}

/** Opens a connection and resolves once it is established. */
export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, allowHalfOpen: true })
    s.once('connect', () => resolve(s))
    s.once('error', reject)
  })
}

/** Reads from `s` until `n` bytes have arrived. */
export function readBytes(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let got = 0
    const onData = (c: Buffer): void => {
      chunks.push(c)
      got += c.length
      if (got >= n) {
        s.off('data', onData)
        s.off('close', onClose)
        resolve(Buffer.concat(chunks))
      }
    }
    const onClose = (): void => reject(new Error(`closed after ${got} of ${n} bytes`))
    s.on('data', onData)
    s.once('close', onClose)
  })
}

/** Resolves when the peer has closed `s` (either way). */
export function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve()
    else s.once('close', () => resolve())
  })
}

/** The bound port of a listener, from `/listeners?format=json`. */
export async function listenerPort(envoy: EnvoyProcess, name: string): Promise<number> {
  const body = JSON.parse((await request(`${envoy.adminUrl}/listeners?format=json`)).body) as {
    listener_statuses: Array<{ name: string; local_address: { socket_address?: { port_value: number } } }>
  }
  const l = body.listener_statuses.find((x) => x.name === name)
  if (l?.local_address.socket_address === undefined) throw new Error(`no listener ${name}`)
  return l.local_address.socket_address.port_value
}

/** All stats as a map (counters and gauges). */
export async function statsMap(envoy: EnvoyProcess, filter?: string): Promise<Map<string, number>> {
  const body = (await request(`${envoy.adminUrl}/stats${filter !== undefined ? `?filter=${encodeURIComponent(filter)}` : ''}`)).body
  const out = new Map<string, number>()
  for (const line of body.split('\n')) {
    const m = /^([^:]+): (-?\d+(?:\.\d+)?)$/.exec(line)
    if (m !== null) out.set(m[1]!, Number(m[2]))
  }
  return out
}

export async function statValue(envoy: EnvoyProcess, name: string): Promise<number> {
  const v = (await statsMap(envoy, `^${name.replace(/[.[\]]/g, '\\$&')}$`)).get(name)
  if (v === undefined) throw new Error(`no stat ${name}`)
  return v
}

/**
 * Waits for a stat to reach `want` (stats are updated by other threads of another process; there
 * is no event to await, so this polls briefly and gives up after `timeoutMs`).
 */
export async function waitForStat(envoy: EnvoyProcess, name: string, pred: (v: number) => boolean, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = (await statsMap(envoy, `^${name.replace(/[.[\]]/g, '\\$&')}$`)).get(name)
    if (v !== undefined && pred(v)) return v
    if (Date.now() > deadline) throw new Error(`stat ${name} = ${v} did not reach the expected value`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** A TCP proxy listener + cluster bootstrap on ephemeral ports. */
export function tcpProxyConfig(o: {
  upstreamPorts: number[]
  lbPolicy?: string
  listenerExtra?: string
  clusterExtra?: string
  tcpProxyExtra?: string
  clusterType?: string
  host?: string
}): string {
  const endpoints = o.upstreamPorts
    .map((p) => `        - endpoint: { address: { socket_address: { address: ${o.host ?? '127.0.0.1'}, port_value: ${p} } } }`)
    .join('\n')
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: tcp_in
    stat_prefix: tcp_in
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${o.listenerExtra ?? ''}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp_in
          cluster: backend
${o.tcpProxyExtra ?? ''}
  clusters:
  - name: backend
    type: ${o.clusterType ?? 'STATIC'}
    connect_timeout: 1s
    lb_policy: ${o.lbPolicy ?? 'ROUND_ROBIN'}
${o.clusterExtra ?? ''}
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
${endpoints}
`
}

/**
 * A port whose SYNs are dropped, so connects to it time out: a listener with backlog 0 that
 * never accepts, its one queue slot already taken (python3, since Node always accepts).
 */
export async function startBlackHole(): Promise<{ port: number; close(): void }> {
  const { spawn } = await import('node:child_process')
  const script = [
    'import socket, sys',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'c = socket.socket(); c.connect(s.getsockname())',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n')
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('error', reject)
  })
  return { port, close: () => { child.stdin.end(); child.kill() } }
}
