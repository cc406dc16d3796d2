import type { ServiceSpec } from './types.js'

/** The listener fronting a service, as named in the bootstrap (and in `/listeners`). */
export function listenerName(service: string): string {
  return `bench_${service}`
}

/**
 * A static Envoy v3 bootstrap, valid for envoy-ts and for Envoy itself: admin and one listener
 * per service on free loopback ports, each a tcp_proxy to a STATIC cluster with the upstream.
 */
export function benchBootstrap(services: readonly ServiceSpec[], opts: { profilePath?: string; bufferLimit?: number } = {}): string {
  const limit = opts.bufferLimit !== undefined ? [`    per_connection_buffer_limit_bytes: ${opts.bufferLimit}`] : []
  const lines: string[] = [
    'admin:',
    '  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }',
    ...(opts.profilePath !== undefined ? [`  profile_path: ${JSON.stringify(opts.profilePath)}`] : []),
    'static_resources:',
    '  listeners:',
  ]
  for (const s of services) {
    lines.push(
      `  - name: ${listenerName(s.name)}`,
      `    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }`,
      ...limit,
      '    filter_chains:',
      '    - filters:',
      '      - name: envoy.filters.network.tcp_proxy',
      '        typed_config:',
      '          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      `          stat_prefix: ${s.name}`,
      `          cluster: up_${s.name}`,
    )
  }
  lines.push('  clusters:')
  for (const s of services) {
    lines.push(
      `  - name: up_${s.name}`,
      '    type: STATIC',
      '    connect_timeout: 1s',
      ...limit,
      '    load_assignment:',
      `      cluster_name: up_${s.name}`,
      '      endpoints:',
      '      - lb_endpoints:',
      `        - endpoint: { address: { socket_address: { address: ${s.upstreamHost}, port_value: ${s.upstreamPort} } } }`,
    )
  }
  return `${lines.join('\n')}\n`
}

interface ListenersJson {
  listener_statuses?: Array<{ name: string; local_address?: { socket_address?: { port_value?: number } } }>
}

/** Bound port per service, from the admin's `/listeners?format=json`. */
export async function listenerPorts(adminAddress: string, services: readonly ServiceSpec[]): Promise<Record<string, number>> {
  const res = await fetch(`http://${adminAddress}/listeners?format=json`)
  if (!res.ok) throw new Error(`GET /listeners: HTTP ${res.status}`)
  const body = (await res.json()) as ListenersJson
  const ports: Record<string, number> = {}
  for (const s of services) {
    const l = body.listener_statuses?.find((x) => x.name === listenerName(s.name))
    const port = l?.local_address?.socket_address?.port_value
    if (port === undefined || port === 0) throw new Error(`no bound port for listener ${listenerName(s.name)} in /listeners`)
    ports[s.name] = port
  }
  return ports
}

/** POST to an admin path; throws on a non-2xx answer. */
export async function adminPost(adminAddress: string, pathAndQuery: string): Promise<string> {
  const res = await fetch(`http://${adminAddress}${pathAndQuery}`, { method: 'POST' })
  const text = await res.text()
  if (!res.ok) throw new Error(`POST ${pathAndQuery}: HTTP ${res.status}: ${text.trim()}`)
  return text
}
