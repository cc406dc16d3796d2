/**
 * Micro-benchmark of the regex engines envoy-ts could use for config and client regexes (issue
 * 18): JS RegExp (backtracking; the old engine), re2js (pure JS, the one we ship), `re2` (native
 * RE2 bindings) and `re2-wasm`. Cases: (1) a typical route `safe_regex` full match, hit and miss;
 * (2) one tag-extraction pass (Envoy's 16 default extractors over 8 stat names, with groups);
 * (3) compiling a pattern; (4) the crafted backtracking case `(a+)+$` on `a…a!`.
 *
 *   npx tsc -p . && node dist/bench/common/common/regex.bench.js [iterations]
 *
 * Only re2js is a dependency. To compare the others, install them somewhere else and point
 * RE2_BENCH_MODULES at that node_modules, e.g.
 *   (mkdir -p /tmp/re2c && cd /tmp/re2c && npm init -y && npm i re2 re2-wasm)
 *   RE2_BENCH_MODULES=/tmp/re2c/node_modules node dist/bench/common/common/regex.bench.js
 */
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { RE2JS } from 're2js'
import { compileRe2 } from '../../../source/common/common/regex.js'

const N = Number(process.argv[2] ?? 200_000)

/** What every engine offers here: full match, partial match, first match with groups. */
interface Engine {
  name: string
  compile(pattern: string): { full(s: string): boolean; partial(s: string): boolean; groups(s: string): Array<string | undefined> | undefined }
}

interface NodeRe2Like {
  test(s: string): boolean
  exec(s: string): Array<string | undefined> | null
}
type NodeRe2Ctor = new (pattern: string, flags?: string) => NodeRe2Like

function loadOptional<T>(name: string, pick: (m: unknown) => T): T | undefined {
  const dirs = [process.env.RE2_BENCH_MODULES, process.cwd()].filter((d): d is string => d !== undefined && d !== '')
  for (const d of dirs) {
    try {
      return pick(createRequire(path.join(d, 'noop.js'))(name))
    } catch {
      // Not installed there.
    }
  }
  return undefined
}

function regExpLike(name: string, Ctor: NodeRe2Ctor, flags: string): Engine {
  return {
    name,
    compile(p) {
      const full = new Ctor(`^(?:${p})$`, flags)
      const part = new Ctor(p, flags)
      return {
        full: (s) => full.test(s),
        partial: (s) => part.test(s),
        groups: (s) => part.exec(s) ?? undefined,
      }
    },
  }
}

const engines: Engine[] = [
  regExpLike('JS RegExp (backtracking)', RegExp as unknown as NodeRe2Ctor, ''),
  {
    name: 're2js 2.x (direct)',
    compile(p) {
      const re = RE2JS.compile(p)
      return {
        full: (s) => re.testExact(s),
        partial: (s) => re.test(s),
        groups: (s) => {
          const m = re.matcher(s)
          if (!m.find()) return undefined
          const out: Array<string | undefined> = []
          for (let g = 0; g <= re.groupCount(); g++) out.push(m.group(g) ?? undefined)
          return out
        },
      }
    },
  },
  {
    name: 'envoy-ts CompiledMatcher (re2js)',
    compile(p) {
      const re = compileRe2(p)
      return {
        full: (s) => re.match(s),
        partial: (s) => re.search(s),
        groups: (s) => re.find(s)?.groups.map((g) => g?.value),
      }
    },
  },
]
const nativeRe2 = loadOptional('re2', (m) => m as NodeRe2Ctor)
if (nativeRe2 !== undefined) engines.push(regExpLike('re2 (native bindings)', nativeRe2, 'u'))
else console.log('re2 (native bindings): not installed (see the header comment)')
const wasmRe2 = loadOptional('re2-wasm', (m) => (m as { RE2: NodeRe2Ctor }).RE2)
if (wasmRe2 !== undefined) engines.push(regExpLike('re2-wasm', wasmRe2, 'u'))
else console.log('re2-wasm: not installed (see the header comment)')

function time(n: number, fn: () => void, warmUp = Math.min(n, 20_000)): number {
  for (let i = 0; i < warmUp; i++) fn()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn()
  return Number(process.hrtime.bigint() - t0) / n
}

const ROUTE = '/api/v[0-9]+/users/[0-9]+/orders(/.*)?'
const HIT = '/api/v2/users/12345/orders/987'
const MISS = '/api/v2/users/12345/invoices/987'

