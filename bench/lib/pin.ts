import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { findCommand } from './child.js'

/** Where processes run under `--pin`: the proxy alone on one CPU, upstream and load on the rest. */
export interface PinPlan {
  enabled: boolean
  /** `taskset -c` list for the proxy under test. */
  proxyCpus?: string
  /** `taskset -c` list for the upstream and the load generator (this process). */
  otherCpus?: string
  /** What happened, for the header (e.g. why pinning is off). */
  note: string
}

/** The CPUs this process may run on, from /proc/self/status (Linux). */
function allowedCpus(): number[] {
  try {
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
    if (m === null) return []
    const out: number[] = []
    for (const part of m[1]!.trim().split(',')) {
      const [a, b] = part.split('-').map(Number) as [number, number | undefined]
      for (let c = a; c <= (b ?? a); c++) out.push(c)
    }
    return out
  } catch {
    return []
  }
}

function list(cpus: number[]): string {
  return cpus.join(',')
}

/**
 * The proxy gets the last `proxyCpus` CPUs (at most all but one; CPU 0 tends to take more of
 * the machine's interrupts), the upstream and the load generator the rest. On 2 cores: the
 * proxy on CPU 1, everything else on CPU 0.
 */
export function planPinning(want: boolean, proxyCpus = 1): PinPlan {
  if (!want) return { enabled: false, note: 'off (use --pin to put the proxy on its own CPU)' }
  if (findCommand('taskset') === undefined) return { enabled: false, note: 'requested, but taskset is not installed: running unpinned' }
  const cpus = allowedCpus()
  if (cpus.length < 2) return { enabled: false, note: `requested, but only ${cpus.length} CPU available: running unpinned` }
  const n = Math.max(1, Math.min(proxyCpus, cpus.length - 1))
  const proxy = cpus.slice(cpus.length - n)
  const others = cpus.slice(0, cpus.length - n)
  return {
    enabled: true,
    proxyCpus: list(proxy),
    otherCpus: list(others),
    note: `proxy on CPU ${list(proxy)}; upstream and load generator on CPU ${list(others)}`,
  }
}

/**
 * Moves every thread of this process (main, libuv pool, and the load workers created after this)
 * onto `cpus`; returns a function that restores the previous affinity.
 */
export function pinSelf(cpus: string): () => void {
  const before = /Cpus_allowed_list:\s*(.+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1]?.trim()
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${process.pid} failed: ${r.stderr}`)
  return () => {
    if (before !== undefined) spawnSync('taskset', ['-a', '-p', '-c', before, String(process.pid)], { stdio: 'ignore' })
  }
}
