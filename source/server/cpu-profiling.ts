import fs from 'node:fs'
import path from 'node:path'
import { CpuProfiler } from '../common/profiler/cpu-profiler.js'
import type { WorkerManager } from './worker-manager.js'

/** `/cpuprofiler`: V8 CPU profiles of main and every worker, written under `profile_path`. */
export class CpuProfiling {
  private readonly profiler = new CpuProfiler()
  private readonly workers: () => WorkerManager | undefined
  private readonly profilePath: string

  constructor(profilePath: string, workers: () => WorkerManager | undefined) {
    // Envoy's default profile path.
    this.profilePath = profilePath !== '' ? profilePath : '/var/log/envoy/envoy.prof'
    this.workers = workers
  }

  running(): boolean {
    return this.profiler.running()
  }

  async start(): Promise<void> {
    await this.profiler.start()
    await this.workers()?.broadcast('profiler.start', {})
  }

  /** Stops every profiler; a directory gets `<thread>.cpuprofile` files, a path a suffix. */
  async stop(): Promise<string[]> {
    const base = this.profilePath
    const isDir = base.endsWith('/') || (fs.existsSync(base) && fs.statSync(base).isDirectory())
    const fileFor = (thread: string): string => (isDir ? path.join(base, `${thread}.cpuprofile`) : `${base}.${thread}.cpuprofile`)
    fs.mkdirSync(isDir ? base : path.dirname(base), { recursive: true })
    const written: string[] = []
    const write = (thread: string, profile: string): void => {
      fs.writeFileSync(fileFor(thread), profile)
      written.push(fileFor(thread))
    }
    write('main', await this.profiler.stop())
    for (const w of this.workers()?.workers ?? []) {
      if (w.running()) write(`worker_${w.index}`, await w.call('profiler.stop', {}, 30_000))
    }
    return written
  }
}
