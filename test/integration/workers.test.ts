import assert from 'node:assert/strict'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { ADMIN_ONLY, type EnvoyProcess, startEnvoy, tempDir } from './helpers/envoy-process.js'
import { request } from './helpers/http-client.js'

const FAULTS = fileURLToPath(new URL('./fixtures/worker-faults.js', import.meta.url))

async function stat(p: EnvoyProcess, name: string): Promise<number> {
  const body = (await request(`${p.adminUrl}/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`)).body
  const m = /: (\d+)/.exec(body)
  assert.ok(m !== null, `no stat ${name} in:\n${body}`)
  return Number(m[1])
}

describe('worker threads', () => {
  it('the watchdog reports a worker whose event loop stalls', async () => {
    const p = await startEnvoy({
      config: `${ADMIN_ONLY}watchdogs:\n  worker_watchdog: { miss_timeout: 0.1s, megamiss_timeout: 0.4s }\n`,
      args: ['--concurrency', '2'],
      env: { ENVOY_TS_EXTENSION_MODULES: FAULTS, ENVOY_TS_TEST_FAULT: 'stall:1200' },
    })
    try {
      const miss = await p.waitForLog((l) => l.msg === 'watchdog miss: thread event loop stalled' && l.thread === 'worker_1')
      assert.ok(Number(miss.stalled_ms) >= 100)
      await p.waitForLog((l) => l.msg === 'watchdog mega miss: thread event loop stalled' && l.thread === 'worker_1')
      assert.ok(await stat(p, 'server.worker_1.watchdog_miss') >= 1)
      assert.ok(await stat(p, 'server.worker_1.watchdog_mega_miss') >= 1)
      assert.ok(await stat(p, 'server.watchdog_miss') >= 1)
      assert.ok(await stat(p, 'workers.watchdog_miss') >= 1)
      assert.equal(await stat(p, 'server.worker_0.watchdog_miss'), 0)
    } finally {
      // A failed assertion must not leave the process running (the test file would never end).
      assert.equal((await p.stop()).code, 0)
    }
  })

  it('a worker that exits is logged, counted and started again while the others keep running', async () => {
    const marker = path.join(tempDir(), 'exited')
    const p = await startEnvoy({
      config: ADMIN_ONLY,
      args: ['--concurrency', '2'],
      env: { ENVOY_TS_EXTENSION_MODULES: FAULTS, ENVOY_TS_TEST_FAULT: 'exit', ENVOY_TS_TEST_FAULT_MARKER: marker },
    })
    const crash = await p.waitForLog((l) => l.msg === 'worker exited unexpectedly; restarting it')
    assert.equal(crash.worker, 1)
    assert.equal(crash.exit_code, 3)
    await p.waitForLog((l) => l.msg === 'worker restarted' && l.worker === 1)
    assert.equal(await stat(p, 'server.worker_restarts'), 1)
    assert.equal(await stat(p, 'server.worker_1.restarts'), 1)
    assert.equal(await stat(p, 'server.worker_0.restarts'), 0)
    // The restarted thread is alive: it hands over a heap snapshot.
    const snap = await request(`${p.adminUrl}/heap_dump?worker=1`)
    assert.equal(snap.status, 200)
    assert.ok(JSON.parse(snap.body).snapshot.node_count > 0)
    assert.equal((await p.stop()).code, 0)
  })

  it('an uncaught exception or unhandled rejection on main or a worker is logged, counted and survived', async () => {
    const p = await startEnvoy({
      config: ADMIN_ONLY,
      args: ['--concurrency', '2'],
      env: { ENVOY_TS_EXTENSION_MODULES: FAULTS, ENVOY_TS_TEST_FAULT: 'throw' },
    })
    const seen = (thread: string, kind: string): Promise<unknown> => p.waitForLog((l) => l.thread === thread && l.kind === kind)
    await Promise.all([
      seen('main', 'uncaught exception'), seen('main', 'unhandled rejection'),
      seen('worker_1', 'uncaught exception'), seen('worker_1', 'unhandled rejection'),
    ])
    const line = p.logs.find((l) => l.thread === 'worker_1' && l.kind === 'uncaught exception')!
    assert.equal(line.level, 'error')
    assert.match(String((line.err as { stack?: string }).stack), /test fault: thrown on worker_1/)
    assert.equal(await stat(p, 'server.envoy_bug_failures'), 4)
    assert.equal(await stat(p, 'server.worker_restarts'), 0)
    assert.equal((await request(`${p.adminUrl}/ready`)).status, 200)
    const snap = await request(`${p.adminUrl}/heap_dump?worker=1`)
    assert.equal(snap.status, 200)
    assert.equal((await p.stop()).code, 0)
  })
})
