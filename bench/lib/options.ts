import os from 'node:os'
import { DEFAULT_SCENARIOS, SCENARIOS } from '../scenarios/index.js'
import { ALL_PEERS, BASE_TARGETS, DEFAULT_PEERS, DEFAULT_TARGETS, TARGETS } from '../targets/index.js'

/** Everything a run needs; `parseBenchArgs` fills it from argv, tests build it directly. */
export interface BenchOptions {
  scenarios: string[]
  targets: string[]
  /** Measured time per target per scenario, split over rounds (and a scenario's cases). */
  durationMs: number
  rounds: number
  /** Unmeasured time per target per case before the first round. */
  warmupMs: number
  connections: number
  /** Worker threads of envoy-ts (and envoy). */
  concurrency: number
  /** Piscina threads generating load. */
  loadThreads: number
  requestSize: number
  responseSize: number
  chunkSize: number
  /** Fixed mode (request/response cases): exactly this many requests per connection per round. */
  requestsPerConnection?: number
  /** idle-conns: connections held per target. */
  idleConnections: number
  /** `own`: the bench's load generator; `wrk`: wrk for the HTTP cases that it can drive. */
  load: 'own' | 'wrk'
  pin: boolean
  profile: boolean
  envoyBin: string
  nginxBin: string
  haproxyBin: string
  wrkBin: string
  /** `per_connection_buffer_limit_bytes` on envoy-ts/envoy listeners and clusters; unset: 1 MiB. */
  bufferLimit?: number
  /** Extra Node/V8 flags for the envoy-ts process (e.g. `--initial-heap-size=64`). */
  envoyTsNodeFlags: string[]
  /** Result directory; default bench/results/<timestamp>/. */
  outDir?: string
  save: boolean
}

export function defaultLoadThreads(): number {
  return Math.max(1, Math.floor(os.availableParallelism() / 2))
}

export function defaultOptions(): BenchOptions {
  return {
    scenarios: [...DEFAULT_SCENARIOS],
    targets: [...DEFAULT_TARGETS],
    durationMs: 3000,
    rounds: 3,
    warmupMs: 1000,
    connections: 32,
    concurrency: 1,
    loadThreads: defaultLoadThreads(),
    requestSize: 100,
    responseSize: 100,
    chunkSize: 64 * 1024,
    idleConnections: 10_000,
    load: 'own',
    pin: false,
    profile: false,
    envoyBin: 'envoy',
    nginxBin: 'nginx',
    haproxyBin: 'haproxy',
    wrkBin: 'wrk',
    envoyTsNodeFlags: [],
    save: true,
  }
}

export class UsageError extends Error {
  readonly code = 'BENCH_USAGE'
}

/** `10s`, `300ms`, `1.5m`, or a bare number of seconds. */
export function parseDuration(name: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim())
  if (m === null) throw new UsageError(`--${name}: expected a duration like 10s, 500ms or 1m, got "${v}"`)
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  return Math.round(unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000)
}

