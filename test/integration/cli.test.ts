import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ADMIN_ONLY, EnvoyProcess, runEnvoy, startEnvoy, tempDir, writeTemp } from './helpers/envoy-process.js'
import { request } from './helpers/http-client.js'

async function serverInfo(p: EnvoyProcess): Promise<any> {
  return JSON.parse((await request(`${p.adminUrl}/server_info`)).body)
}

async function stat(p: EnvoyProcess, name: string): Promise<number> {
  const body = (await request(`${p.adminUrl}/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`)).body
  const m = /: (\d+)/.exec(body)
  assert.ok(m !== null, `no stat ${name} in:\n${body}`)
  return Number(m[1])
}

describe('command line', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
    const r = await runEnvoy(['--version'])
    assert.equal(r.code, 0)
    assert.equal(r.stdout, `envoy-ts version: ${pkg.version}\n`)
  })

  it('--help prints usage with every option', async () => {
    const r = await runEnvoy(['--help'])
    assert.equal(r.code, 0)
    for (const o of ['--config-path', '--config-yaml', '--mode', '--concurrency', '--log-level', '--component-log-level', '--log-path',
      '--log-format', '--drain-time-s', '--drain-strategy', '--parent-shutdown-time-s', '--service-node', '--service-cluster',
      '--service-zone', '--admin-address-path', '--file-flush-interval-msec', '--allow-unknown-static-fields', '--version']) {
      assert.ok(r.stdout.includes(o), `usage lacks ${o}`)
    }
  })

  it('a bad option or value prints usage and exits 1', async () => {
    for (const args of [['--bogus'], ['-c', 'x.yaml', '--concurrency', 'many'], ['-c', 'x.yaml', '--log-level', 'chatty'], ['-c', 'x.yaml', '--mode', 'dry']]) {
      const r = await runEnvoy(args)
      assert.equal(r.code, 1, args.join(' '))
      assert.match(r.stderr, /^envoy-ts: /)
      assert.match(r.stderr, /Usage: envoy-ts -c/)
    }
  })

  it('--mode init_only initializes everything then exits 0', async () => {
    const p = new EnvoyProcess(['-c', writeTemp('b.yaml', ADMIN_ONLY), '--mode', 'init_only', '--concurrency', '2'])
    const { code } = await p.exited
    assert.equal(code, 0, p.stderr)
    assert.ok(p.logs.some((l) => l.msg?.startsWith('envoy-ts initialized')), p.stderr)
    assert.ok(p.logs.some((l) => l.msg === 'all workers started'))
  })

  it('--concurrency sets the worker count, and 0 means 1', async () => {
    for (const [arg, want] of [['3', 3], ['0', 1]] as const) {
      const p = await startEnvoy({ config: ADMIN_ONLY, args: ['--concurrency', arg] })
      assert.equal(await stat(p, 'server.concurrency'), want)
      assert.equal((await serverInfo(p)).command_line_options.concurrency, want)
      assert.equal((await p.stop()).code, 0)
    }
  })

  it('--config-yaml is merged over the file', async () => {
    const p = await startEnvoy({ config: `${ADMIN_ONLY}node: { id: from-file, cluster: c1 }\n`, args: ['--config-yaml', 'node: { id: from-flag }'] })
    const info = await serverInfo(p)
    assert.equal(info.node.id, 'from-flag')
    assert.equal(info.node.cluster, 'c1')
    await p.stop()
  })

  it('--config-yaml alone is a whole bootstrap', async () => {
    const p = new EnvoyProcess(['--config-yaml', 'node: { id: only-yaml }', '--mode', 'validate'])
    assert.equal((await p.exited).code, 0, p.stderr)
    assert.equal(p.stdout, 'OK\n')
  })

  it('--service-node, --service-cluster and --service-zone set the node', async () => {
    const p = await startEnvoy({ config: ADMIN_ONLY, args: ['--service-node', 'n7', '--service-cluster', 'edge', '--service-zone', 'z9'] })
    const info = await serverInfo(p)
    assert.deepEqual([info.node.id, info.node.cluster, info.node.locality.zone], ['n7', 'edge', 'z9'])
    assert.equal(info.command_line_options.service_node, 'n7')
    await p.stop()
  })

  it('drain and flush options show in /server_info', async () => {
    const p = await startEnvoy({
      config: ADMIN_ONLY,
      args: ['--drain-time-s', '7', '--drain-strategy', 'immediate', '--parent-shutdown-time-s', '20', '--file-flush-interval-msec', '250'],
    })
    const o = (await serverInfo(p)).command_line_options
    assert.deepEqual([o.drain_time, o.drain_strategy, o.parent_shutdown_time, o.file_flush_interval], ['7s', 'Immediate', '20s', '0.25s'])
    await p.stop()
  })

  it('--admin-address-path receives the bound admin address', async () => {
    const file = path.join(tempDir(), 'sub', 'admin.txt')
    const p = await startEnvoy({ config: ADMIN_ONLY, args: ['--admin-address-path', file] })
    const address = fs.readFileSync(file, 'utf8')
    assert.match(address, /^127\.0\.0\.1:\d+$/)
    assert.equal(address, p.adminAddress)
    assert.equal((await request(`http://${address}/ready`)).body, 'LIVE\n')
    await p.stop()
  })

  it('--allow-unknown-static-fields ignores and counts unknown fields', async () => {
    const p = await startEnvoy({ config: `${ADMIN_ONLY}bogus_one: 1\nnode: { id: a, bogus_two: 2 }\n`, args: ['--allow-unknown-static-fields'] })
    assert.equal(await stat(p, 'server.static_unknown_fields'), 2)
    assert.ok(p.logs.some((l) => l.msg === 'ignoring unknown bootstrap field (--allow-unknown-static-fields)' && l.field === 'node.bogus_two'))
    await p.stop()
  })

  it('-l and --component-log-level set levels, visible in /logging', async () => {
    const addressFile = path.join(tempDir(), 'admin')
    const p = await startEnvoy({
      config: ADMIN_ONLY,
      args: ['-l', 'warning', '--component-log-level', 'upstream:debug,admin:error', '--admin-address-path', addressFile],
      waitFor: 'spawn',
    })
    await p.waitForReadyEndpoint(addressFile)
    const r = await request(`${p.adminUrl}/logging`, { method: 'POST' })
    assert.match(r.body, /^ {2}upstream: debug$/m)
    assert.match(r.body, /^ {2}admin: error$/m)
    assert.match(r.body, /^ {2}main: warning$/m)
    // At warning, main's info start-up lines are not written.
    assert.ok(!p.logs.some((l) => l.msg === 'registered extensions'))
    await p.stop()
  })

  it('--component-log-level main:debug logs each stage starting', async () => {
    const p = await startEnvoy({ config: ADMIN_ONLY, args: ['--component-log-level', 'main:debug'] })
    for (const stage of ['init', 'pre-start', 'start', 'after-start']) {
      assert.ok(p.logs.some((l) => l.msg === 'stage starting' && l.stage === stage), stage)
      assert.ok(p.logs.some((l) => l.msg === `stage ${stage} done` && typeof l.duration_ms === 'number'), stage)
    }
    await p.stop()
  })

  it('--log-path writes logs to a file and SIGUSR1 reopens it', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'envoy.log')
    const p = await startEnvoy({ config: ADMIN_ONLY, args: ['--log-path', file], waitFor: 'spawn' })
    // Logs go to the file, not stderr: wait for the line there.
    await waitForFileLine(file, (l) => l.includes('envoy-ts initialized'))
    fs.renameSync(file, `${file}.1`)
    p.child.kill('SIGUSR1')
    await waitForFileLine(file, (l) => l.includes('log files reopened'))
    assert.ok(fs.readFileSync(`${file}.1`, 'utf8').includes('envoy-ts initialized'))
    assert.equal((await p.stop()).code, 0)
    assert.ok(fs.readFileSync(file, 'utf8').includes('envoy-ts stopped'))
  })

  it('--log-format text writes Envoy-style lines', async () => {
    const p = new EnvoyProcess(['-c', writeTemp('b.yaml', ADMIN_ONLY), '--log-format', 'text', '--mode', 'init_only', '--concurrency', '1'])
    assert.equal((await p.exited).code, 0)
    assert.match(p.stderr, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]\[main\]\[info\]\[main\] envoy-ts initialized: LIVE in \d+ ms/m)
  })

  it('SIGTERM shuts down gracefully with exit 0; SIGINT too', async () => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const p = await startEnvoy({ config: ADMIN_ONLY, args: ['--concurrency', '2'] })
      const r = await p.stop(sig)
      assert.equal(r.code, 0, p.stderr)
      assert.ok(p.logs.some((l) => l.msg === 'envoy-ts stopped'))
    }
  })

  it('a start-up failure (admin port in use) exits 1 with the reason', async () => {
    const a = await startEnvoy({ config: ADMIN_ONLY })
    const [host, port] = a.adminAddress.split(':')
    const r = await runEnvoy(['-c', writeTemp('b.yaml', `admin:\n  address: { socket_address: { address: ${host}, port_value: ${port} } }\n`), '--concurrency', '1'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /cannot bind the admin endpoint to 127\.0\.0\.1:\d+: .*EADDRINUSE/)
    await a.stop()
  })
})

async function waitForFileLine(file: string, pred: (line: string) => boolean): Promise<void> {
  // The log file is written by another process; poll its size changes with fs.watch.
  const check = (): boolean => fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').some(pred)
  if (check()) return
  await new Promise<void>((resolve, reject) => {
    const dir = path.dirname(file)
    const w = fs.watch(dir, () => {
      if (check()) {
        w.close()
        clearTimeout(t)
        resolve()
      }
    })
    const t = setTimeout(() => {
      w.close()
      reject(new Error(`no matching line in ${file}`))
    }, 10_000)
  })
}
