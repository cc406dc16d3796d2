import fs from 'node:fs'
import path from 'node:path'
import { BenchChild } from '../lib/child.js'
import { benchScript } from '../lib/paths.js'
import type { RunningTarget, Target, TargetContext } from './types.js'

async function startNodeProxy(ctx: TargetContext, name: string, mode: 'undici' | 'http-proxy'): Promise<RunningTarget> {
  const profDir = path.join(ctx.workDir, `${name}-prof`)
  const nodeFlags = ctx.profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []
  const child = await BenchChild.start({
    role: 'target',
    name,
    command: process.execPath,
    args: [
      ...nodeFlags, benchScript('targets/node-proxy-server.js'), '--mode', mode, '--workers', String(ctx.concurrency),
      '--host', ctx.services[0]?.upstreamHost ?? '127.0.0.1',
      ...ctx.services.filter((s) => s.protocol === 'http').map((s) => `${s.name}=${s.upstreamPort}`),
    ],
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
}

/** The comparison the HTTP issue names: a plain Node `http` server forwarding with undici. */
export const nodeUndici: Target = {
  name: 'node-undici',
  description: 'plain Node http server + undici Pool (pool.stream), one process (node:cluster with --concurrency > 1)',
  kind: 'proxy',
  protocols: ['http'],
  async start(ctx) {
    return startNodeProxy(ctx, 'node-undici', 'undici')
  },
}

export const nodeHttpProxy: Target = {
  name: 'node-http-proxy',
  description: 'the http-proxy package with a keep-alive http.Agent, one process (node:cluster with --concurrency > 1)',
  kind: 'proxy',
  protocols: ['http'],
  async start(ctx) {
    return startNodeProxy(ctx, 'node-http-proxy', 'http-proxy')
  },
}
