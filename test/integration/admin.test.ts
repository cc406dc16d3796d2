import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { checkPrometheus } from '../helpers/prometheus-checker.js'
import { type EnvoyProcess, startEnvoy, tempDir } from './helpers/envoy-process.js'
import { request } from './helpers/http-client.js'

const profileDir = tempDir('envoy-ts-prof-')
const accessLog = path.join(tempDir(), 'admin-access.log')

const CONFIG = `
node: { id: admin-test, cluster: tests }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
  profile_path: ${profileDir}/
  access_log:
  - name: envoy.access_loggers.file
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
      path: ${accessLog}
      log_format: { text_format: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %BYTES_SENT%\\n" }
stats_flush_interval: 0.2s
layered_runtime:
  layers:
  - name: static
    static_layer: { feature: { a: 10 }, flag: true }
  - name: admin
    admin_layer: {}
static_resources:
  clusters:
  - name: backend
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9 } } } }] }]
`

let envoy: EnvoyProcess
const url = (p: string): string => `${envoy.adminUrl}${p}`

describe('admin endpoint', () => {
  before(async () => {
    envoy = await startEnvoy({ config: CONFIG, args: ['--concurrency', '2', '--file-flush-interval-msec', '50'] })
  })
  after(async () => {
    await envoy.stop()
  })

  it('/ is an HTML page linking every endpoint', async () => {
    const r = await request(url('/'))
    assert.equal(r.status, 200)
    assert.match(String(r.headers['content-type']), /text\/html/)
    for (const p of ['/stats', '/stats/prometheus', '/server_info', '/config_dump', '/clusters', '/listeners', '/ready', '/memory', '/heap_dump', '/logging', '/help']) {
      assert.ok(r.body.includes(`"${p}"`), `home page lacks ${p}`)
    }
    assert.match(r.body, /<form action="\/quitquitquit" method="post">/)
  })

  it('/help lists every path', async () => {
    const r = await request(url('/help'))
    assert.equal(r.status, 200)
    assert.match(r.body, /^admin commands are:$/m)
    assert.match(r.body, /^ {2}\/quitquitquit: exit the server \(POST\)$/m)
    assert.match(r.body, /^ {2}\/stats: Print server stats$/m)
  })

  it('an unknown path is 404 with the help text', async () => {
    const r = await request(url('/nope'))
    assert.equal(r.status, 404)
    assert.match(r.body, /^invalid path: \/nope$/m)
    assert.match(r.body, /admin commands are:/)
  })

  it('a mutation sent as GET is 400', async () => {
    for (const p of ['/quitquitquit', '/healthcheck/fail', '/reset_counters', '/logging', '/drain_listeners', '/cpuprofiler?enable=y']) {
      const r = await request(url(p))
      assert.equal(r.status, 400, p)
      assert.equal(r.body, 'Method GET not allowed, POST required.\n')
    }
  })

  it('/ready is LIVE; /healthcheck/fail makes it 503 and /healthcheck/ok restores it', async () => {
    assert.deepEqual([(await request(url('/ready'))).status, (await request(url('/ready'))).body], [200, 'LIVE\n'])
    assert.equal((await request(url('/healthcheck/fail'), { method: 'POST' })).body, 'OK\n')
    const r = await request(url('/ready'))
    assert.deepEqual([r.status, r.body], [503, 'DRAINING\n'])
    assert.match((await request(url('/stats?filter=^server\\.live$'))).body, /server.live: 0/)
    await request(url('/healthcheck/ok'), { method: 'POST' })
    assert.equal((await request(url('/ready'))).status, 200)
  })

  it('/server_info has the admin.v3.ServerInfo shape', async () => {
    const info = JSON.parse((await request(url('/server_info'))).body)
    assert.match(info.version, /^envoy-ts\/\d+\.\d+\.\d+\//)
    assert.equal(info.state, 'LIVE')
    assert.equal(info.node.id, 'admin-test')
    assert.equal(info.command_line_options.concurrency, 2)
    assert.match(info.uptime_current_epoch, /^\d+s$/)
    assert.match(info.uptime_all_epochs, /^\d+s$/)
    assert.equal(info.hot_restart_version, 'disabled')
  })

  it('/stats lists server stats in text, json, filtered and usedonly', async () => {
    const text = (await request(url('/stats'))).body
    for (const s of ['server.uptime', 'server.concurrency: 2', 'server.live: 1', 'server.state: 0', 'server.memory_allocated', 'server.memory_heap_size',
      'server.version', 'server.worker_0.watchdog_miss: 0', 'server.worker_1.watchdog_miss: 0', 'server.watchdog_miss: 0', 'server.static_unknown_fields: 0']) {
      assert.ok(text.includes(s), `missing ${s}`)
    }
    assert.match(text, /^server\.initialization_time_ms: P0\(/m)
    const json = JSON.parse((await request(url('/stats?format=json'))).body)
    assert.ok(json.stats.some((s: { name?: string; value?: number }) => s.name === 'server.concurrency' && s.value === 2))
    const hist = json.stats.find((s: { histograms?: unknown }) => s.histograms !== undefined).histograms
    assert.deepEqual(hist.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100])
    assert.ok(hist.computed_quantiles.some((q: { name: string }) => q.name === 'server.initialization_time_ms'))
    const filtered = (await request(url('/stats?filter=^server\\.worker_1\\.'))).body.trim().split('\n')
    assert.ok(filtered.length >= 2 && filtered.every((l) => l.startsWith('server.worker_1.')), filtered.join('\n'))
    const used = (await request(url('/stats?usedonly'))).body
    assert.ok(used.includes('server.concurrency'))
    assert.ok(!used.includes('server.worker_0.watchdog_miss'), 'usedonly lists a stat nobody wrote')
    assert.equal((await request(url('/stats?filter=('))).status, 400)
  })

  it('/stats/prometheus is valid exposition format with tags and histogram buckets', async () => {
    const r = await request(url('/stats/prometheus'))
    assert.equal(r.status, 200)
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    const families = checkPrometheus(r.body)
    assert.equal(families.get('envoy_server_concurrency')?.type, 'gauge')
    assert.equal(families.get('envoy_server_initialization_time_ms')?.type, 'histogram')
    const miss = families.get('envoy_server_watchdog_miss')!
    assert.equal(miss.type, 'counter')
    assert.ok(miss.samples.some((s) => s.labels.envoy_worker_id === 'worker_1'), 'per-worker watchdog stat carries envoy_worker_id')
  })

  it('/reset_counters zeroes counters', async () => {
    assert.equal((await request(url('/reset_counters'), { method: 'POST' })).body, 'OK\n')
    assert.match((await request(url('/stats?filter=^server\\.watchdog_miss$'))).body, /server.watchdog_miss: 0/)
  })

  it('/memory reports heap and physical sizes', async () => {
    const m = JSON.parse((await request(url('/memory'))).body)
    assert.ok(Number(m.allocated) > 0 && Number(m.heap_size) >= Number(m.allocated) && Number(m.total_physical_bytes) > 0, JSON.stringify(m))
  })

  it('/config_dump returns typed dumps; ?resource= and ?mask= narrow it', async () => {
    const dump = JSON.parse((await request(url('/config_dump'))).body)
    const types = dump.configs.map((c: { '@type': string }) => c['@type'])
    assert.deepEqual(types, [
      'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
      'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
    ])
    assert.equal(dump.configs[0].bootstrap.node.id, 'admin-test')
    assert.equal(dump.configs[0].bootstrap.stats_flush_interval, '0.200s')
    const clusters = JSON.parse((await request(url('/config_dump?resource=static_clusters'))).body)
    assert.equal(clusters.configs.length, 1)
    assert.equal(clusters.configs[0]['@type'], 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster')
    assert.equal(clusters.configs[0].cluster.name, 'backend')
    assert.equal(clusters.configs[0].cluster['@type'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster')
    const masked = JSON.parse((await request(url('/config_dump?resource=static_clusters&mask=cluster.name'))).body)
    assert.deepEqual(masked.configs[0], {
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster',
      cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'backend' },
    })
    assert.equal((await request(url('/config_dump?resource=nonsense'))).status, 404)
  })

  it('/logging lists loggers, and ?level= / ?<logger>= change them on every thread', async () => {
    const list = (await request(url('/logging'), { method: 'POST' })).body
    assert.match(list, /^active loggers:$/m)
    assert.match(list, /^ {2}upstream: info$/m)
    const one = (await request(url('/logging?upstream=debug'), { method: 'POST' })).body
    assert.match(one, /^ {2}upstream: debug$/m)
    assert.match(one, /^ {2}admin: info$/m)
    const all = (await request(url('/logging?level=warning'), { method: 'POST' })).body
    assert.match(all, /^ {2}upstream: warning$/m)
    assert.equal((await request(url('/logging?level=loud'), { method: 'POST' })).status, 400)
    assert.equal((await request(url('/logging?nosuch=debug'), { method: 'POST' })).status, 400)
    await request(url('/logging?level=info'), { method: 'POST' })
  })

  it('/cpuprofiler writes V8 profiles of main and every worker', async () => {
    assert.equal((await request(url('/cpuprofiler'), { method: 'POST' })).status, 400)
    assert.equal((await request(url('/cpuprofiler?enable=y'), { method: 'POST' })).status, 200)
    assert.equal((await request(url('/cpuprofiler?enable=y'), { method: 'POST' })).status, 400)
    const r = await request(url('/cpuprofiler?enable=n'), { method: 'POST' })
    assert.equal(r.status, 200, r.body)
    for (const f of ['main', 'worker_0', 'worker_1']) {
      const profile = JSON.parse(fs.readFileSync(path.join(profileDir, `${f}.cpuprofile`), 'utf8'))
      assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0, f)
    }
  })

  it('/heap_dump streams a V8 heap snapshot of main or a worker', async () => {
    for (const q of ['', '?worker=1']) {
      const r = await request(url(`/heap_dump${q}`))
      assert.equal(r.status, 200)
      const snap = JSON.parse(r.body)
      assert.ok(snap.snapshot.node_count > 0)
    }
    assert.equal((await request(url('/heap_dump?worker=9'))).status, 400)
  })

  it('/listeners and /clusters answer in text and JSON', async () => {
    assert.equal((await request(url('/listeners'))).status, 200)
    assert.deepEqual(JSON.parse((await request(url('/listeners?format=json'))).body), { listener_statuses: [] })
    assert.match((await request(url('/clusters'))).body, /^backend::observability_name::backend$/m)
    const cj = JSON.parse((await request(url('/clusters?format=json'))).body)
    assert.equal(cj.cluster_statuses[0].name, 'backend')
  })

  it('/runtime shows layers; /runtime_modify writes the admin layer', async () => {
    const rt = JSON.parse((await request(url('/runtime'))).body)
    assert.deepEqual(rt.layers, ['static', 'admin'])
    assert.equal(rt.entries['feature.a'].final_value, '10')
    assert.equal((await request(url('/runtime_modify?feature.a=20'), { method: 'POST' })).status, 200)
    const after = JSON.parse((await request(url('/runtime'))).body)
    assert.deepEqual(after.entries['feature.a'], { final_value: '20', layer_values: ['10', '20'] })
  })

  it('the admin access log records requests', async () => {
    await request(url('/ready?probe=1'))
    const line = await waitForContent(accessLog, 'GET /ready?probe=1 200 5')
    assert.ok(line)
  })
})

async function waitForContent(file: string, needle: string): Promise<boolean> {
  const has = (): boolean => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(needle)
  if (has()) return true
  return new Promise((resolve, reject) => {
    const w = fs.watch(path.dirname(file), () => {
      if (has()) {
        w.close()
        clearTimeout(t)
        resolve(true)
      }
    })
    const t = setTimeout(() => {
      w.close()
      reject(new Error(`${file} never contained "${needle}": ${fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(missing)'}`))
    }, 5000)
  })
}
