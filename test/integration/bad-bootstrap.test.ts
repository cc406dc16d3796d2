import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { runEnvoy, tempDir, writeTemp } from './helpers/envoy-process.js'

interface Case {
  name: string
  yaml?: string
  file?: string
  args?: string[]
  /** Every one of these must appear in stderr. */
  expect: string[]
}

const LISTENER = (port: number, name = 'l'): string => `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
    filter_chains: [{ filters: [{ name: envoy.filters.network.echo, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.echo.v3.Echo } }] }]`

const CASES: Case[] = [
  { name: 'empty file', yaml: '', expect: ['the config is empty'] },
  { name: 'comment-only file', yaml: '# nothing here\n', expect: ['the config is empty'] },
  { name: 'YAML syntax error with line and column', yaml: 'admin:\n  address:\n    - a: 1\n   b: 2\n', expect: ['bootstrap.yaml:4:4: invalid YAML'] },
  { name: 'bootstrap that is a list', yaml: '- a\n- b\n', expect: ['the bootstrap must be a mapping of fields, got a list'] },
  { name: 'unknown top-level field with a suggestion', yaml: 'admn: {}\n', expect: ['admn: unknown field in envoy.config.bootstrap.v3.Bootstrap (did you mean "admin"?)'] },
  { name: 'unknown nested field', yaml: 'node: { id: a, clster: b }\n', expect: ['node.clster: unknown field in envoy.config.core.v3.Node (did you mean "cluster"?)'] },
  { name: 'port out of range', yaml: `static_resources:\n  listeners:${LISTENER(70000)}\n`, expect: ['static_resources.listeners[0].address.socket_address.port_value: value must be less than or equal to 65535'] },
  { name: 'duplicate listener names', yaml: `static_resources:\n  listeners:${LISTENER(1)}${LISTENER(2)}\n`, expect: ['static_resources.listeners[1].name: duplicate listener name "l" (also at static_resources.listeners[0].name)'] },
  { name: 'duplicate listener addresses', yaml: `static_resources:\n  listeners:${LISTENER(7)}${LISTENER(7, 'm')}\n`, expect: ['static_resources.listeners[1].address: duplicate listener address "127.0.0.1:7"'] },
  {
    name: 'duplicate cluster names',
    yaml: 'static_resources:\n  clusters:\n  - { name: c, connect_timeout: 1s }\n  - { name: c, connect_timeout: 1s }\n',
    expect: ['static_resources.clusters[1].name: duplicate cluster name "c"'],
  },
  { name: 'cluster without a name', yaml: 'static_resources:\n  clusters:\n  - { connect_timeout: 1s }\n', expect: ['static_resources.clusters[0].name: value must not be empty'] },
  { name: 'bad duration string', yaml: 'stats_flush_interval: 5\n', expect: ['stats_flush_interval: expected a duration such as "5s" or "0.25s", got number 5'] },
  { name: 'negative connect_timeout', yaml: 'static_resources:\n  clusters:\n  - { name: c, connect_timeout: -1s }\n', expect: ['static_resources.clusters[0].connect_timeout: value must be greater than 0s'] },
  { name: 'unknown enum name', yaml: 'static_resources:\n  clusters:\n  - { name: c, lb_policy: FASTEST }\n', expect: ['static_resources.clusters[0].lb_policy: unknown value "FASTEST" for enum envoy.config.cluster.v3.Cluster.LbPolicy'] },
  { name: 'enum number that does not exist', yaml: 'static_resources:\n  clusters:\n  - { name: c, type: 99 }\n', expect: ['static_resources.clusters[0].type: 99 is not a value of enum envoy.config.cluster.v3.Cluster.DiscoveryType'] },
  {
    name: 'two members of a oneof',
    yaml: 'admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: 1, named_port: http } }\n',
    expect: ['admin.address.socket_address: only one of port_value, named_port may be set'],
  },
  { name: 'a string field given a number', yaml: 'node: { id: 5 }\n', expect: ['node.id: expected a string, got number 5 (quote it)'] },
  { name: 'a list field given an object', yaml: 'static_resources: { listeners: { name: x } }\n', expect: ['static_resources.listeners: expected a list, got an object'] },
  { name: 'listener without address', yaml: 'static_resources:\n  listeners:\n  - name: l\n    filter_chains: [{ filters: [] }]\n', expect: ['static_resources.listeners[0].address: value is required'] },
  { name: 'listener without filter chains', yaml: 'static_resources:\n  listeners:\n  - name: l\n    address: { socket_address: { address: 127.0.0.1, port_value: 5 } }\n', expect: ['static_resources.listeners[0].filter_chains: no filter chains specified'] },
  {
    name: 'typed_config with an unknown @type',
    yaml: 'static_resources:\n  listeners:\n  - name: l\n    address: { socket_address: { address: 127.0.0.1, port_value: 5 } }\n    filter_chains: [{ filters: [{ name: f, typed_config: { "@type": type.googleapis.com/acme.Filter } }] }]\n',
    expect: ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config: unknown type URL "type.googleapis.com/acme.Filter"'],
  },
  {
    name: 'typed_config without @type',
    yaml: 'static_resources:\n  listeners:\n  - name: l\n    address: { socket_address: { address: 127.0.0.1, port_value: 5 } }\n    filter_chains: [{ filters: [{ name: f, typed_config: { stat_prefix: x } }] }]\n',
    expect: ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config: "@type" is required'],
  },
  {
    name: 'unknown field inside a typed_config',
    yaml: 'static_resources:\n  listeners:\n  - name: l\n    address: { socket_address: { address: 127.0.0.1, port_value: 5 } }\n    filter_chains: [{ filters: [{ name: envoy.filters.network.tcp_proxy, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, clustr: c } }] }]\n',
    expect: ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.clustr: unknown field in envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy (did you mean "cluster"?)'],
  },
  {
    name: 'a route naming a cluster that does not exist',
    yaml: `static_resources:
  listeners:
  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: 5 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: nope } }]
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
`,
    expect: ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster: unknown cluster "nope"'],
  },
  {
    name: 'a network filter named without typed_config whose empty config lacks required fields',
    yaml: 'static_resources:\n  listeners:\n  - name: l\n    address: { socket_address: { address: 127.0.0.1, port_value: 5 } }\n    filter_chains: [{ filters: [{ name: envoy.filters.network.tcp_proxy }] }]\n',
    expect: ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefix: value must not be empty (no typed_config was given)'],
  },
  {
    name: 'an HCM named without typed_config',
    yaml: 'static_resources:\n  listeners:\n  - name: l\n    address: { socket_address: { address: 127.0.0.1, port_value: 5 } }\n    filter_chains: [{ filters: [{ name: envoy.filters.network.http_connection_manager }] }]\n',
    expect: ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefix: value must not be empty (no typed_config was given)'],
  },
  { name: 'a field envoy-ts does not support yet', yaml: 'dynamic_resources: {}\n', expect: ['dynamic_resources: not supported by envoy-ts yet:'] },
  { name: 'an empty required string', yaml: 'admin:\n  address: { socket_address: { address: "", port_value: 1 } }\n', expect: ['admin.address.socket_address.address: value must not be empty'] },
  { name: 'a negative integer for an unsigned field', yaml: 'static_resources:\n  clusters:\n  - { name: c, per_connection_buffer_limit_bytes: -5 }\n', expect: ['static_resources.clusters[0].per_connection_buffer_limit_bytes: expected a non-negative integer, got -5'] },
  { name: 'an invalid stats tag regex', yaml: 'stats_config:\n  stats_tags: [{ tag_name: t, regex: "(" }]\n', expect: ['stats_config.stats_tags[0].regex: invalid RE2 regex'] },
  { name: 'bad --config-yaml', args: ['--config-yaml', 'admin: ['], expect: ['--config-yaml:1:9: invalid YAML'] },
  { name: 'several errors at once, each with its path', yaml: 'node: { id: 1 }\nstats_flush_interval: x\nadmn: {}\n', expect: ['node.id: expected a string', 'stats_flush_interval: expected a duration', 'admn: unknown field'] },
  { name: 'JSON bootstrap with an error', file: 'bootstrap.json', yaml: '{"node": {"idd": "x"}}', expect: ['bootstrap.json: node.idd: unknown field'] },
  { name: 'binary proto bootstrap', file: 'bootstrap.pb', yaml: 'x', expect: ['bootstrap.pb: binary and text protobuf bootstraps are not supported'] },
]

