#!/usr/bin/env node
/**
 * `npm run fuzz -- [--seconds N] [--seed S] [--target name[,name]] [--cases N] [--out dir]`
 * runs every fuzz target (or the named ones) for N seconds each and prints, per target, the
 * cases run, the seed, the failures and the proxy's peak RSS. `--replay <file>` runs the inputs
 * of a replay file written by an earlier failure. Exit status: 0 clean, 1 failures, 2 usage.
 */
import fs from 'node:fs'
import path from 'node:path'
import { randomSeed } from './lib/prng.js'
import { type ReplayFile, replay, runTarget, summaryLine } from './lib/runner.js'
import { ROOT } from '../integration/helpers/envoy-process.js'
import { TARGETS } from './targets.js'

const HELP = `usage: npm run fuzz -- [options]
  --seconds N      run each target for N seconds (default 60)
  --cases N        stop each target after N cases
  --seed S         the seed (an unsigned 32-bit integer; default: random, printed)
  --target a,b     only these targets (${TARGETS.map((t) => t.name).join(', ')})
  --out DIR        where replay files go (default fuzz-out/)
  --replay FILE    run the inputs of a replay file and report what fails
  --list           list the targets
`

function usage(msg: string): never {
  process.stderr.write(`fuzz: ${msg}\n\n${HELP}`)
  process.exit(2)
}

async function main(argv: string[]): Promise<number> {
  const opts = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--help' || a === '-h') { process.stdout.write(HELP); return 0 }
    if (a === '--list') {
      for (const t of TARGETS) process.stdout.write(`${t.name.padEnd(20)} ${t.about}\n`)
      return 0
    }
    if (!a.startsWith('--')) usage(`unexpected argument ${a}`)
    const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined]
    if (!['seconds', 'cases', 'seed', 'target', 'out', 'replay'].includes(k)) usage(`unknown option --${k}`)
    const v = inline ?? argv[++i]
    if (v === undefined) usage(`--${k} needs a value`)
    opts.set(k, v)
  }
  const num = (k: string): number | undefined => {
    const v = opts.get(k)
    if (v === undefined) return undefined
    if (!/^\d+$/.test(v)) usage(`--${k} expects a non-negative integer, got ${v}`)
    return Number(v)
  }
  const out = path.resolve(ROOT, opts.get('out') ?? 'fuzz-out')

  const replayPath = opts.get('replay')
  if (replayPath !== undefined) {
    const file = JSON.parse(fs.readFileSync(replayPath, 'utf8')) as ReplayFile
    const target = TARGETS.find((t) => t.name === file.target)
    if (target === undefined) usage(`unknown target ${file.target} in ${replayPath}`)
    process.stdout.write(`replaying ${file.inputs.length} input(s) of ${file.target} (seed ${file.seed}, case ${file.case})\nrecorded: ${file.message.split('\n')[0]}\n`)
    const found = await replay(target as never, file as never)
    for (const f of found) process.stdout.write(`FAIL ${f.split('\n')[0]}\n`)
    process.stdout.write(found.length === 0 ? 'replay passed\n' : `replay failed (${found.length})\n`)
    return found.length === 0 ? 0 : 1
  }

  const seed = num('seed') ?? randomSeed()
  if (seed > 0xffffffff) usage('--seed must fit in 32 bits')
  const seconds = num('seconds') ?? (opts.has('cases') ? undefined : 60)
  const maxCases = num('cases')
  const names = opts.get('target')?.split(',').filter((n) => n !== '')
  const targets = names === undefined ? TARGETS : names.map((n) => TARGETS.find((t) => t.name === n) ?? usage(`unknown target ${n}`))

  process.stdout.write(`fuzz: seed ${seed}, ${seconds !== undefined ? `${seconds} s` : 'no time limit'}${maxCases !== undefined ? `, at most ${maxCases} cases` : ''} per target, node ${process.version}\n`)
  const results = []
  for (const t of targets) {
    process.stdout.write(`fuzz ${t.name}: ${t.about}\n`)
    const r = await runTarget(t as never, { seed, ...(seconds !== undefined ? { seconds } : {}), ...(maxCases !== undefined ? { maxCases } : {}), outDir: out, log: (l) => process.stdout.write(`${l}\n`) })
    results.push(r)
    process.stdout.write(`${summaryLine(r)}\n`)
  }
  process.stdout.write('\nsummary\n')
  for (const r of results) {
    process.stdout.write(`${summaryLine(r)}\n`)
    for (const f of r.failures) process.stdout.write(`  seed ${r.seed} case ${f.case}${f.repeats > 0 ? ` (+${f.repeats} more like it)` : ""}: ${f.message.split('\n')[0].slice(0, 300)}\n    replay: ${path.relative(ROOT, f.replayFile)}\n`)
  }
  return results.some((r) => r.failures.length > 0) ? 1 : 0
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
