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

/** Fields after the command name of /proc/<pid>/stat: [0] is field 3 (state). */
function statFields(pid: number | string): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces; everything after its closing paren is fixed.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

function rssOf(pid: number | string): number {
  const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return rss === null ? 0 : Number(rss[1]) * 1024
}

/** Reads /proc/<pid>/stat and /proc/<pid>/status; undefined when not on Linux or the process is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const fields = statFields(pid)
    // utime and stime are fields 14 and 15.
    const ticks = Number(fields[11]) + Number(fields[12])
    return { at: performance.now(), cpuSeconds: ticks / ticksPerSecond(), rssBytes: rssOf(pid) }
  } catch {
    return undefined
  }
}

/** Pids of the processes in process group `pgid` (field 5 of /proc/<pid>/stat). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = []
  let entries: string[]
  try {
    entries = fs.readdirSync('/proc')
  } catch {
    return out
  }
  for (const e of entries) {
    if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue
    try {
      if (Number(statFields(e)[2]) === pgid) out.push(Number(e))
    } catch {
      // Gone meanwhile.
    }
  }
  return out
}

/**
 * CPU (summed) and RSS (summed) of every process in the group led by `pid`: the bench starts
 * each child in its own group, so this covers nginx's workers or a Node cluster's children.
 * Falls back to the process alone when the group cannot be read.
 */
export function sampleGroup(pid: number): ProcSample | undefined {
  const members = groupMembers(pid)
  if (members.length <= 1) return sampleProc(pid)
  let cpuSeconds = 0
  let rssBytes = 0
  let any = false
  for (const m of members) {
    const s = sampleProc(m)
    if (s === undefined) continue
    any = true
    cpuSeconds += s.cpuSeconds
    rssBytes += s.rssBytes
  }
  return any ? { at: performance.now(), cpuSeconds, rssBytes } : undefined
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

/** The hard limit on open files of this process (children inherit it); undefined when unknown. */
export function openFilesLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))
    if (m === null || m[2] === 'unlimited') return undefined
    return Number(m[2])
  } catch {
    return undefined
  }
}