describe('bad bootstraps: --mode validate exits 1 naming the file and the field', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = tempDir()
      const file = c.yaml === undefined ? undefined : writeTemp(c.file ?? 'bootstrap.yaml', c.yaml, dir)
      const args = [...(file !== undefined ? ['-c', file] : []), '--mode', 'validate', ...(c.args ?? [])]
      const r = await runEnvoy(args)
      assert.equal(r.code, 1, `expected exit 1\nstderr:\n${r.stderr}`)
      assert.equal(r.stdout, '')
      for (const e of c.expect) assert.ok(r.stderr.includes(e), `missing "${e}" in:\n${r.stderr}`)
      if (file !== undefined) assert.ok(r.stderr.includes(path.basename(file)), `stderr should name the file:\n${r.stderr}`)
    })
  }

  it('a missing file', async () => {
    const r = await runEnvoy(['-c', '/nonexistent/envoy.yaml', '--mode', 'validate'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /\/nonexistent\/envoy\.yaml: config file not found/)
  })

  it('an unreadable path (a directory)', async () => {
    const r = await runEnvoy(['-c', tempDir(), '--mode', 'validate'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /is a directory, not a config file/)
  })

  it('a good bootstrap prints OK and exits 0', async () => {
    const r = await runEnvoy(['-c', writeTemp('ok.yaml', 'node: { id: a }\n'), '--mode', 'validate'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'OK\n')
  })

  it('a filter named without typed_config gets its empty config (Envoy accepts `- name: envoy.filters.http.router`)', async () => {
    const yaml = `static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    listener_filters: [{ name: envoy.filters.listener.proxy_protocol }]
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: x
          route_config: { virtual_hosts: [{ name: a, domains: ["*"], routes: [{ match: { prefix: / }, direct_response: { status: 200 } }] }] }
          http_filters: [{ name: envoy.filters.http.router }]
`
    const r = await runEnvoy(['-c', writeTemp('no-typed-config.yaml', yaml), '--mode', 'validate'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'OK\n')
  })

  it('every file in bootstrap/ validates', async () => {
    const { default: fs } = await import('node:fs')
    const { ROOT } = await import('./helpers/envoy-process.js')
    const dir = path.join(ROOT, 'bootstrap')
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
      const r = await runEnvoy(['-c', path.join(dir, f), '--mode', 'validate'])
      assert.equal(r.code, 0, `${f}: ${r.stderr}`)
    }
  })
})
