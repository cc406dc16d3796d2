import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { EnvoyProcess, tempDir, writeTemp } from './helpers/envoy-process.js'

/** Generous: the issue saw the alias bomb still running after 15 s. */
const BOUND_MS = 10_000

/** Runs envoy-ts to completion, or kills it (SIGKILL) after `ms` and says so. */
async function runBounded(args: string[], ms = BOUND_MS): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; killed: boolean }> {
  const p = new EnvoyProcess(args)
  let killed = false
  const timer = setTimeout(() => {
    killed = true
    p.child.kill('SIGKILL')
  }, ms)
  const { code, signal } = await p.exited
  clearTimeout(timer)
  return { code, signal, stdout: p.stdout, stderr: p.stderr, killed }
}

/** An access-logged tcp_proxy listener whose log filter is `filter` (YAML flow text). */
function withAccessLogFilter(filter: string): string {
  return `static_resources:
  clusters:
  - { name: c, connect_timeout: 1s }
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: t
          cluster: c
          access_log:
          - name: envoy.access_loggers.stderr
            typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog }
            filter: ${filter}
`
}

/** "Billion laughs": 9 levels of 10 aliases each in an `and_filter`, 10^9 filters once expanded. */
function aliasBomb(): string {
  const levels = ['&a0 { not_health_check_filter: {} }']
  for (let i = 1; i <= 9; i++) levels.push(`&a${i} { and_filter: { filters: [${Array(10).fill(`*a${i - 1}`).join(', ')}] } }`)
  return withAccessLogFilter(`{ and_filter: { filters: [${levels.join(', ')}] } }`)
}

describe('bootstrap size and nesting limits (--mode validate, real binary)', () => {
  it('a YAML alias bomb is refused quickly, naming the file', async () => {
    const file = writeTemp('bomb.yaml', aliasBomb())
    const r = await runBounded(['--mode', 'validate', '-c', file])
    assert.equal(r.killed, false, 'validation of the alias bomb did not end')
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the document stands for more than 1000000 values once YAML aliases are expanded`))
    assert.doesNotMatch(r.stderr, /Maximum call stack|at .*\.js:\d+/)
  })

  it('a cyclic YAML alias is refused with a clear message, not a stack overflow', async () => {
    const file = writeTemp('cycle.yaml', withAccessLogFilter('&c { and_filter: { filters: [*c] } }'))
    const r = await runBounded(['--mode', 'validate', '-c', file])
    assert.equal(r.killed, false)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /cycle\.yaml: a YAML alias refers to a node that contains it \(a cycle\)/)
    assert.doesNotMatch(r.stderr, /Maximum call stack/)
  })

  it('YAML nested deeper than 100 levels is refused', async () => {
    const deep = `node:\n  metadata: ${'{ a: '.repeat(150)}1${' }'.repeat(150)}\n`
    const file = writeTemp('deep.yaml', deep)
    const r = await runBounded(['--mode', 'validate', '-c', file])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /deep\.yaml:.*(nesting|depth)/i)
  })

  it('a JSON bootstrap is bounded too: nesting depth and number of values', async () => {
    const deep = writeTemp('deep.json', `{"node": {"metadata": ${'{"a": '.repeat(5000)}1${'}'.repeat(5000)}}}`)
    const r1 = await runBounded(['--mode', 'validate', '-c', deep])
    assert.equal(r1.code, 1, r1.stderr)
    assert.match(r1.stderr, /deep\.json: nesting deeper than 100 levels/)
    assert.doesNotMatch(r1.stderr, /Maximum call stack/)
    const wide = writeTemp('wide.json', `{"node": {"metadata": {"a": [${Array(1_100_000).fill('0').join(',')}]}}}`)
    const r2 = await runBounded(['--mode', 'validate', '-c', wide])
    assert.equal(r2.code, 1, r2.stderr)
    assert.match(r2.stderr, /wide\.json: the document stands for more than 1000000 values/)
  })

  it('ordinary aliases (a shared cluster, merge keys) still validate', async () => {
    const yaml = `static_resources:
  clusters:
  - &c { name: a, connect_timeout: 1s }
  - { <<: *c, name: b }
`
    const r = await runBounded(['--mode', 'validate', '-c', writeTemp('ok.yaml', yaml)])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'OK\n')
  })
})

describe('admin address must be an IP', () => {
  const bootstrap = (address: string): string => `admin:\n  address: { socket_address: { address: ${address}, port_value: 0 } }\n`

  it('--mode validate refuses a name, naming the field', async () => {
    const r = await runBounded(['--mode', 'validate', '-c', writeTemp('admin.yaml', bootstrap('not-an-ip'))])
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /admin\.yaml: admin\.address\.socket_address\.address: malformed IP address: not-an-ip/)
  })

  it('serving refuses it too, before binding anything (a resolvable name such as localhost included)', async () => {
    const r = await runBounded(['-c', writeTemp('admin.yaml', bootstrap('localhost'))])
    assert.equal(r.killed, false, 'the server started with admin on "localhost"')
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /admin\.address\.socket_address\.address: malformed IP address: localhost/)
  })

  it('IPv4 and IPv6 addresses validate', async () => {
    for (const a of ['127.0.0.1', '"::1"']) {
      const r = await runBounded(['--mode', 'validate', '-c', writeTemp('admin.yaml', bootstrap(a))])
      assert.equal(r.code, 0, r.stderr)
    }
  })
})

describe('signals while the config is being loaded', () => {
  for (const [sig, mode] of [['SIGTERM', 'validate'], ['SIGINT', 'validate'], ['SIGTERM', 'serve']] as const) {
    it(`${sig} ends a ${mode} run that is stuck reading its config, with the signal's exit status`, async () => {
      // A FIFO as the config file: reading it blocks (synchronously) until a writer shows up,
      // like a validation that takes long.
      const dir = tempDir()
      const fifo = path.join(dir, 'bootstrap.yaml')
      execFileSync('mkfifo', [fifo])
      const p = new EnvoyProcess(['--mode', mode, '-c', fifo])
      await p.waitForLog((l) => l.msg === 'envoy-ts starting')
      p.child.kill(sig)
      const ended = await Promise.race([p.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), BOUND_MS).unref())])
      if (ended === undefined) {
        // Unblock the read so that the process can end, then fail.
        fs.writeFileSync(fifo, 'admin: {}\n')
        const late = await p.exited
        assert.fail(`${sig} did not end the ${mode} run (it ended only once the config arrived: ${JSON.stringify(late)}, stdout ${JSON.stringify(p.stdout)})`)
      }
      assert.deepEqual(ended, { code: null, signal: sig })
      assert.doesNotMatch(p.stdout, /OK/)
    })
  }
})