/** Envoy's default tag extractors, in their RE2 form (source/common/stats/tag-extractor.ts). */
const TAGS = [
  '_rq(_(\\d{3}))$', '_rq_(\\d)xx$', '^http(?:\\..*?)?\\.user_agent\\.((.*?)\\.)\\w+?$',
  '^vhost(?:\\..*?)?\\.vcluster\\.((.*?)\\.)\\w+?$', '^http(?:\\..*?)?\\.fault\\.((.*?)\\.)\\w+?$',
  '^tcp\\.((.*?)\\.)\\w+?$', '^udp\\.((.*?)\\.)\\w+?$', '^ratelimit\\.((.*?)\\.)\\w+?$',
  '^connection_limit\\.((.*?)\\.)\\w+?$', '^local_rate_limit\\.((.*?)\\.)\\w+?$', '^cluster\\.((.*?)\\.)',
  '^(?:|listener(?:\\..*?)?\\.)http\\.((.*?)\\.)', '^listener\\.(((?:[_.\\d]*|[_\\[\\]aAbBcCdDeEfF\\d]*))\\.)',
  '^(?:listener_manager|listener|server)\\.(?:.*?\\.)??((worker_\\d+)\\.)', '^vhost\\.((.*?)\\.)',
  '^http(?:\\..*?)?\\.rds\\.((.*?)\\.)\\w+?$',
]
const STAT_NAMES = [
  'cluster.backend.upstream_rq_200', 'cluster.backend.upstream_rq_5xx', 'http.ingress_http.downstream_rq_2xx',
  'listener.127.0.0.1_10000.downstream_cx_total', 'listener.127.0.0.1_10000.worker_3.downstream_cx_total',
  'tcp.tcp_in.downstream_cx_total', 'server.worker_1.watchdog_miss', 'http.ingress_http.user_agent.ios.downstream_cx_total',
]

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'}, 1 thread, ${N} iterations`)
console.log(`route regex: ${ROUTE}; tag pass: ${TAGS.length} extractors x ${STAT_NAMES.length} names`)
console.log(`${'engine'.padEnd(34)} ${'route hit'.padStart(10)} ${'route miss'.padStart(10)} ${'tag pass'.padStart(10)} ${'compile'.padStart(10)}`)
for (const e of engines) {
  try {
    row(e)
  } catch (err) {
    // re2-wasm never frees a compiled pattern and its heap is fixed at 16 MiB: it aborts
    // after a few thousand compiles.
    console.log(`${e.name.padEnd(34)} failed: ${(err as Error).message.split('\n')[0]!.slice(0, 120)}`)
  }
}

function row(e: Engine): void {
  const r = e.compile(ROUTE)
  if (!r.full(HIT) || r.full(MISS)) throw new Error(`${e.name}: wrong route result`)
  const hit = time(N, () => r.full(HIT))
  const miss = time(N, () => r.full(MISS))
  const tags = TAGS.map((t) => e.compile(t))
  const pass = time(Math.ceil(N / 100), () => {
    for (const name of STAT_NAMES) for (const t of tags) t.groups(name)
  })
  const compile = time(200, () => e.compile(ROUTE), 20)
  const us = (ns: number): string => `${(ns / 1000).toFixed(2)} µs`.padStart(10)
  console.log(`${e.name.padEnd(34)} ${us(hit)} ${us(miss)} ${us(pass)} ${us(compile)}`)
}

console.log('\ncrafted: (a+)+$ searched in "a" * n + "!" (JS RegExp grows 2x per extra "a")')
for (const e of engines) {
  const sizes = e.name.startsWith('JS') ? [18, 20, 22, 24] : [24, 1_000, 100_000]
  const parts: string[] = []
  for (const n of sizes) {
    const input = `${'a'.repeat(n)}!`
    try {
      const re = e.compile('(a+)+$')
      const t0 = performance.now()
      if (re.partial(input)) throw new Error(`${e.name}: crafted case matched`)
      parts.push(`n=${n}: ${(performance.now() - t0).toFixed(1)} ms`)
    } catch (err) {
      parts.push(`n=${n}: failed (${(err as Error).message.slice(0, 60)})`)
    }
  }
  console.log(`${e.name.padEnd(34)} ${parts.join(', ')}`)
}

if (wasmRe2 !== undefined) {
  // Every compile above leaked; count how many more fit before re2-wasm's fixed heap is gone.
  let k = 0
  try {
    for (; k < 1_000_000; k++) new wasmRe2(`${ROUTE}${k}`, 'u')
  } catch {
    console.log(`\nre2-wasm: out of memory after ${k} further compiles (no way to free a pattern)`)
  }
}
