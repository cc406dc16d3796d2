import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

/**
 * A real redis-server for the Redis runtime component tests: no persistence, loopback only, on a
 * free port. There is no skip: a machine without redis-server fails these tests (CI installs
 * it in .ci/run; locally `apt-get install redis-server`, or point REDIS_SERVER_BIN at one).
 */
export interface RedisServer {
  readonly host: string
  readonly port: number
  /** `host:port`, as the components' `redisHost` metadata takes it. */
  readonly address: string
  /** Stops the server (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>
  /** Starts it again on the same port (after stop()), e.g. to test reconnects. */
  restart(): Promise<void>
}

export function findRedisServer(): string {
  const explicit = process.env['REDIS_SERVER_BIN']
  if (explicit !== undefined && explicit !== '') {
    if (isExecutable(explicit)) return explicit
    throw new Error(`REDIS_SERVER_BIN=${explicit} is not an executable file`)
  }
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const candidate = path.join(dir, 'redis-server')
    if (isExecutable(candidate)) return candidate
  }
  const ci = process.env['CI'] === 'true' ? ' (CI=true: .ci/run should have installed it)' : ''
  throw new Error(
    `redis-server was not found on PATH${ci}. The Redis runtime component tests need a real Redis: ` +
    'install it (e.g. `apt-get install redis-server`) or set REDIS_SERVER_BIN to its path.',
  )
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK)
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** Spawns redis-server on `port` and resolves once it logs "Ready to accept connections". */
function launch(bin: string, port: number, extraArgs: readonly string[]): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs]
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  child.once('exit', () => live.delete(child))
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => fail(new Error(`redis-server on port ${port} was not ready within 10 s:\n${output}`)), 10_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        // Keep draining (and dropping) its output so the pipes never fill.
        child.stdout?.off('data', onData)
        child.stderr?.off('data', onData)
        child.stdout?.resume()
        child.stderr?.resume()
        child.off('exit', onExit)
        resolve(child)
      }
    }
    const onExit = (code: number | null): void => fail(new Error(`redis-server on port ${port} exited (${code}) before it was ready:\n${output}`))
    const fail = (err: Error): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(err)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
    child.once('error', (err) => fail(err))
  })
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** Starts a redis-server on a free port. Throws (never skips) if there is no redis-server. */
export async function startRedisServer(options: { args?: readonly string[] } = {}): Promise<RedisServer> {
  const bin = findRedisServer()
  const extra = options.args ?? []
  let child: ChildProcess | undefined
  let port = 0
  let lastErr: unknown
  // Another process may take the port between freePort() and the bind: try a few.
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = await freePort()
    try {
      child = await launch(bin, port, extra)
    } catch (err) {
      lastErr = err
    }
  }
  if (child === undefined) throw lastErr
  let current: ChildProcess | undefined = child
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    async stop() {
      if (current !== undefined) await terminate(current)
      current = undefined
    },
    async restart() {
      if (current !== undefined) await terminate(current)
      current = await launch(bin, port, extra)
    },
  }
}
