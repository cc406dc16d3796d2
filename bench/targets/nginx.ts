import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BenchChild, findCommand, Unavailable } from '../lib/child.js'
import { freePorts, waitForPorts } from '../lib/net-util.js'
import type { RunningTarget, ServiceSpec, Target, TargetContext } from './types.js'

const INSTALL = 'apt-get install -y nginx'
const INSTALL_STREAM = 'apt-get install -y libnginx-mod-stream'

/** What `nginx -V` says about the stream (TCP proxy) module. */
export function nginxStreamSupport(bin: string): { loadModule?: string; missing?: string } {
  const r = spawnSync(bin, ['-V'], { encoding: 'utf8' })
  const v = `${r.stdout ?? ''}${r.stderr ?? ''}`
  if (/--with-stream(\s|$)/.test(v)) return {}
  if (/--with-stream=dynamic/.test(v)) {
    const modules = /--modules-path=(\S+)/.exec(v)?.[1] ?? '/usr/lib/nginx/modules'
    const so = path.join(modules, 'ngx_stream_module.so')
    if (fs.existsSync(so)) return { loadModule: so }
    return { missing: `nginx's stream module (TCP proxy) is not installed: ${so} is missing (install: ${INSTALL_STREAM})` }
  }
  return { missing: 'this nginx was built without the stream module (TCP proxy)' }
}

/**
 * nginx.conf for the bench: as the current user, foreground, everything under `dir`. HTTP:
 * proxy_pass to an upstream block with keep-alive connections (`keepalive`, HTTP/1.1, no
 * Connection header), request bodies streamed (`proxy_request_buffering off`), responses
 * buffered in memory as nginx does by default but with buffers large enough for 64 KiB and no
 * temp files. TCP: the stream module's proxy_pass.
 */
export function nginxConfig(o: {
  dir: string
  workers: number
  http: Array<{ listen: number; upstream: ServiceSpec }>
  tcp: Array<{ listen: number; upstream: ServiceSpec }>
  loadModule?: string
  workerConnections: number
}): string {
  const d = (p: string): string => JSON.stringify(path.join(o.dir, p))
  const lines: string[] = [
    // As root, nginx's workers would switch to `nobody`; run them as the current user.
    ...(process.getuid?.() === 0 ? [`user ${os.userInfo().username};`] : []),
    ...(o.loadModule !== undefined && o.tcp.length > 0 ? [`load_module ${JSON.stringify(o.loadModule)};`] : []),
    `worker_processes ${o.workers};`,
    'daemon off;',
    'master_process on;',
    `pid ${d('nginx.pid')};`,
    `error_log ${d('error.log')} warn;`,
    `events { worker_connections ${o.workerConnections}; }`,
  ]
  if (o.http.length > 0) {
    lines.push(
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${d('client_body')}; proxy_temp_path ${d('proxy')};`,
      `  fastcgi_temp_path ${d('fastcgi')}; uwsgi_temp_path ${d('uwsgi')}; scgi_temp_path ${d('scgi')};`,
      '  keepalive_timeout 300s;',
      '  keepalive_requests 1000000000;',
      '  client_max_body_size 0;',
    )
    for (const h of o.http) {
      const up = `up_${h.upstream.name.replace(/[^A-Za-z0-9_]/g, '_')}`
      lines.push(
        `  upstream ${up} {`,
        `    server ${h.upstream.upstreamHost}:${h.upstream.upstreamPort};`,
        '    keepalive 256;',
        '    keepalive_requests 1000000000;',
        '    keepalive_timeout 300s;',
        '  }',
        '  server {',
        `    listen 127.0.0.1:${h.listen} backlog=4096;`,
        '    location / {',
        `      proxy_pass http://${up};`,
        '      proxy_http_version 1.1;',
        '      proxy_set_header Connection "";',
        '      proxy_request_buffering off;',
        '      proxy_buffer_size 16k;',
        '      proxy_buffers 8 16k;',
        '      proxy_busy_buffers_size 32k;',
        '      proxy_max_temp_file_size 0;',
        '    }',
        '  }',
      )
    }
    lines.push('}')
  }
  if (o.tcp.length > 0) {
    lines.push('stream {')
    for (const t of o.tcp) {
      lines.push(
        '  server {',
        `    listen 127.0.0.1:${t.listen} backlog=4096;`,
        `    proxy_pass ${t.upstream.upstreamHost}:${t.upstream.upstreamPort};`,
        '  }',
      )
    }
    lines.push('}')
  }
  return `${lines.join('\n')}\n`
}

export const nginx: Target = {
  name: 'nginx',
  description: 'nginx, worker_processes = --concurrency: HTTP proxy_pass with upstream keep-alive; TCP via its stream module',
  kind: 'proxy',
  protocols: ['http', 'tcp'],
  install: `${INSTALL}; for the TCP scenarios also ${INSTALL_STREAM}`,
  async start(ctx: TargetContext): Promise<RunningTarget> {
    const bin = findCommand(ctx.nginxBin)
    if (bin === undefined) throw new Unavailable(`nginx: command not found: ${ctx.nginxBin} (install: ${INSTALL})`)
    const dir = path.join(ctx.workDir, 'nginx')
    fs.mkdirSync(dir, { recursive: true })
    const httpServices = ctx.services.filter((s) => s.protocol === 'http')
    let tcpServices = ctx.services.filter((s) => s.protocol === 'tcp')
    const unavailable: Record<string, string> = {}
    const stream = tcpServices.length > 0 ? nginxStreamSupport(bin) : {}
    if (stream.missing !== undefined) {
      for (const s of tcpServices) unavailable[s.name] = stream.missing
      tcpServices = []
    }
    const ports = await freePorts(httpServices.length + tcpServices.length)
    const http = httpServices.map((upstream, i) => ({ listen: ports[i]!, upstream }))
    const tcp = tcpServices.map((upstream, i) => ({ listen: ports[httpServices.length + i]!, upstream }))
    const conf = path.join(dir, 'nginx.conf')
    fs.writeFileSync(conf, nginxConfig({
      dir, workers: ctx.concurrency, http, tcp, workerConnections: Math.max(4096, ctx.idleConnections + 2048),
      ...(stream.loadModule !== undefined ? { loadModule: stream.loadModule } : {}),
    }))
    const child = await BenchChild.start({
      role: 'target',
      name: 'nginx',
      command: bin,
      args: ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')],
      ...(ctx.pin.enabled ? { cpus: ctx.pin.proxyCpus! } : {}),
    })
    try {
      await waitForPorts(child, '127.0.0.1', ports, 10_000).catch((err: Error) => {
        const log = fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-2000) : ''
        throw new Error(`${err.message}\n${log}`)
      })
      const out: Record<string, number> = {}
      for (const h of [...http, ...tcp]) out[h.upstream.name] = h.listen
      return { ports: out, unavailable, host: '127.0.0.1', pid: child.pid, stop: () => child.stop() }
    } catch (err) {
      await child.stop()
      throw err
    }
  },
}
