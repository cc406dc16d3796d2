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
    try {
      return await startEnvoyTs(ctx)
    } catch (err) {
      // The runtime API filters are the newest parts of envoy-ts: when the bootstrap with them is
      // refused (e.g. the dapr_api HTTP filter is not registered yet), run the proxy scenarios
      // without them and report those cases as skipped, with envoy-ts's own words.
      const reason = `envoy-ts refused its runtime listener: ${configError(err as Error).replace(/\S*bootstrap\.yaml: /, '')}`
      for (const drop of ['dapr-http', 'dapr-grpc'] as const) {
        const keep = ctx.services.filter((s) => s.protocol !== drop && (drop === 'dapr-http' || s.protocol !== 'dapr-http'))
        if (keep.length === ctx.services.length || keep.length === 0) continue
        try {
          const r = await startEnvoyTs({ ...ctx, services: keep })
          const unavailable: Record<string, string> = {}
          for (const s of ctx.services) if (!keep.includes(s)) unavailable[s.name] = reason
          return { ...r, unavailable }
        } catch {
          // Try without the next one.
        }
      }
      throw err
    }
  },
}

/** The most telling line of a failed start: envoy-ts's error message, else the first line. */
function configError(err: Error): string {
  const lines = err.message.split('\n')
  for (const l of lines) {
    try {
      const j = JSON.parse(l) as { level?: number | string; msg?: string; errors?: unknown; err?: { message?: string } }
      if (Array.isArray(j.errors) && j.errors.length > 0) return j.errors.join('; ').slice(0, 400)
      const severe = typeof j.level === 'number' ? j.level >= 50 : ['error', 'critical', 'fatal'].includes(String(j.level))
      if (severe) return (j.err?.message ?? j.msg ?? l).slice(0, 400)
    } catch {
      // Not a pino line.
    }
  }
  const error = lines.find((l) => /error/i.test(l))
  return (error ?? lines[0] ?? String(err)).trim().slice(0, 300)
}

/** One start with the bootstrap for `ctx.services`. */
async function startEnvoyTs(ctx: TargetContext): Promise<RunningTarget> {
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
}
