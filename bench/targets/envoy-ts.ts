import fs from 'node:fs'
import path from 'node:path'
import { BenchChild } from '../lib/child.js'
import { ENVOY_TS_BIN, ROOT } from '../lib/paths.js'
import { adminPost, benchBootstrap, listenerPorts } from './envoy-bootstrap.js'
import type { RunningTarget, Target, TargetContext } from './types.js'

/** envoy-ts from this checkout (bin/envoy-ts.js, so `npm run build` must be current). */
export const envoyTs: Target = {
  name: 'envoy-ts',
  description: 'bin/envoy-ts.js --concurrency N: tcp_proxy / HCM+router listeners, runtime_api and dapr_api for the runtime scenarios',
  kind: 'proxy',
  protocols: ['tcp', 'http', 'dapr-grpc', 'dapr-http'],
  async start(ctx: TargetContext): Promise<RunningTarget> {
    const dir = path.join(ctx.workDir, 'envoy-ts')
    fs.mkdirSync(dir, { recursive: true })
    const profDir = path.join(dir, 'prof') + path.sep
    const config = path.join(dir, 'bootstrap.yaml')
    fs.writeFileSync(config, benchBootstrap(ctx.services, { profilePath: profDir, ...(ctx.bufferLimit !== undefined ? { bufferLimit: ctx.bufferLimit } : {}) }))
    const addressFile = path.join(dir, 'admin-address')
    const child = await BenchChild.start({
      role: 'target',
      name: 'envoy-ts',
      command: process.execPath,
      args: [...ctx.envoyTsNodeFlags, ENVOY_TS_BIN, '-c', config, '--concurrency', String(ctx.concurrency), '--admin-address-path', addressFile],
      cwd: ROOT,
      ...(ctx.pin.enabled ? { cpus: ctx.pin.proxyCpus! } : {}),
    })
    try {
      await child.waitForLine('stderr', (l) => l.includes('"msg":"envoy-ts initialized'), 20_000)
      const admin = fs.readFileSync(addressFile, 'utf8').trim()
      const ports = await listenerPorts(admin, ctx.services)
      return {
        ports,
        host: '127.0.0.1',
        pid: child.pid,
        async startProfile() {
          await adminPost(admin, '/cpuprofiler?enable=y')
        },
        async stopProfile() {
          await adminPost(admin, '/cpuprofiler?enable=n')
          return fs.existsSync(profDir) ? fs.readdirSync(profDir).map((f) => path.join(profDir, f)) : []
        },
        stop: () => child.stop(),
      }
    } catch (err) {
      await child.stop()
      throw err
    }
  },
}
