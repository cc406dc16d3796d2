import fs from 'node:fs'
import path from 'node:path'
import { BenchChild } from '../lib/child.js'
import { benchScript } from '../lib/paths.js'
import type { RunningTarget, Target, TargetContext } from './types.js'

/**
 * A plain Node `net` pipe proxy in its own process (one thread): what envoy-ts
 * `--concurrency 1` should match. See node-net-pipe-server.ts.
 */
export const nodeNetPipe: Target = {
  name: 'node-net-pipe',
  description: 'plain Node net proxy, c.pipe(u).pipe(c), one process, one thread',
  kind: 'proxy',
  protocols: ['tcp'],
  async start(ctx: TargetContext): Promise<RunningTarget> {
    const profDir = path.join(ctx.workDir, 'node-net-pipe-prof')
    const nodeFlags = ctx.profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []
    const child = await BenchChild.start({
      role: 'target',
      name: 'node-net-pipe',
      command: process.execPath,
      args: [...nodeFlags, benchScript('targets/node-net-pipe-server.js'), ...ctx.services.filter((s) => s.protocol === 'tcp').map((s) => `${s.name}=${s.upstreamPort}`)],
      env: { BENCH_HOST: ctx.services[0]?.upstreamHost ?? '127.0.0.1' },
      ...(ctx.pin.enabled ? { cpus: ctx.pin.proxyCpus! } : {}),
    })
    try {
      const { ports } = await child.waitForJson<{ ports: Record<string, number> }>('ports', 10_000)
      return {
        ports,
        host: '127.0.0.1',
        pid: child.pid,
        stop: () => child.stop(),
        profileFilesAfterStop: () => (fs.existsSync(profDir) ? fs.readdirSync(profDir).map((f) => path.join(profDir, f)) : []),
      }
    } catch (err) {
      await child.stop()
      throw err
    }
  },
}
