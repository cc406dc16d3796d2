import type { ServiceSpec } from './types.js'

/** The listener fronting a service, as named in the bootstrap (and in `/listeners`). */
export function listenerName(service: string): string {
  return `bench_${service}`
}

/** Stat prefixes and cluster names may not contain dashes in every tool: `dapr-grpc` → `dapr_grpc`. */
function id(service: string): string {
  return service.replace(/[^A-Za-z0-9_]/g, '_')
}

/**
 * A static Envoy v3 bootstrap: admin and one listener per service on free loopback ports.
 * `tcp` services get a tcp_proxy and `http` services an HTTP connection manager with a catch-all
 * route, each to a STATIC cluster with the upstream; both are valid for Envoy itself. `dapr-grpc`
 * (runtime_api network filter) and `dapr-http` (dapr_api HTTP filter) are envoy-ts's own, with
 * the in-memory `statestore`. Clusters get circuit breakers far above the bench's load (Envoy's
 * defaults, 1024, would turn the idle-conns scenario's bursts into 503s that nginx and haproxy
 * do not have); everything else is Envoy's defaults.
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
    )
    if (s.protocol === 'tcp') {
      lines.push(
        '      - name: envoy.filters.network.tcp_proxy',
        '        typed_config:',
        '          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
        `          stat_prefix: ${id(s.name)}`,
        `          cluster: up_${id(s.name)}`,
      )
    } else if (s.protocol === 'http') {
      lines.push(
        '      - name: envoy.filters.network.http_connection_manager',
        '        typed_config:',
        '          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        `          stat_prefix: ${id(s.name)}`,
        '          route_config:',
        `            name: ${id(s.name)}`,
        '            virtual_hosts:',
        '            - name: bench',
        '              domains: ["*"]',
        '              routes:',
        `              - { match: { prefix: "/" }, route: { cluster: up_${id(s.name)} } }`,
        '          http_filters:',
        '          - name: envoy.filters.http.router',
        '            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }',
      )
    } else if (s.protocol === 'dapr-grpc') {
      lines.push(
        '      - name: envoy_ts.filters.network.runtime_api',
        '        typed_config:',
        '          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi',
        `          stat_prefix: ${id(s.name)}`,
        '          apis: [DAPR]',
        '          state: { statestore: { type: in-memory } }',
      )
    } else {
      lines.push(
        '      - name: envoy.filters.network.http_connection_manager',
        '        typed_config:',
        '          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        `          stat_prefix: ${id(s.name)}`,
        `          route_config: { name: ${id(s.name)}, virtual_hosts: [] }`,
        '          http_filters:',
        '          - name: envoy_ts.filters.http.dapr_api',
        '            typed_config:',
        '              "@type": type.googleapis.com/envoy_ts.extensions.filters.http.dapr_api.v1.DaprApi',
        `              runtime: { stat_prefix: ${id(s.name)}, state: { statestore: { type: in-memory } } }`,
        '          - name: envoy.filters.http.router',
        '            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }',
      )
    }
  }
  const proxied = services.filter((s) => s.protocol === 'tcp' || s.protocol === 'http')
  lines.push(proxied.length > 0 ? '  clusters:' : '  clusters: []')
  for (const s of proxied) {
    lines.push(
      `  - name: up_${id(s.name)}`,
      '    type: STATIC',
      '    connect_timeout: 1s',
      ...limit,
      '    circuit_breakers:',
      '      thresholds: [{ max_connections: 1000000, max_pending_requests: 1000000, max_requests: 1000000 }]',
      '    load_assignment:',
      `      cluster_name: up_${id(s.name)}`,
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
