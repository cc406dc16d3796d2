// Summarizes a V8 .cpuprofile (from envoy-ts's admin /cpuprofiler or node --cpu-prof): the
// functions with the most self time, and self time grouped by file.
//   node dist/bench/lib/cpuprofile.js <file.cpuprofile> [--top 30]
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ROOT } from './paths.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface ProfileEntry {
  name: string
  where: string
  selfMs: number
  selfPct: number
}

export interface ProfileSummary {
  totalMs: number
  /** Time in `(idle)`, i.e. waiting in epoll. */
  idleMs: number
  functions: ProfileEntry[]
  files: ProfileEntry[]
}

function shortUrl(url: string): string {
  if (url === '') return '(native)'
  const p = url.startsWith('file://') ? fileURLToPath(url) : url
  const rel = path.relative(ROOT, p)
  return rel.startsWith('..') ? p.replace(/^.*node_modules\//, 'node_modules/') : rel
}

/** Self time per function and per file, from the samples and their time deltas. */
export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the delta to the next one.
    const dt = deltas[i + 1] ?? 0
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt)
  }
  const fn = new Map<string, { name: string; where: string; us: number }>()
  const files = new Map<string, number>()
  let idle = 0
  let total = 0
  for (const [id, us] of self) {
    const n = byId.get(id)!
    const cf = n.callFrame
    total += us
    if (cf.functionName === '(idle)') idle += us
    const where = `${shortUrl(cf.url)}${cf.url !== '' ? `:${cf.lineNumber + 1}` : ''}`
    const key = `${cf.functionName}@${where}`
    const e = fn.get(key) ?? { name: cf.functionName === '' ? '(anonymous)' : cf.functionName, where, us: 0 }
    e.us += us
    fn.set(key, e)
    const file = cf.url === '' ? cf.functionName : shortUrl(cf.url)
    files.set(file, (files.get(file) ?? 0) + us)
  }
  const busy = Math.max(1, total - idle)
  const entry = (name: string, where: string, us: number): ProfileEntry => ({ name, where, selfMs: us / 1000, selfPct: (us / busy) * 100 })
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    functions: [...fn.values()].filter((e) => e.name !== '(idle)').sort((a, b) => b.us - a.us).map((e) => entry(e.name, e.where, e.us)),
    files: [...files.entries()].filter(([f]) => f !== '(idle)').sort((a, b) => b[1] - a[1]).map(([f, us]) => entry(f, '', us)),
  }
}

export function formatSummary(s: ProfileSummary, top: number): string {
  const out = [`total ${s.totalMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms (${((s.idleMs / Math.max(1, s.totalMs)) * 100).toFixed(1)}%); percentages are of busy time`, '', 'self time by function:']
  for (const e of s.functions.slice(0, top)) out.push(`  ${e.selfPct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}  ${e.where}`)
  out.push('', 'self time by file:')
  for (const e of s.files.slice(0, top)) out.push(`  ${e.selfPct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}`)
  return out.join('\n')
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2)
  const topAt = args.indexOf('--top')
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 30
  const files = args.filter((_a, i) => topAt < 0 || (i !== topAt && i !== topAt + 1))
  if (files.length === 0) {
    process.stderr.write('usage: node dist/bench/lib/cpuprofile.js <file.cpuprofile>... [--top N]\n')
    process.exit(2)
  }
  for (const f of files) {
    process.stdout.write(`== ${f}\n${formatSummary(summarizeProfile(JSON.parse(fs.readFileSync(f, 'utf8')) as CpuProfile), top)}\n\n`)
  }
}
