import net from 'node:net'
import type { BenchChild } from './child.js'

/**
 * `n` free loopback ports, for peers that cannot bind port 0 and report it (nginx, haproxy).
 * They are bound together and released together; another process could take one in between,
 * which the peer's start-up then reports.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = []
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer()
      servers.push(s)
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen(0, host, resolve)
      })
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** Resolves once every port accepts a connection; rejects when `child` exits first or on timeout. */
export async function waitForPorts(child: BenchChild, host: string, ports: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const port of ports) {
    for (;;) {
      if (!child.running) throw new Error(`${child.name} exited before it was ready\n${child.stderrTail.slice(-2000)}`)
      if (await canConnect(host, port)) break
      if (Date.now() > deadline) throw new Error(`${child.name}: port ${port} not accepting after ${timeoutMs} ms\n${child.stderrTail.slice(-2000)}`)
      // Another process, no event to await: poll.
      await new Promise((r) => setTimeout(r, 30))
    }
  }
}
