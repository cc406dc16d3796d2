// The bench's upstream, run as its own process:
//   node dist/bench/upstream/upstream.js --services rr,sink,source,http [--request-size 100]
//        [--response-size 100] [--chunk-size 65536]
// One loopback server per service on a free port; prints {"ports":{"rr":N,...}} on stdout once
// listening. Services:
//   rr         a responder: `response-size` bytes back for every `request-size` bytes received
//   sink       reads and discards everything
//   source     writes `chunk-size` blocks as fast as the connection takes them
//   http       HTTP/1.1 (http-responder.ts): GET /small 100 B, GET /64k 64 KiB, POST /upload
//              (reads the body, answers 100 B); keep-alive unless the request says close
//   dapr-grpc  the runtime-grpc baseline (runtime-baseline.ts)
//   dapr-http  the runtime-http baseline (runtime-baseline.ts)
import net from 'node:net'
import { parseArgs } from 'node:util'
import { httpResponder } from './http-responder.js'
import { startDaprGrpcBaseline, startDaprHttpBaseline } from './runtime-baseline.js'

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: 'rr,sink,source' },
    'request-size': { type: 'string', default: '100' },
    'response-size': { type: 'string', default: '100' },
    'chunk-size': { type: 'string', default: '65536' },
    host: { type: 'string', default: '127.0.0.1' },
  },
})
const requestSize = Number(values['request-size'])
const response = Buffer.alloc(Number(values['response-size']), 0x72)
const block = Buffer.alloc(Number(values['chunk-size']), 0x73)

const handlers: Record<string, (s: net.Socket) => void> = {
  rr(s) {
    let pending = 0
    s.on('data', (c: Buffer) => {
      pending += c.length
      while (pending >= requestSize) {
        pending -= requestSize
        s.write(response)
      }
    })
  },
  sink(s) {
    s.resume()
  },
  source(s) {
    const pump = (): void => {
      while (!s.destroyed) {
        if (!s.write(block)) {
          s.once('drain', pump)
          return
        }
      }
    }
    s.resume()
    pump()
  },
  http: httpResponder({ small: Buffer.alloc(100, 0x68), large: Buffer.alloc(64 * 1024, 0x6c), uploaded: Buffer.alloc(100, 0x75) }),
}

const sockets = new Set<net.Socket>()
const closers: Array<() => void> = []
const ports: Record<string, number> = {}
for (const name of values.services.split(',').filter((x) => x !== '')) {
  if (name === 'dapr-grpc') {
    const b = await startDaprGrpcBaseline(values.host)
    ports[name] = b.port
    closers.push(b.close)
    continue
  }
  if (name === 'dapr-http') {
    const b = await startDaprHttpBaseline(values.host)
    ports[name] = b.port
    closers.push(() => b.server.close())
    continue
  }
  const handler = handlers[name]
  if (handler === undefined) {
    process.stderr.write(`upstream: unknown service "${name}" (known: ${[...Object.keys(handlers), 'dapr-grpc', 'dapr-http'].join(', ')})\n`)
    process.exit(2)
  }
  // The idle-conns scenario sends 10,000 connections at `direct`: a deep accept queue.
  const server = net.createServer({ noDelay: true }, (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    // Clients go away abruptly at the end of every round: not an error here.
    s.on('error', () => {})
    handler(s)
  })
  await new Promise<void>((resolve) => server.listen({ port: 0, host: values.host, backlog: 4096 }, resolve))
  ports[name] = (server.address() as net.AddressInfo).port
  closers.push(() => server.close())
}
process.stdout.write(`${JSON.stringify({ ports })}\n`)

const stop = (): void => {
  for (const s of sockets) s.destroy()
  for (const c of closers) c()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