function parseCount(name: string, v: string, min: number): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got "${v}"`)
  return n
}

interface OptionSpec {
  long: string
  short?: string
  /** Placeholder for the value; absent for flags. */
  arg?: string
  help: string
  /** Default as shown in --help. */
  shown?: () => string
  apply(o: BenchOptions, v: string): void
}

function list(v: string): string[] {
  return v.split(',').map((x) => x.trim()).filter((x) => x !== '')
}

const SPECS: readonly OptionSpec[] = [
  {
    long: 'scenario', short: 's', arg: 'list', help: 'comma-separated scenarios to run, or `all` (see below)',
    shown: () => DEFAULT_SCENARIOS.join(','), apply: (o, v) => { o.scenarios = v.trim() === 'all' ? SCENARIOS.map((s) => s.name) : list(v) },
  },
  {
    long: 'targets', short: 't', arg: 'list', help: 'comma-separated targets, in table order (see below); overrides --peers',
    shown: () => DEFAULT_TARGETS.join(','), apply: (o, v) => { o.targets = list(v) },
  },
  {
    long: 'peers', short: 'p', arg: 'list',
    help: `the peers next to ${BASE_TARGETS.join(' and ')}: \`all\` (${ALL_PEERS.join(', ')}), \`none\`, or a comma-separated list`,
    shown: () => DEFAULT_PEERS.join(','),
    apply: (o, v) => {
      const peers = v.trim() === 'all' ? ALL_PEERS : v.trim() === 'none' ? [] : list(v)
      o.targets = [...BASE_TARGETS, ...peers.filter((p) => !BASE_TARGETS.includes(p))]
    },
  },
  {
    long: 'duration', short: 'd', arg: 'time',
    help: 'measured time per target per scenario, split evenly over the rounds and the scenario\'s cases (10s, 500ms, 1m)',
    shown: () => '3s', apply: (o, v) => { o.durationMs = parseDuration('duration', v) },
  },
  {
    long: 'rounds', short: 'r', arg: 'n', help: 'measured rounds per target, interleaved A B C A B C; the median round is reported',
    shown: () => '3', apply: (o, v) => { o.rounds = parseCount('rounds', v, 1) },
  },
  {
    long: 'warmup', short: 'w', arg: 'time', help: 'unmeasured warm-up per target per case before the first round (0 to skip)',
    shown: () => '1s', apply: (o, v) => { o.warmupMs = parseDuration('warmup', v) },
  },
  {
    long: 'connections', short: 'c', arg: 'n', help: 'concurrent client connections (spread over the load threads)',
    shown: () => '32', apply: (o, v) => { o.connections = parseCount('connections', v, 1) },
  },
  {
    long: 'concurrency', arg: 'n', help: 'workers of every proxy: envoy-ts (and envoy) threads, nginx worker_processes, haproxy nbthread, Node peers\' processes (node:cluster); node-net-pipe always has one',
    shown: () => '1', apply: (o, v) => { o.concurrency = parseCount('concurrency', v, 1) },
  },
  {
    long: 'load-threads', arg: 'n', help: 'load generator threads (a piscina pool; each runs its share of the connections)',
    shown: () => `${defaultLoadThreads()} (half the cores)`, apply: (o, v) => { o.loadThreads = parseCount('load-threads', v, 1) },
  },
  {
    long: 'request-size', arg: 'bytes', help: 'tcp-rr request size', shown: () => '100',
    apply: (o, v) => { o.requestSize = parseCount('request-size', v, 1) },
  },
  {
    long: 'response-size', arg: 'bytes', help: 'tcp-rr response size', shown: () => '100',
    apply: (o, v) => { o.responseSize = parseCount('response-size', v, 1) },
  },
  {
    long: 'chunk-size', arg: 'bytes', help: 'tcp-stream write size (client for upload, upstream for download)', shown: () => '65536',
    apply: (o, v) => { o.chunkSize = parseCount('chunk-size', v, 1) },
  },
  {
    long: 'requests', arg: 'n', help: 'fixed mode for the request/response cases (tcp-rr, http-*, runtime-*): exactly n requests per connection per round instead of a timed window',
    apply: (o, v) => { o.requestsPerConnection = parseCount('requests', v, 1) },
  },
  {
    long: 'idle-connections', arg: 'n', help: 'idle-conns: keep-alive connections held per target', shown: () => '10000',
    apply: (o, v) => { o.idleConnections = parseCount('idle-connections', v, 1) },
  },
  {
    long: 'load', arg: 'own|wrk', help: 'load generator for the HTTP cases: the bench\'s own (Node, raw sockets) or wrk (whole seconds per round; other cases keep the own one)',
    shown: () => 'own',
    apply: (o, v) => {
      if (v !== 'own' && v !== 'wrk') throw new UsageError(`--load: expected own or wrk, got "${v}"`)
      o.load = v
    },
  },
  {
    long: 'pin', help: 'with taskset: the proxy on its own CPU(s) (the last --concurrency ones, at most all but one), upstream and load generator on the others', shown: () => 'off',
    apply: (o) => { o.pin = true },
  },
  {
    long: 'profile', help: 'CPU-profile the proxies during measured rounds (envoy-ts: admin /cpuprofiler, per scenario; Node peers: --cpu-prof, whole run); profiling slows them, so compare numbers only between profiled runs',
    apply: (o) => { o.profile = true },
  },
  {
    long: 'buffer-limit', arg: 'bytes',
    help: 'per_connection_buffer_limit_bytes on the envoy-ts/envoy listeners and clusters (flow-control watermark)',
    shown: () => 'unset (1 MiB, Envoy\'s default)', apply: (o, v) => { o.bufferLimit = parseCount('buffer-limit', v, 1) },
  },
  {
    long: 'envoy-ts-node-flags', arg: 'flags',
    help: 'extra Node/V8 flags for the envoy-ts process, space-separated (e.g. "--initial-heap-size=64")',
    apply: (o, v) => { o.envoyTsNodeFlags = v.split(/\s+/).filter((x) => x !== '') },
  },
  {
    long: 'envoy-bin', arg: 'path', help: 'the real Envoy binary for the `envoy` target', shown: () => 'envoy (on PATH)',
    apply: (o, v) => { o.envoyBin = v },
  },
  {
    long: 'nginx-bin', arg: 'path', help: 'nginx for the `nginx` target', shown: () => 'nginx (on PATH)',
    apply: (o, v) => { o.nginxBin = v },
  },
  {
    long: 'haproxy-bin', arg: 'path', help: 'haproxy for the `haproxy` target', shown: () => 'haproxy (on PATH)',
    apply: (o, v) => { o.haproxyBin = v },
  },
  {
    long: 'wrk-bin', arg: 'path', help: 'wrk for --load wrk', shown: () => 'wrk (on PATH)',
    apply: (o, v) => { o.wrkBin = v },
  },
  {
    long: 'out', short: 'o', arg: 'dir', help: 'where results.json, results.md (and profiles) go', shown: () => 'bench/results/<timestamp>/',
    apply: (o, v) => { o.outDir = v },
  },
  {
    long: 'no-save', help: 'print the tables only, write no files', apply: (o) => { o.save = false },
  },
  { long: 'help', short: 'h', help: 'this text', apply: () => {} },
]

