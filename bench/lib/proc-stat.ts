import { spawnSync } from 'node:child_process'
import fs from 'node:fs'

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every mainstream Linux). */
let clkTck: number | undefined
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
    const n = Number(r.stdout?.trim())
    clkTck = Number.isFinite(n) && n > 0 ? n : 100
  }
  return clkTck
}

/** A process's CPU time (user + system, all threads) and resident memory at one instant. */
export interface ProcSample {
  /** Wall clock, ms (performance.now()). */
  at: number
  /** user + system CPU seconds since the process started. */
  cpuSeconds: number
  /** Resident set size in bytes. */
  rssBytes: number
}

/** Reads /proc/<pid>/stat and /proc/<pid>/status; undefined when not on Linux or the process is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may contain spaces; everything after its closing paren is fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    const ticks = Number(fields[11]) + Number(fields[12])
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)
    return { at: performance.now(), cpuSeconds: ticks / ticksPerSecond(), rssBytes: rss === null ? 0 : Number(rss[1]) * 1024 }
  } catch {
    return undefined
  }
}

/** CPU use between two samples, in percent of one core (200 = two cores busy). */
export interface CpuUse {
  cpuPct: number
  cpuSeconds: number
  rssBytes: number
}

export function cpuBetween(a: ProcSample | undefined, b: ProcSample | undefined): CpuUse | undefined {
  if (a === undefined || b === undefined || b.at <= a.at) return undefined
  const cpuSeconds = b.cpuSeconds - a.cpuSeconds
  return { cpuPct: (cpuSeconds / ((b.at - a.at) / 1000)) * 100, cpuSeconds, rssBytes: b.rssBytes }
}
