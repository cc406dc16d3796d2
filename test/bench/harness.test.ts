import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BenchChild, findCommand, liveChildren } from '../../bench/lib/child.js'
import { type BenchOptions, defaultOptions, helpText, parseBenchArgs, parseDuration } from '../../bench/lib/options.js'
import { type BenchReport, markdownReport, textReport } from '../../bench/lib/report.js'
import { runBench } from '../../bench/lib/runner.js'
import { DEFAULT_SCENARIOS, SCENARIOS } from '../../bench/scenarios/index.js'
import { ALL_PEERS, TARGETS } from '../../bench/targets/index.js'
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

/** Nothing the run started outlives it: its children, their process groups (nginx workers), the lot. */
function assertAllStopped(report: BenchReport): void {
  for (const p of report.processes) assert.ok(isGone(p.pid), `${p.name} (${p.role}, pid ${p.pid}) is still running`)
  for (const p of report.processes.filter((x) => x.role !== 'target-child')) {
    assert.ok(isGone(-p.pid), `a process of ${p.name}'s group (pgid ${p.pid}) is still running`)
  }
  assert.equal(liveChildren(), 0)
}

// CI installs the peers (.ci/run), so there a missing one fails these tests instead of narrowing them.
const inCi = process.env.CI === 'true'
const haveNginx = inCi || findCommand('nginx') !== undefined
const haveHaproxy = inCi || findCommand('haproxy') !== undefined
const haveWrk = inCi || findCommand('wrk') !== undefined

