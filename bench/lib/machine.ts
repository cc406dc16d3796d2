import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import { ROOT } from './paths.js'

export interface MachineInfo {
  node: string
  v8: string
  platform: string
  kernel: string
  cpuModel: string
  /** CPUs this process may run on (os.availableParallelism()). */
  cores: number
  /** Online CPUs (os.cpus().length). */
  onlineCpus: number
  memTotalBytes: number
  gitCommit?: string
  gitDirty?: boolean
  hostname: string
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
    if (m !== null) return m[1]!.trim()
  } catch {
    // Not Linux: fall back to what libuv reports.
  }
  return os.cpus()[0]?.model ?? 'unknown'
}

function git(args: string[]): string | undefined {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

export function machineInfo(): MachineInfo {
  const commit = git(['rev-parse', '--short', 'HEAD'])
  const dirty = commit === undefined ? undefined : (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== ''
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
    cpuModel: cpuModel(),
    cores: os.availableParallelism(),
    onlineCpus: os.cpus().length,
    memTotalBytes: os.totalmem(),
    ...(commit !== undefined ? { gitCommit: commit, gitDirty: dirty } : {}),
    hostname: os.hostname(),
  }
}
