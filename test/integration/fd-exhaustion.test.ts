/**
 * Issue 18, defect 3: running out of file descriptors must not end the process. envoy-ts runs
 * under `ulimit -n 200` and the test opens more connections than that; once the flood ends the
 * proxy serves again, the failed accepts are counted and no thread died.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import { request } from './helpers/http-client.js'
import { listenerPort, statsMap, statValue } from './helpers/tcp.js'

const FD_LIMIT = 200
/** More than the proxy's descriptors; well inside the test process's own limit. */
const FLOOD = 400

const config = (balance: string): string => `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: http_in
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${balance}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http_in
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "alive" } } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([p, limit]).finally(() => clearTimeout(timer))
}

/** Retries `fn` until it resolves (the proxy may still be closing the flood's connections). */
async function eventually<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw err
      // Another process's descriptors free up with no event to await here: retry shortly.
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

describe('file descriptor exhaustion (ulimit -n 200)', () => {
  let envoy: EnvoyProcess | undefined
  const flood: net.Socket[] = []
  after(async () => {
    for (const s of flood) s.destroy()
    await envoy?.stop('SIGKILL')
  })

  for (const [mode, balance] of [
    ['workers accept', ''],
    ['main accepts (exact_balance)', '    connection_balance_config: { exact_balance: {} }'],
  ] as const) {
    it(`a connection flood past the limit is counted and backed off, and the proxy serves once it ends: ${mode}`, async () => {
      stopAll(flood)
      await envoy?.stop('SIGKILL')
      envoy = await startEnvoy({ config: config(balance), args: ['--concurrency', '2'], fdLimit: FD_LIMIT })
      const p = envoy
      const started = p.logs.find((l) => l.msg === 'file descriptor limit (RLIMIT_NOFILE)')
      assert.ok(started !== undefined, 'the start-up log states the descriptor limit')
      assert.equal(started.soft, FD_LIMIT)
      const info = JSON.parse((await request(`${p.adminUrl}/server_info`)).body) as { file_descriptor_limit: { soft: number; hard: number } }
      assert.deepEqual(info.file_descriptor_limit, { before: FD_LIMIT, soft: FD_LIMIT, hard: FD_LIMIT })
      const port = await listenerPort(p, 'http_in')

      // The flood: connections the kernel completes (accept queue) while the proxy runs out.
      for (let i = 0; i < FLOOD; i++) {
        const s = net.connect({ port, host: '127.0.0.1' })
        s.on('error', () => {})
        flood.push(s)
      }
      const paused = await within(30_000, 'an accept error', p.waitForLog((l) => l.msg === 'accept failed: pausing accept on this listener'))
      assert.equal(paused.code, 'EMFILE')
      assert.equal(paused.level, 'warning')
      assert.ok(Number(paused.pause_ms) >= 100 && Number(paused.pause_ms) <= 1000)

      stopAll(flood)
      // Once the flood is gone: admin and the listener answer again.
      const res = await eventually(() => request(`http://127.0.0.1:${port}/`), 20_000)
      assert.equal(res.status, 200)
      assert.equal(res.body, 'alive')
      const ready = await eventually(() => request(`${p.adminUrl}/ready`), 20_000)
      assert.equal(ready.status, 200)
      const errors = [...(await statsMap(p, 'downstream_cx_accept_error')).entries()]
      assert.equal(errors.length, 1, 'one listener.<address>.downstream_cx_accept_error')
      assert.match(errors[0]![0], /^listener\.127\.0\.0\.1_\d+\.downstream_cx_accept_error$/)
      assert.ok(errors[0]![1] >= 1, 'the failed accepts are counted')
      assert.equal(await statValue(p, 'server.worker_restarts'), 0)
      assert.equal(await statValue(p, 'server.envoy_bug_failures'), 0)
      const mem = await request(`${p.adminUrl}/memory`)
      assert.equal(mem.status, 200)
      assert.ok(Number((JSON.parse(mem.body) as { total_physical_bytes: string }).total_physical_bytes) > 0)
      assert.equal(p.child.exitCode, null, 'envoy-ts is still running')
      assert.equal((await p.stop()).code, 0)
    })
  }
})

function stopAll(sockets: net.Socket[]): void {
  for (const s of sockets.splice(0)) s.destroy()
}
