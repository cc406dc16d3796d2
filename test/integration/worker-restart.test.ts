import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type EnvoyProcess, startEnvoy, tempDir } from './helpers/envoy-process.js'
import { request } from './helpers/http-client.js'
import { hcmBootstrap, HTTP_LISTENER } from './helpers/http-upstream.js'
import { listenerPort, statValue } from './helpers/tcp.js'

const FAULTS = fileURLToPath(new URL('./fixtures/worker-faults.js', import.meta.url))

/** One listener answering every request itself (no upstream); reuse_port unless `shared`. */
function bootstrap(shared = false): string {
  return hcmBootstrap({
    virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } }] }],
    ...(shared ? { listener: { enable_reuse_port: false } } : {}),
  })
}

/** One request on a new connection; resolves with the status line's code or the socket error. */
function oneRequest(port: number): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let data = ''
    let error: string | undefined
    s.setEncoding('latin1')
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n'))
    s.on('data', (d: string) => { data += d })
    s.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message })
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data)
      if (m !== null) resolve({ status: Number(m[1]) })
      else resolve({ error: error ?? `no answer (${JSON.stringify(data.slice(0, 80))})` })
    })
  })
}

interface LoadResult {
  ok: number
  failures: Map<string, number>
}

/**
 * `clients` loops of one request per new connection, until `until` settles and then `after`
 * more requests per loop; at most `max` requests per loop (bounded).
 */
async function load(port: number, clients: number, until: Promise<unknown>, after: number, max: number): Promise<LoadResult> {
  const r: LoadResult = { ok: 0, failures: new Map() }
  let done = false
  void until.finally(() => { done = true })
  const loop = async (): Promise<void> => {
    let left = after
    for (let i = 0; i < max && left > 0; i++) {
      const a = await oneRequest(port)
      if (a.status === 200) r.ok++
      else {
        const k = a.error ?? `status ${a.status}`
        r.failures.set(k, (r.failures.get(k) ?? 0) + 1)
      }
      if (done) left--
    }
  }
  await Promise.all(Array.from({ length: clients }, loop))
  return r
}

function restarted(p: EnvoyProcess, worker: number): Promise<unknown> {
  return p.waitForLog((l) => l.msg === 'worker restarted' && l.worker === worker)
}

