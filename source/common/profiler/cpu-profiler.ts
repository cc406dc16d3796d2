import { Session } from 'node:inspector'

/**
 * A V8 CPU profiler for the calling thread (main or a worker), through the in-process
 * inspector. `stop()` returns the profile as `.cpuprofile` JSON text.
 */
export class CpuProfiler {
  private session: Session | undefined

  running(): boolean {
    return this.session !== undefined
  }

  async start(): Promise<void> {
    if (this.session !== undefined) return
    const s = new Session()
    s.connect()
    this.session = s
    await this.post('Profiler.enable')
    await this.post('Profiler.start')
  }

  async stop(): Promise<string> {
    if (this.session === undefined) return ''
    const result = await this.post('Profiler.stop') as { profile: unknown }
    this.session.disconnect()
    this.session = undefined
    return JSON.stringify(result.profile)
  }

  private post(method: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.session!.post(method, (err, res) => (err !== null ? reject(err) : resolve(res)))
    })
  }
}
