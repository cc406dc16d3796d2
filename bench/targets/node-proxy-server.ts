// The Node HTTP proxies the bench compares envoy-ts with, as a user would write them:
//   node dist/bench/targets/node-proxy-server.js --mode undici|http-proxy [--workers N] <name>=<upstreamPort> ...
// `undici`: a plain node:http server, each request forwarded with an undici Pool (keep-alive
// upstream connections) using `pool.stream`, undici's fast path for proxying, hop-by-hop
// headers dropped both ways. `http-proxy`: the http-proxy package (node-http-proxy) with a
// keep-alive http.Agent. One process, one thread; `--workers N` > 1 forks N processes with
// node:cluster (the primary only distributes connections). Prints {"ports":{...}} once listening.
import cluster from 'node:cluster'
import http from 'node:http'
import net from 'node:net'
import { parseArgs } from 'node:util'
import httpProxy from 'http-proxy'
import { Pool } from 'undici'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mode: { type: 'string', default: 'undici' },
    workers: { type: 'string', default: '1' },
    host: { type: 'string', default: '127.0.0.1' },
  },
})
const host = values.host
const workers = Number(values.workers)
const mappings = positionals.map((arg) => {
  const [name, port] = arg.split('=') as [string, string]
  return { name, upstreamPort: Number(port) }
})

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'])

function withoutHopByHop<T>(headers: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const k in headers) if (!HOP_BY_HOP.has(k.toLowerCase())) out[k] = headers[k]!
  return out
}

function undiciHandler(upstreamPort: number): http.RequestListener {
  const pool = new Pool(`http://${host}:${upstreamPort}`, { keepAliveTimeout: 300_000 })
  return (req, res) => {
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
    pool.stream(
      {
        path: req.url ?? '/',
        method: req.method as 'GET',
        headers: withoutHopByHop(req.headers as Record<string, string | string[]>),
        body: hasBody ? req : null,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, withoutHopByHop(headers as Record<string, string | string[]>))
        return res
      },
      (err) => {
        if (err === null) return
        if (!res.headersSent) res.writeHead(502).end()
        else res.destroy()
      },
    )
  }
}

function httpProxyHandler(upstreamPort: number): http.RequestListener {
  const proxy = httpProxy.createProxyServer({
    target: `http://${host}:${upstreamPort}`,
    agent: new http.Agent({ keepAlive: true, maxFreeSockets: 256 }),
  })
  proxy.on('error', (_err, _req, res) => {
    if (!res.headersSent) res.writeHead(502).end()
    else res.destroy()
  })
  return (req, res) => proxy.web(req, res)
}

async function listen(port: number, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler)
  // Node closes idle keep-alive connections after 5 s by default; the bench holds them longer.
  server.keepAliveTimeout = 300_000
  server.headersTimeout = 310_000
  server.requestTimeout = 0
  await new Promise<void>((resolve) => server.listen({ port, host, backlog: 4096 }, resolve))
  return (server.address() as net.AddressInfo).port
}

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, host, resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

const stop = (): void => process.exit(0)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

if (workers > 1 && cluster.isPrimary) {
  // Fixed ports, so that every worker listens on the same ones (the primary shares them).
  const ports: Record<string, number> = {}
  for (const m of mappings) ports[m.name] = await freePort()
  let ready = 0
  for (let i = 0; i < workers; i++) {
    const w = cluster.fork({ BENCH_PORTS: JSON.stringify(ports) })
    w.on('message', (m: unknown) => {
      if ((m as { ready?: boolean }).ready === true && ++ready === workers) process.stdout.write(`${JSON.stringify({ ports })}\n`)
    })
  }
  // A worker that dies takes the target down: the bench sees connection errors.
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM')
  })
} else {
  const fixed = process.env.BENCH_PORTS !== undefined ? (JSON.parse(process.env.BENCH_PORTS) as Record<string, number>) : {}
  const ports: Record<string, number> = {}
  for (const m of mappings) {
    const handler = values.mode === 'http-proxy' ? httpProxyHandler(m.upstreamPort) : undiciHandler(m.upstreamPort)
    ports[m.name] = await listen(fixed[m.name] ?? 0, handler)
  }
  if (cluster.isWorker) process.send?.({ ready: true })
  else process.stdout.write(`${JSON.stringify({ ports })}\n`)
}
