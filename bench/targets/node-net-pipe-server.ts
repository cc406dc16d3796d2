// The `node-net-pipe` baseline: the plainest Node TCP proxy there is, one process, one thread.
//   node dist/bench/targets/node-net-pipe-server.js <name>=<upstreamPort> ...
// Listens on a free loopback port per mapping and prints {"ports":{"<name>":N,...}}.
// Each accepted connection is piped to a new upstream connection and back; an error on either
// side destroys the other. TCP_NODELAY is on both sides, as envoy-ts (and Envoy) set it.
import net from 'node:net'

const host = process.env.BENCH_HOST ?? '127.0.0.1'
const servers: net.Server[] = []
const ports: Record<string, number> = {}

for (const arg of process.argv.slice(2)) {
  const [name, port] = arg.split('=') as [string, string | undefined]
  const upstreamPort = Number(port)
  const server = net.createServer({ noDelay: true }, (c) => {
    const u = net.connect({ port: upstreamPort, host, noDelay: true })
    c.on('error', () => u.destroy())
    u.on('error', () => c.destroy())
    c.pipe(u).pipe(c)
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  ports[name] = (server.address() as net.AddressInfo).port
  servers.push(server)
}
process.stdout.write(`${JSON.stringify({ ports })}\n`)

// A normal exit (not death by signal), so that `node --cpu-prof` writes its profile.
const stop = (): void => process.exit(0)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
