// The bench's TCP upstream, run as its own process:
//   node dist/bench/upstream/tcp-upstream.js --services rr,sink,source [--request-size 100]
//        [--response-size 100] [--chunk-size 65536]
// One loopback server per service on a free port; prints {"ports":{"rr":N,...}} on stdout once
// listening. Services:
//   rr      a responder: `response-size` bytes back for every `request-size` bytes received
//   sink    reads and discards everything
//   source  writes `chunk-size` blocks as fast as the connection takes them
import net from 'node:net'
import { parseArgs } from 'node:util'

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
}

const sockets = new Set<net.Socket>()
const servers: net.Server[] = []
const ports: Record<string, number> = {}
for (const name of values.services.split(',').filter((x) => x !== '')) {
  const handler = handlers[name]
  if (handler === undefined) {
    process.stderr.write(`tcp-upstream: unknown service "${name}" (known: ${Object.keys(handlers).join(', ')})\n`)
    process.exit(2)
  }
  const server = net.createServer({ noDelay: true }, (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    // Clients go away abruptly at the end of every round: not an error here.
    s.on('error', () => {})
    handler(s)
  })
  await new Promise<void>((resolve) => server.listen(0, values.host, resolve))
  ports[name] = (server.address() as net.AddressInfo).port
  servers.push(server)
}
process.stdout.write(`${JSON.stringify({ ports })}\n`)

const stop = (): void => {
  for (const s of sockets) s.destroy()
  for (const server of servers) server.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
