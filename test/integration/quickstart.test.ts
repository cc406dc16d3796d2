import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ROOT, startEnvoy } from './helpers/envoy-process.js'
import { request } from './helpers/http-client.js'
import { listenerPort } from './helpers/tcp.js'

/** A loopback port free right now (the quickstart's admin cluster must name the admin port). */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

/** bootstrap/quickstart.yaml as shipped, with its listeners on port 0 and admin on `admin`. */
function quickstart(admin: number): string {
  const text = fs.readFileSync(path.join(ROOT, 'bootstrap/quickstart.yaml'), 'utf8')
  return text.replace(/port_value: (10000|50001|3500)\b/g, 'port_value: 0').replace(/port_value: 9901\b/g, `port_value: ${admin}`)
}

describe('quickstart bootstrap', () => {
  it('exposes only read-only admin pages (GET) on the data-plane listener', async () => {
    const p = await startEnvoy({ config: quickstart(await freePort()) })
    try {
      const base = `http://127.0.0.1:${await listenerPort(p, 'http_in')}`
      assert.equal((await request(`${base}/`)).status, 200)
      for (const page of ['ready', 'stats', 'stats/prometheus', 'server_info', 'clusters', 'listeners', 'config_dump']) {
        assert.equal((await request(`${base}/admin/${page}`)).status, 200, `GET /admin/${page}`)
      }
      assert.equal((await request(`${base}/admin/stats?filter=server.live`)).status, 200)
      // Mutations and anything not listed: not routed to admin.
      for (const [method, page] of [
        ['POST', 'quitquitquit'], ['GET', 'quitquitquit'], ['POST', 'healthcheck/fail'], ['POST', 'drain_listeners'],
        ['POST', 'logging?level=trace'], ['POST', 'runtime_modify?a=b'], ['POST', 'reset_counters'], ['GET', 'heap_dump'],
        ['POST', 'ready'], ['POST', 'stats'], ['HEAD', 'server_info'], ['GET', 'stats/../quitquitquit'], ['GET', 'ready/'],
      ] as const) {
        const r = await request(`${base}/admin/${page}`, { method })
        assert.equal(r.status, 404, `${method} /admin/${page} answered ${r.status}`)
      }
      // The admin endpoint itself still takes them, and the server is still up and healthy.
      const info = JSON.parse((await request(`${p.adminUrl}/server_info`)).body) as { state: string }
      assert.equal(info.state, 'LIVE')
      assert.equal((await request(`${base}/admin/ready`)).body.trim(), 'LIVE')
      assert.equal((await request(`${p.adminUrl}/quitquitquit`, { method: 'POST' })).status, 200)
      assert.equal((await p.exited).code, 0)
    } finally {
      await p.stop()
    }
  })
})
