import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BenchChild, liveChildren } from '../../bench/lib/child.js'
import { type BenchOptions, defaultOptions, helpText, parseBenchArgs, parseDuration } from '../../bench/lib/options.js'
import { textReport } from '../../bench/lib/report.js'
import { runBench } from '../../bench/lib/runner.js'
import { SCENARIOS } from '../../bench/scenarios/index.js'
import { TARGETS } from '../../bench/targets/index.js'
import type { Target } from '../../bench/targets/types.js'

/** A tiny run: no files, no warm-up, one round. */
function tiny(over: Partial<BenchOptions>): BenchOptions {
  return { ...defaultOptions(), durationMs: 300, rounds: 1, warmupMs: 0, connections: 2, loadThreads: 2, save: false, ...over }
}

const quiet = (): void => {}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

describe('bench harness', () => {
  it('runs tcp-rr against direct, node-net-pipe and envoy-ts, then stops every process it started', async () => {
    const report = await runBench({ options: tiny({ scenarios: ['tcp-rr'], targets: ['direct', 'node-net-pipe', 'envoy-ts'] }), log: quiet })
    const roles = report.processes.map((p) => p.name).sort()
    assert.deepEqual(roles, ['envoy-ts', 'node-net-pipe', 'tcp-upstream'])
    for (const p of report.processes) assert.ok(isGone(p.pid), `${p.name} (pid ${p.pid}) is still running`)
    assert.equal(liveChildren(), 0)
    assert.equal(report.skipped.length, 0)
    const [rr] = report.cases
    assert.equal(rr?.scenario, 'tcp-rr')
    assert.deepEqual(rr.results.map((r) => r.target), ['direct', 'node-net-pipe', 'envoy-ts'])
    for (const r of rr.results) {
      assert.ok(r.median !== undefined, `${r.target} has a measured round`)
      assert.ok(r.median.ops > 0, `${r.target} completed requests`)
      assert.equal(r.median.errorCount, 0, `${r.target} errors: ${JSON.stringify(r.median.errors)}`)
      assert.equal(r.median.latency?.count, r.median.ops, 'one latency sample per counted request')
      assert.equal(r.median.proxy === undefined, r.target === 'direct', 'proxy CPU is measured for proxies only')
    }
    assert.equal(rr.results.find((r) => r.target === 'envoy-ts')?.vsEnvoyTs, 1)
    assert.equal(report.verdicts.length, 1)
  })

  it('counts exactly K requests per connection in fixed mode, through every target', async () => {
    const k = 40
    const connections = 3
    const report = await runBench({
      options: tiny({ scenarios: ['tcp-rr'], targets: ['direct', 'node-net-pipe', 'envoy-ts'], connections, requestsPerConnection: k }),
      log: quiet,
    })
    const [rr] = report.cases
    assert.equal(rr?.mode, 'fixed')
    for (const r of rr.results) {
      assert.equal(r.median?.ops, k * connections, `${r.target}: ${r.median?.ops} requests, errors ${JSON.stringify(r.median?.errors)}`)
      assert.equal(r.median?.latency?.count, k * connections)
      assert.equal(r.median?.connected, connections)
    }
    for (const p of report.processes) assert.ok(isGone(p.pid), `${p.name} (pid ${p.pid}) is still running`)
  })

  it('reports a peer whose binary is missing as skipped, with a message, and measures the rest', async () => {
    const missing: Target = {
      name: 'missing-peer',
      description: 'a peer proxy that is not installed',
      kind: 'proxy',
      async start() {
        await BenchChild.start({ role: 'target', name: 'missing-peer', command: 'envoy-ts-bench-no-such-command', args: [] })
        throw new Error('unreachable: the command does not exist')
      },
    }
    const report = await runBench({
      options: tiny({ scenarios: ['tcp-rr'], targets: ['direct', 'missing-peer', 'envoy'], envoyBin: '/nonexistent/bin/envoy' }),
      extraTargets: [missing],
      log: quiet,
    })
    assert.deepEqual(report.skipped.map((s) => s.target), ['missing-peer', 'envoy'])
    assert.match(report.skipped[0]!.reason, /command not found: envoy-ts-bench-no-such-command/)
    assert.match(report.skipped[1]!.reason, /command not found: \/nonexistent\/bin\/envoy/)
    const [rr] = report.cases
    assert.ok((rr?.results.find((r) => r.target === 'direct')?.median?.ops ?? 0) > 0)
    assert.match(rr!.results.find((r) => r.target === 'envoy')?.skipped ?? '', /command not found/)
    assert.match(textReport(report), /missing-peer: skipped — missing-peer: command not found/)
    assert.equal(liveChildren(), 0)
  })

  it('parses the command line and lists every option, scenario and target in --help', () => {
    const parsed = parseBenchArgs(['--scenario', 'tcp-rr,tcp-stream', '--duration', '10s', '--connections', '32', '--pin'])
    assert.equal(parsed.kind, 'run')
    if (parsed.kind !== 'run') return
    assert.deepEqual(parsed.options.scenarios, ['tcp-rr', 'tcp-stream'])
    assert.equal(parsed.options.durationMs, 10_000)
    assert.equal(parsed.options.connections, 32)
    assert.equal(parsed.options.pin, true)
    assert.equal(parseDuration('d', '300ms'), 300)
    assert.equal(parseDuration('d', '1.5m'), 90_000)
    assert.equal(parseDuration('d', '2'), 2000)
    assert.deepEqual(parseBenchArgs(['-h']), { kind: 'help' })
    assert.throws(() => parseBenchArgs(['--scenario', 'nope']), { code: 'BENCH_USAGE', message: /unknown scenario "nope"/ })
    assert.throws(() => parseBenchArgs(['--connections', '0']), { code: 'BENCH_USAGE' })
    assert.throws(() => parseBenchArgs(['--frobnicate']), { code: 'BENCH_USAGE' })
    const help = helpText()
    for (const s of SCENARIOS) assert.ok(help.includes(s.name), `--help lists scenario ${s.name}`)
    for (const t of TARGETS) assert.ok(help.includes(t.name), `--help lists target ${t.name}`)
    for (const o of ['--scenario', '--targets', '--duration', '--rounds', '--warmup', '--connections', '--concurrency', '--load-threads', '--requests', '--pin', '--profile', '--out', '--no-save', '--help']) {
      assert.ok(help.includes(o), `--help lists ${o}`)
    }
  })
})