describe('worker restart keeps the listen sockets', () => {
  for (const shared of [false, true]) {
    it(`both workers killed at once under load (${shared ? 'one shared socket' : 'reuse_port'}): no connection refused or reset, both come back`, async (t) => {
      const dir = tempDir()
      const trigger = path.join(dir, 'kill')
      const p = await startEnvoy({
        config: bootstrap(shared),
        args: ['--concurrency', '2'],
        env: { ENVOY_TS_EXTENSION_MODULES: FAULTS, ENVOY_TS_TEST_FAULT: `exit-on:${trigger}` },
      })
      try {
        const port = await listenerPort(p, HTTP_LISTENER)
        const back = Promise.all([restarted(p, 0), restarted(p, 1)])
        // Some traffic first, then both workers die at once while the loops keep connecting.
        const warm = await load(port, 4, Promise.resolve(), 25, 25)
        assert.equal(warm.failures.size, 0, `before the kill: ${JSON.stringify([...warm.failures])}`)
        const running = load(port, 4, back, 100, 5000)
        fs.writeFileSync(trigger, 'now')
        const killedAt = Date.now()
        await back
        const downMs = Date.now() - killedAt
        const r = await running
        const restartMs = p.logs.filter((l) => l.msg === 'worker restarted').map((l) => l.restart_ms)
        t.diagnostic(`workers back ${downMs} ms after the kill (restart_ms ${restartMs.join(', ')}); ${r.ok} requests answered during and after`)
        // No connection is refused, and none that waited in a queue is reset. A connection a
        // worker had already accepted when it died dies with it, as with any crash: at most one
        // per client loop can be in flight at that moment.
        const failures = JSON.stringify([...r.failures])
        const resets = r.failures.get('ECONNRESET') ?? 0
        assert.ok([...r.failures.keys()].every((k) => k === 'ECONNRESET') && resets <= 4,
          `failed requests while the workers restarted: ${failures} (${r.ok} succeeded)`)
        assert.ok(r.ok >= 400, `only ${r.ok} requests succeeded`)
        assert.equal(await statValue(p, 'server.worker_restarts'), 2)
        const info = JSON.parse((await request(`${p.adminUrl}/server_info`)).body) as { state: string }
        assert.equal(info.state, 'LIVE')
        // Generous: the machine running the tests is shared and slow.
        assert.ok(downMs < 5000, `workers took ${downMs} ms to come back`)
      } finally {
        assert.equal((await p.stop()).code, 0)
      }
    })
  }

  it('connections waiting in a dying worker\'s accept queue are served by its replacement, not reset', async () => {
    const marker = path.join(tempDir(), 'stalling')
    const p = await startEnvoy({
      config: bootstrap(),
      args: ['--concurrency', '2'],
      env: { ENVOY_TS_EXTENSION_MODULES: FAULTS, ENVOY_TS_TEST_FAULT: 'stall-exit:1500', ENVOY_TS_TEST_FAULT_MARKER: marker },
    })
    try {
      const port = await listenerPort(p, HTTP_LISTENER)
      // Worker 1 writes the marker, then blocks its loop and exits: connections the kernel puts
      // in its queue meanwhile are not accepted before it dies.
      await new Promise<void>((resolve) => {
        const w = fs.watch(path.dirname(marker), () => {
          if (fs.existsSync(marker)) { w.close(); resolve() }
        })
        if (fs.existsSync(marker)) { w.close(); resolve() }
      })
      const answers = await Promise.all(Array.from({ length: 40 }, () => oneRequest(port)))
      const failures = answers.filter((a) => a.status !== 200)
      assert.deepEqual(failures, [], `${failures.length} of 40 requests failed`)
      await restarted(p, 1)
      assert.equal(await statValue(p, 'server.worker_1.restarts'), 1)
    } finally {
      assert.equal((await p.stop()).code, 0)
    }
  })

  it('a worker that keeps failing to start leaks no listen descriptor', async () => {
    const marker = path.join(tempDir(), 'exited')
    // One shared socket: with reuse_port the kernel would hash some connections to the socket of
    // the worker that never comes back, and they would wait for it.
    const p = await startEnvoy({
      config: bootstrap(true),
      args: ['--concurrency', '2'],
      env: { ENVOY_TS_EXTENSION_MODULES: FAULTS, ENVOY_TS_TEST_FAULT: 'fail-restart', ENVOY_TS_TEST_FAULT_MARKER: marker },
    })
    try {
      const dir = `/proc/${p.child.pid}/fd`
      const sockets = (): number => fs.readdirSync(dir).filter((f) => {
        try {
          return fs.readlinkSync(path.join(dir, f)).startsWith('socket:')
        } catch {
          return false // closed meanwhile
        }
      }).length
      const failures = (n: number): Promise<unknown> => {
        let seen = 0
        return p.waitForLog((l) => l.msg === 'worker restart failed' && ++seen >= n)
      }
      // Restarts back off 0, 100, 200, 400, 800 ms, ...: six failures take about 1.5 s; each leaked one
      // descriptor (the listener's dup) before the fix.
      await failures(2)
      const before = sockets()
      await failures(6)
      const after = sockets()
      assert.ok(after - before <= 1, `socket descriptors grew from ${before} to ${after} over four failed restarts`)
      // Worker 0 still serves.
      assert.equal((await request(`http://127.0.0.1:${await listenerPort(p, HTTP_LISTENER)}/`)).status, 200)
    } finally {
      assert.equal((await p.stop()).code, 0)
    }
  })
})