export type ParsedBenchArgs = { kind: 'help' } | { kind: 'run'; options: BenchOptions }

/** Parses `npm run bench -- <args>`; throws UsageError with a message fit for the user. */
export function parseBenchArgs(argv: readonly string[]): ParsedBenchArgs {
  const o = defaultOptions()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    let spec: OptionSpec | undefined
    let value: string | undefined
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2)
      if (eq >= 0) value = arg.slice(eq + 1)
      spec = SPECS.find((s) => s.long === name)
      if (spec === undefined) throw new UsageError(`unknown option "--${name}" (see --help)`)
    } else if (/^-[a-zA-Z]$/.test(arg)) {
      spec = SPECS.find((s) => s.short === arg.slice(1))
      if (spec === undefined) throw new UsageError(`unknown option "${arg}" (see --help)`)
    } else {
      throw new UsageError(`unexpected argument "${arg}" (see --help)`)
    }
    if (spec.long === 'help') return { kind: 'help' }
    if (spec.arg === undefined) {
      if (value !== undefined) throw new UsageError(`--${spec.long} takes no value`)
      spec.apply(o, '')
      continue
    }
    if (value === undefined) {
      value = argv[++i]
      if (value === undefined) throw new UsageError(`--${spec.long} needs a value <${spec.arg}>`)
    }
    spec.apply(o, value)
  }
  validateOptions(o)
  return { kind: 'run', options: o }
}

/** Checks names and combinations; throws UsageError. */
export function validateOptions(o: BenchOptions, extraTargets: readonly string[] = []): void {
  const knownScenarios = SCENARIOS.map((s) => s.name)
  for (const s of o.scenarios) {
    if (!knownScenarios.includes(s)) throw new UsageError(`unknown scenario "${s}" (known: ${knownScenarios.join(', ')})`)
  }
  if (o.scenarios.length === 0) throw new UsageError('no scenario given')
  const knownTargets = [...TARGETS.map((t) => t.name), ...extraTargets]
  for (const t of o.targets) {
    if (!knownTargets.includes(t)) throw new UsageError(`unknown target "${t}" (known: ${knownTargets.join(', ')})`)
  }
  if (o.targets.length === 0) throw new UsageError('no target given')
  if (new Set(o.targets).size !== o.targets.length) throw new UsageError('a target is listed twice')
  if (o.durationMs <= 0 && o.requestsPerConnection === undefined) throw new UsageError('--duration must be positive')
}

/** The --help text: usage, every option with its default, every scenario and target. */
export function helpText(): string {
  const out: string[] = [
    'envoy-ts benchmark harness',
    '',
    'usage: npm run bench -- [options]',
    '       node dist/bench/index.js [options]',
    '',
    'Starts an upstream and every target on loopback with free ports, drives them with a load',
    'generator on worker threads, and prints one table per measured case (plus results.json and',
    'results.md under bench/results/<timestamp>/). Every process it starts is stopped at the end.',
    '',
    'options:',
  ]
  const left = (s: OptionSpec): string => `${s.short !== undefined ? `-${s.short}, ` : '    '}--${s.long}${s.arg !== undefined ? ` <${s.arg}>` : ''}`
  const width = Math.max(...SPECS.map((s) => left(s).length)) + 2
  for (const s of SPECS) {
    const def = s.shown !== undefined ? ` [default: ${s.shown()}]` : ''
    out.push(`  ${left(s).padEnd(width)}${s.help}${def}`)
  }
  out.push('', 'scenarios:')
  const sw = Math.max(...SCENARIOS.map((s) => s.name.length)) + 2
  for (const s of SCENARIOS) {
    out.push(`  ${s.name.padEnd(sw)}${s.description}`)
    if (s.cases.length > 1) out.push(`  ${''.padEnd(sw)}cases: ${s.cases.map((c) => c.name).join(', ')} (each gets an equal share of --duration)`)
  }
  out.push('', 'targets (a target that cannot front a scenario\'s protocol is left out of its table):')
  const tw = Math.max(...TARGETS.map((t) => t.name.length)) + 2
  for (const t of TARGETS) {
    out.push(`  ${t.name.padEnd(tw)}${t.description} [${t.protocols.join(', ')}]`)
    if (t.install !== undefined) out.push(`  ${''.padEnd(tw)}when missing: ${t.install}`)
  }
  out.push(
    '',
    'examples:',
    '  npm run bench                                  # the default scenarios and targets, about 2 minutes',
    '  npm run bench -- --scenario http-small --concurrency 2 --duration 20s --connections 64 --peers all',
    '  npm run bench -- --scenario http-small --profile   # also writes a CPU profile of the proxy',
    '  npm run bench -- -s http-small,tcp-rr -t node-undici,nginx,envoy-ts --pin',
    '  npm run bench -- -s http-small --load wrk      # the same with wrk as the load generator',
    '  npm run bench -- -s tcp-rr --requests 1000 --rounds 1 --warmup 0   # exact request count',
    '',
    'Read bench/README.md for what the columns mean.',
  )
  return `${out.join('\n')}\n`
}
