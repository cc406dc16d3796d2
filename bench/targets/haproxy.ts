import fs from 'node:fs'
import path from 'node:path'
import { openFilesLimit } from '../lib/proc-stat.js'
import { BenchChild, findCommand, Unavailable } from '../lib/child.js'
import { freePorts, waitForPorts } from '../lib/net-util.js'
import type { RunningTarget, ServiceSpec, Target, TargetContext } from './types.js'

const INSTALL = 'apt-get install -y haproxy'

/**
 * haproxy.cfg for the bench: `nbthread` = --concurrency, one frontend/backend pair per service,
 * `mode http` (keep-alive both sides, server connections reused: haproxy's defaults) or
 * `mode tcp`. Timeouts long enough for the idle-conns scenario; `maxconn` above its 10,000.
 */
export function haproxyConfig(o: { threads: number; maxconn: number; http: Array<{ listen: number; upstream: ServiceSpec }>; tcp: Array<{ listen: number; upstream: ServiceSpec }> }): string {
  const lines: string[] = [
    'global',
    `  nbthread ${o.threads}`,
    `  maxconn ${o.maxconn}`,
    'defaults',
    `  maxconn ${o.maxconn}`,
    '  timeout connect 5s',
    '  timeout client 300s',
    '  timeout server 300s',
    '  timeout http-request 300s',
    '  timeout http-keep-alive 300s',
  ]
  const pair = (mode: 'http' | 'tcp', listen: number, up: ServiceSpec): void => {
    const n = up.name.replace(/[^A-Za-z0-9_]/g, '_')
    lines.push(
      `frontend fe_${n}`,
      `  mode ${mode}`,
      `  bind 127.0.0.1:${listen}`,
      `  default_backend be_${n}`,
      `backend be_${n}`,
      `  mode ${mode}`,
      `  server s1 ${up.upstreamHost}:${up.upstreamPort}`,
    )
  }
  for (const h of o.http) pair('http', h.listen, h.upstream)
  for (const t of o.tcp) pair('tcp', t.listen, t.upstream)
  return `${lines.join('\n')}\n`
}

export const haproxy: Target = {
  name: 'haproxy',
  description: 'HAProxy, nbthread = --concurrency: mode http (keep-alive, connection reuse) and mode tcp',
  kind: 'proxy',
  protocols: ['http', 'tcp'],
  install: INSTALL,
  async start(ctx: TargetContext): Promise<RunningTarget> {
    const bin = findCommand(ctx.haproxyBin)
    if (bin === undefined) throw new Unavailable(`haproxy: command not found: ${ctx.haproxyBin} (install: ${INSTALL})`)
    const dir = path.join(ctx.workDir, 'haproxy')
    fs.mkdirSync(dir, { recursive: true })
    const httpServices = ctx.services.filter((s) => s.protocol === 'http')
    const tcpServices = ctx.services.filter((s) => s.protocol === 'tcp')
    const ports = await freePorts(httpServices.length + tcpServices.length)
    const http = httpServices.map((upstream, i) => ({ listen: ports[i]!, upstream }))
    const tcp = tcpServices.map((upstream, i) => ({ listen: ports[httpServices.length + i]!, upstream }))
    const cfg = path.join(dir, 'haproxy.cfg')
    // haproxy reserves two descriptors per connection (client and server side) and refuses to
    // start when maxconn does not fit the fd limit, which the bench cannot raise.
    const want = ctx.idleConnections + 1000
    const limit = openFilesLimit()
    const fits = limit === undefined ? want : Math.floor((limit - 64) / 2)
    const maxconn = Math.min(want, fits)
    const notes = maxconn < want && ctx.idleConnections > 0
      ? [`haproxy: maxconn ${maxconn}, not ${want}: it needs 2 descriptors per connection and the fd limit here is ${limit} (ulimit -Hn); connections beyond ${maxconn} wait unaccepted`]
      : []
    fs.writeFileSync(cfg, haproxyConfig({ threads: ctx.concurrency, maxconn, http, tcp }))
    const child = await BenchChild.start({
      role: 'target',
      name: 'haproxy',
      command: bin,
      // -db: foreground, no daemon.
      args: ['-db', '-f', cfg],
      ...(ctx.pin.enabled ? { cpus: ctx.pin.proxyCpus! } : {}),
    })
    try {
      await waitForPorts(child, '127.0.0.1', ports, 10_000)
      const out: Record<string, number> = {}
      for (const h of [...http, ...tcp]) out[h.upstream.name] = h.listen
      return { ports: out, host: '127.0.0.1', pid: child.pid, notes, stop: () => child.stop() }
    } catch (err) {
      await child.stop()
      throw err
    }
  },
}
