import fs from 'node:fs'
import path from 'node:path'
import { BenchChild, Unavailable, findCommand } from '../lib/child.js'
import { benchBootstrap, listenerPorts } from './envoy-bootstrap.js'
import type { RunningTarget, Target, TargetContext } from './types.js'

const envoyInstall = 'see https://www.envoyproxy.io/docs/envoy/latest/start/install (Debian/Ubuntu: the apt.envoyproxy.io repository, then apt-get install -y envoy)'

/**
 * The real Envoy, when installed (`--envoy-bin`, default `envoy` on PATH), with the same
 * bootstrap as envoy-ts. Not in the default target list; skipped when the binary is missing.
 */
export const envoy: Target = {
  name: 'envoy',
  description: 'the real Envoy (--envoy-bin), same bootstrap as envoy-ts; skipped if not installed',
  kind: 'proxy',
  protocols: ['tcp', 'http'],
  install: envoyInstall,
  async start(ctx: TargetContext): Promise<RunningTarget> {
    if (findCommand(ctx.envoyBin) === undefined) throw new Unavailable(`envoy: command not found: ${ctx.envoyBin} (install: ${envoyInstall}, or give --envoy-bin <path>)`)
    const services = ctx.services.filter((s) => s.protocol === 'tcp' || s.protocol === 'http')
    const dir = path.join(ctx.workDir, 'envoy')
    fs.mkdirSync(dir, { recursive: true })
    const config = path.join(dir, 'bootstrap.yaml')
    fs.writeFileSync(config, benchBootstrap(services, ctx.bufferLimit !== undefined ? { bufferLimit: ctx.bufferLimit } : {}))
    const addressFile = path.join(dir, 'admin-address')
    const child = await BenchChild.start({
      role: 'target',
      name: 'envoy',
      command: ctx.envoyBin,
      args: ['-c', config, '--concurrency', String(ctx.concurrency), '--admin-address-path', addressFile, '--use-dynamic-base-id', '--log-level', 'warn'],
      ...(ctx.pin.enabled ? { cpus: ctx.pin.proxyCpus! } : {}),
    })
    try {
      const admin = await waitForReady(child, addressFile, 20_000)
      return { ports: await listenerPorts(admin, services), host: '127.0.0.1', pid: child.pid, stop: () => child.stop() }
    } catch (err) {
      await child.stop()
      throw err
    }
  },
}

/** Envoy logs no line we can rely on: wait for the address file, then for /ready to say 200. */
async function waitForReady(child: BenchChild, addressFile: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!child.running) throw new Error(`envoy exited before it was ready\n${child.stderrTail.slice(-2000)}`)
    if (fs.existsSync(addressFile)) {
      const admin = fs.readFileSync(addressFile, 'utf8').trim()
      if (await fetch(`http://${admin}/ready`).then((r) => r.ok, () => false)) return admin
    }
    if (Date.now() > deadline) throw new Error(`envoy not ready after ${timeoutMs} ms\n${child.stderrTail.slice(-2000)}`)
    // Another process, no event to await: poll.
    await new Promise((r) => setTimeout(r, 50))
  }
}