describe('bench harness', () => {
  it('runs tcp-rr against direct, node-net-pipe and envoy-ts, then stops every process it started', async () => {
    const report = await runBench({ options: tiny({ scenarios: ['tcp-rr'], targets: ['direct', 'node-net-pipe', 'envoy-ts'] }), log: quiet })
    const names = report.processes.filter((p) => p.role !== 'target-child').map((p) => p.name).sort()
    assert.deepEqual(names, ['envoy-ts', 'node-net-pipe', 'upstream'])
    assertAllStopped(report)
    assert.equal(report.skipped.length, 0)
    const [rr] = report.cases
    assert.equal(rr?.scenario, 'tcp-rr')
    assert.deepEqual(rr.results.map((r) => r.target), ['direct', 'node-net-pipe', 'envoy-ts'], 'rows in --targets order')
    for (const r of rr.results) {
      assert.ok(r.median !== undefined, `${r.target} has a measured round`)
      assert.ok(r.median.ops > 0, `${r.target} completed requests`)
      assert.equal(r.median.errorCount, 0, `${r.target} errors: ${JSON.stringify(r.median.errors)}`)
      assert.equal(r.median.latency?.count, r.median.ops, 'one latency sample per counted request')
      assert.equal(r.median.proxy === undefined, r.target === 'direct', 'proxy CPU is measured for proxies only')
    }
    assert.equal(rr.results.find((r) => r.target === 'envoy-ts')?.vsEnvoyTs, 1)
    assert.ok(report.targetLines.some((l) => /tcp-rr: envoy-ts .* node-net-pipe/.test(l)), report.targetLines.join('\n'))
  })

  it('counts exactly K requests per connection in fixed mode, through every target (tcp-rr)', async () => {
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
    assertAllStopped(report)
  })

  it('counts exactly K HTTP requests per connection through every HTTP target, keep-alive, new connections and 1 MiB uploads', async () => {
    const k = 25
    const connections = 3
    const targets = ['direct', 'envoy-ts', 'node-undici', 'node-http-proxy', ...(haveNginx ? ['nginx'] : []), ...(haveHaproxy ? ['haproxy'] : [])]
    const report = await runBench({
      options: tiny({ scenarios: ['http-small', 'http-64k', 'http-new-conn', 'http-post-1m'], targets, connections, requestsPerConnection: k }),
      log: quiet,
    })
    assert.deepEqual(report.skipped, [])
    assert.deepEqual(report.cases.map((c) => c.scenario), ['http-small', 'http-64k', 'http-new-conn', 'http-post-1m'])
    for (const c of report.cases) {
      assert.equal(c.mode, 'fixed')
      assert.deepEqual(c.results.map((r) => r.target).sort(), [...targets].sort())
      for (const r of c.results) {
        const m = r.median
        assert.ok(m !== undefined, `${c.scenario} ${r.target}: ${r.skipped}`)
        assert.equal(m.ops, k * connections, `${c.scenario} ${r.target}: ${m.ops} responses, errors ${JSON.stringify(m.errors)}`)
        assert.equal(m.errorCount, 0, `${c.scenario} ${r.target}: ${JSON.stringify(m.errors)}`)
        assert.equal(m.latency?.count, k * connections)
        assert.ok(m.bytesRate > 0)
      }
      assert.ok(c.notApplicable.length === 0, 'every target of this run speaks HTTP')
    }
    assertAllStopped(report)
    if (haveNginx) {
      // nginx runs a master and its workers: the workers were seen, and are gone too.
      assert.ok(report.processes.some((p) => p.role === 'target-child' && p.name === 'nginx'), 'nginx workers recorded')
    }
  })

  it('serves the runtime scenarios from envoy-ts and the bare baseline, with exact counts', async () => {
    const k = 20
    const connections = 2
    const report = await runBench({
      options: tiny({ scenarios: ['runtime-grpc', 'runtime-http'], targets: ['direct', 'envoy-ts', 'nginx'], connections, requestsPerConnection: k }),
      log: quiet,
    })
    assert.deepEqual(report.cases.map((c) => `${c.scenario}/${c.case}`), ['runtime-grpc/save', 'runtime-grpc/get', 'runtime-http/save', 'runtime-http/get'])
    for (const c of report.cases) {
      assert.deepEqual(c.notApplicable, ['nginx'], 'a proxy without a runtime API is not applicable')
      for (const r of c.results) {
        if (r.skipped !== undefined) {
          // Only the runtime HTTP API may be missing (the dapr_api filter is the newest part).
          assert.equal(c.scenario, 'runtime-http', `${c.scenario} ${r.target}: ${r.skipped}`)
          assert.match(r.skipped, /envoy-ts refused its runtime listener/)
          continue
        }
        assert.equal(r.median?.ops, k * connections, `${c.scenario}/${c.case} ${r.target}: ${r.median?.ops}, errors ${JSON.stringify(r.median?.errors)}`)
      }
    }
    assert.equal(report.figureLines.length > 0, true)
    assertAllStopped(report)
  })

  it('holds idle connections, serves one request on each and reports the proxy RSS around it', async () => {
    const n = 60
    const report = await runBench({
      options: tiny({ scenarios: ['idle-conns'], targets: ['direct', 'envoy-ts', ...(haveNginx ? ['nginx'] : [])], idleConnections: n }),
      log: quiet,
    })
    const [idle] = report.cases
    assert.equal(idle?.kind, 'idle')
    for (const r of idle.results) {
      const i = r.median?.idle
      assert.ok(i !== undefined, `${r.target}: ${r.skipped}`)
      assert.equal(i.opened, n)
      assert.equal(i.served, n, `${r.target}: errors ${JSON.stringify(r.median?.errors)}`)
      assert.equal(i.stillOpen, n)
      assert.equal(i.rssBeforeBytes === undefined, r.target === 'direct', 'RSS is sampled for proxies')
    }
    assert.ok(report.targetLines.some((l) => l.includes('idle-conns: envoy-ts opened')))
    assertAllStopped(report)
  })

  it('drives the HTTP cases with wrk when asked (--load wrk)', { skip: haveWrk ? false : 'wrk is not installed' }, async () => {
    const report = await runBench({
      options: tiny({ scenarios: ['http-small'], targets: ['direct', 'envoy-ts'], load: 'wrk', durationMs: 1000, connections: 4, loadThreads: 1 }),
      log: quiet,
    })
    const [c] = report.cases
    for (const r of c!.results) {
      assert.equal(r.median?.loadGen, 'wrk')
      assert.ok((r.median?.ops ?? 0) > 0, `${r.target}: ${JSON.stringify(r.median)}`)
      assert.ok(r.median?.latency?.p99Us !== undefined)
    }
    assert.ok(report.processes.some((p) => p.name === 'wrk'))
    assertAllStopped(report)
  })

  it('reports a peer that is not installed as skipped, with a message and the install command, and measures the rest', async () => {
    const missing: Target = {
      name: 'missing-peer',
      description: 'a peer proxy that is not installed',
      kind: 'proxy',
      protocols: ['tcp', 'http'],
      async start() {
        await BenchChild.start({ role: 'target', name: 'missing-peer', command: 'envoy-ts-bench-no-such-command', args: [] })
        throw new Error('unreachable: the command does not exist')
      },
    }
    const report = await runBench({
      options: tiny({
        scenarios: ['tcp-rr', 'http-small'], targets: ['direct', 'missing-peer', 'envoy', 'nginx', 'haproxy'],
        envoyBin: '/nonexistent/bin/envoy', nginxBin: '/nonexistent/bin/nginx', haproxyBin: '/nonexistent/bin/haproxy',
      }),
      extraTargets: [missing],
      log: quiet,
    })
    assert.deepEqual(report.skipped.map((s) => s.target), ['missing-peer', 'envoy', 'nginx', 'haproxy'])
    const reason = (t: string): string => report.skipped.find((s) => s.target === t)!.reason
    assert.match(reason('missing-peer'), /command not found: envoy-ts-bench-no-such-command/)
    assert.match(reason('envoy'), /command not found: \/nonexistent\/bin\/envoy/)
    assert.match(reason('nginx'), /command not found: \/nonexistent\/bin\/nginx \(install: apt-get install -y nginx\)/)
    assert.match(reason('haproxy'), /command not found: \/nonexistent\/bin\/haproxy \(install: apt-get install -y haproxy\)/)
    for (const c of report.cases) {
      assert.ok((c.results.find((r) => r.target === 'direct')?.median?.ops ?? 0) > 0)
      assert.match(c.results.find((r) => r.target === 'nginx')?.skipped ?? '', /apt-get install -y nginx/)
    }
    assert.match(textReport(report), /missing-peer: skipped — missing-peer: command not found/)
    assert.match(markdownReport(report), /skipped nginx: nginx: command not found/)
    assertAllStopped(report)
  })

  it('stops at its announced limit, stops everything, and reports the cases it finished', async () => {
    const started = Date.now()
    const report = await runBench({
      options: tiny({ scenarios: ['tcp-rr', 'http-small'], targets: ['direct', 'envoy-ts'], durationMs: 20_000, rounds: 2 }),
      limitMs: 9000,
      log: quiet,
    })
    assert.match(report.truncated ?? '', /passed its announced limit of 0:09/)
    assert.ok(Date.now() - started < 9000 + 8000, 'stopped soon after the limit (children get a few seconds to exit)')
    assert.ok(report.cases.length < 2, 'the unfinished scenario is not reported')
    assert.match(textReport(report), /STOPPED EARLY/)
    assertAllStopped(report)
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
    const defaults = parseBenchArgs([])
    assert.ok(defaults.kind === 'run' && defaults.options.scenarios.join() === DEFAULT_SCENARIOS.join())
    for (const s of ['http-small', 'http-new-conn', 'tcp-rr', 'runtime-grpc']) assert.ok(DEFAULT_SCENARIOS.includes(s), `${s} is a default scenario`)
    const all = parseBenchArgs(['--scenario', 'all', '--peers', 'all', '--load', 'wrk'])
    assert.ok(all.kind === 'run')
    if (all.kind !== 'run') return
    assert.deepEqual(all.options.scenarios, SCENARIOS.map((s) => s.name))
    assert.deepEqual(all.options.targets, ['direct', 'envoy-ts', ...ALL_PEERS])
    assert.equal(all.options.load, 'wrk')
    const none = parseBenchArgs(['--peers', 'none'])
    assert.ok(none.kind === 'run' && none.options.targets.join() === 'direct,envoy-ts')
    assert.throws(() => parseBenchArgs(['--scenario', 'nope']), { code: 'BENCH_USAGE', message: /unknown scenario "nope"/ })
    assert.throws(() => parseBenchArgs(['--connections', '0']), { code: 'BENCH_USAGE' })
    assert.throws(() => parseBenchArgs(['--load', 'ab']), { code: 'BENCH_USAGE' })
    assert.throws(() => parseBenchArgs(['--frobnicate']), { code: 'BENCH_USAGE' })
    const help = helpText()
    for (const s of SCENARIOS) assert.ok(help.includes(s.name), `--help lists scenario ${s.name}`)
    for (const t of TARGETS) assert.ok(help.includes(t.name), `--help lists target ${t.name}`)
    for (const o of ['--scenario', '--targets', '--peers', '--duration', '--rounds', '--warmup', '--connections', '--concurrency', '--load-threads', '--requests',
      '--idle-connections', '--load', '--pin', '--profile', '--out', '--no-save', '--help']) {
      assert.ok(help.includes(o), `--help lists ${o}`)
    }
  })
})
