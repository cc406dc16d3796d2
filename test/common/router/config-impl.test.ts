import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RuntimeSnapshotImpl } from '../../../source/common/runtime/runtime-impl.js'
import { build, buildErrors, clusterOf, entry, info, oneHost, req, route } from './route-config-helpers.js'

const to = (cluster: string, match: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({
  name: cluster, match, route: { cluster, ...extra },
})

describe('route matching', () => {
  it('prefix, path, safe_regex and path_separated_prefix, first match wins', () => {
    const rc = build(oneHost([
      to('exact', { path: '/exact' }),
      to('regex', { safe_regex: { regex: '/re/[0-9]+' } }),
      to('sep', { path_separated_prefix: '/api' }),
      to('prefix', { prefix: '/p' }),
      to('catch-all', { prefix: '/' }),
    ]))
    assert.equal(clusterOf(rc, req('/exact')), 'exact')
    assert.equal(clusterOf(rc, req('/exact?x=1')), 'exact', 'the query string is not part of the path')
    assert.equal(clusterOf(rc, req('/exact/')), 'catch-all')
    assert.equal(clusterOf(rc, req('/re/123')), 'regex')
    assert.equal(clusterOf(rc, req('/re/123?q')), 'regex')
    assert.equal(clusterOf(rc, req('/re/12a')), 'catch-all', 'safe_regex must match the whole path')
    assert.equal(clusterOf(rc, req('/api')), 'sep')
    assert.equal(clusterOf(rc, req('/api/v1')), 'sep')
    assert.equal(clusterOf(rc, req('/api?x')), 'sep')
    assert.equal(clusterOf(rc, req('/apix')), 'catch-all')
    assert.equal(clusterOf(rc, req('/pq')), 'prefix')
  })

  it('returns undefined when nothing matches, and the route name', () => {
    const rc = build(oneHost([to('a', { path: '/a' })]))
    assert.equal(route(rc, req('/b')), undefined)
    assert.equal(route(rc, req('/a'))?.name, 'a')
  })

  it('case_sensitive: false for prefix and path', () => {
    const rc = build(oneHost([
      to('ci-path', { path: '/Exact', case_sensitive: false }),
      to('ci-prefix', { prefix: '/Foo', case_sensitive: false }),
      to('cs', { prefix: '/Bar' }),
    ]))
    assert.equal(clusterOf(rc, req('/EXACT')), 'ci-path')
    assert.equal(clusterOf(rc, req('/foo/x')), 'ci-prefix')
    assert.equal(clusterOf(rc, req('/bar')), undefined)
    assert.equal(clusterOf(rc, req('/Bar')), 'cs')
  })

  it('headers and query_parameters must all match', () => {
    const rc = build(oneHost([
      to('both', { prefix: '/', headers: [{ name: 'x-v', string_match: { exact: '2' } }], query_parameters: [{ name: 'debug', present_match: true }] }),
      to('header', { prefix: '/', headers: [{ name: 'X-V', exact_match: '2' }] }),
      to('fallback', { prefix: '/' }),
    ]))
    assert.equal(clusterOf(rc, req('/x?debug', { 'x-v': '2' })), 'both')
    assert.equal(clusterOf(rc, req('/x', { 'x-v': '2' })), 'header')
    assert.equal(clusterOf(rc, req('/x?debug')), 'fallback')
  })

  it('grpc matches only gRPC requests', () => {
    const rc = build(oneHost([to('grpc', { prefix: '/', grpc: {} }), to('http', { prefix: '/' })]))
    assert.equal(clusterOf(rc, req('/pkg.S/M', { 'content-type': 'application/grpc' })), 'grpc')
    assert.equal(clusterOf(rc, req('/pkg.S/M', { 'content-type': 'application/json' })), 'http')
  })

  it('runtime_fraction uses the random value, and a runtime override', () => {
    const cfg = oneHost([
      to('half', { prefix: '/', runtime_fraction: { default_value: { numerator: 50, denominator: 'HUNDRED' }, runtime_key: 'rk' } }),
      to('rest', { prefix: '/' }),
    ])
    const rc = build(cfg)
    assert.equal(clusterOf(rc, req('/'), 0.49), 'half')
    assert.equal(clusterOf(rc, req('/'), 0.5), 'rest')
    const rt = new RuntimeSnapshotImpl(new Map([['rk', '10']]))
    const withRuntime = build(cfg, { runtime: () => rt })
    assert.equal(clusterOf(withRuntime, req('/'), 0.2), 'rest')
    assert.equal(clusterOf(withRuntime, req('/'), 0.05), 'half')
  })

  it('connect_matcher matches CONNECT requests, also without a :path', () => {
    const rc = build(oneHost([to('tunnel', { connect_matcher: {} }), to('web', { prefix: '/' })]))
    const connect = req('/', { ':method': 'CONNECT' })
    connect.remove(':path')
    assert.equal(clusterOf(rc, connect), 'tunnel')
    assert.equal(clusterOf(rc, req('/')), 'web')
  })

  it('ignore_path_parameters_in_path_matching drops ;params', () => {
    const routes = [to('exact', { path: '/a/b' })]
    assert.equal(clusterOf(build(oneHost(routes, {}, { ignore_path_parameters_in_path_matching: true })), req('/a/b;v=1?q')), 'exact')
    assert.equal(clusterOf(build(oneHost(routes)), req('/a/b;v=1')), undefined)
  })
})

describe('route actions', () => {
  it('cluster_header: the header names the cluster, or "" without it', () => {
    const rc = build(oneHost([{ match: { prefix: '/' }, route: { cluster_header: 'X-Cluster' } }]))
    assert.equal(clusterOf(rc, req('/', { 'x-cluster': 'blue' })), 'blue')
    assert.equal(clusterOf(rc, req('/')), '')
  })

  it('weighted_clusters pick by the random value over the sum of weights', () => {
    const rc = build(oneHost([{
      match: { prefix: '/' },
      route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }] } },
    }]))
    const counts = new Map<string, number>()
    for (let i = 0; i < 400; i++) {
      const c = clusterOf(rc, req('/'), i / 400)!
      counts.set(c, (counts.get(c) ?? 0) + 1)
    }
    assert.deepEqual([...counts], [['a', 100], ['b', 300]])
    assert.equal(route(rc, req('/'), 0.1), route(rc, req('/'), 0.2), 'a weighted pick allocates nothing')
  })

  it('weighted_clusters: header_name supplies the value; cluster_header entries', () => {
    const rc = build(oneHost([{
      match: { prefix: '/' },
      route: {
        weighted_clusters: {
          header_name: 'x-pick',
          clusters: [{ name: 'a', weight: 10 }, { cluster_header: 'x-dyn', weight: 10 }],
        },
      },
    }]))
    assert.equal(clusterOf(rc, req('/', { 'x-pick': '5' }), 0.9), 'a')
    assert.equal(clusterOf(rc, req('/', { 'x-pick': '35' }), 0), '', 'second entry, no x-dyn header')
    assert.equal(clusterOf(rc, req('/', { 'x-pick': '15', 'x-dyn': 'd' })), 'd')
    assert.equal(clusterOf(rc, req('/', { 'x-pick': 'nope' }), 0.7), '', 'falls back to the random value')
  })

  it('prefix_rewrite keeps the query; regex_rewrite; x-envoy-original-path on request', () => {
    const rc = build(oneHost([
      { match: { prefix: '/old/' }, route: { cluster: 'c', prefix_rewrite: '/new/' } },
      { match: { safe_regex: { regex: '/svc/([^/]+)/(.*)' } }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: '^/svc/([^/]+)/(.*)$' }, substitution: '/\\2/\\1' } } },
      { match: { path: '/exact' }, route: { cluster: 'c', prefix_rewrite: '/e' } },
    ]))
    const h1 = req('/old/x/y?q=1')
    entry(rc, h1).finalizeRequestHeaders(h1, info(), true)
    assert.equal(h1.get(':path'), '/new/x/y?q=1')
    assert.equal(h1.get('x-envoy-original-path'), '/old/x/y?q=1')
    const h2 = req('/svc/foo/bar/baz?z')
    entry(rc, h2).finalizeRequestHeaders(h2, info(), false)
    assert.equal(h2.get(':path'), '/bar/baz/foo?z')
    assert.equal(h2.has('x-envoy-original-path'), false)
    const h3 = req('/exact?a=b')
    entry(rc, h3).finalizeRequestHeaders(h3, info(), false)
    assert.equal(h3.get(':path'), '/e?a=b')
  })

  it('host rewrites: literal, header, path regex, with append_x_forwarded_host', () => {
    const rc = build(oneHost([
      { match: { prefix: '/lit' }, route: { cluster: 'c', host_rewrite_literal: 'up.internal', append_x_forwarded_host: true } },
      { match: { prefix: '/hdr' }, route: { cluster: 'c', host_rewrite_header: 'x-host' } },
      { match: { prefix: '/re' }, route: { cluster: 'c', host_rewrite_path_regex: { pattern: { regex: '^/re/([^/]+).*$' }, substitution: '\\1.svc' } } },
      { match: { prefix: '/auto' }, route: { cluster: 'c', auto_host_rewrite: true } },
    ]))
    const fin = (path: string, extra: Record<string, string> = {}): string | undefined => {
      const h = req(path, extra)
      entry(rc, h).finalizeRequestHeaders(h, info(), false)
      return `${h.get(':authority')}|${h.get('x-forwarded-host') ?? ''}`
    }
    assert.equal(fin('/lit'), 'up.internal|example.com')
    assert.equal(fin('/hdr', { 'x-host': 'h.example' }), 'h.example|')
    assert.equal(fin('/hdr'), 'example.com|', 'no header: no rewrite')
    assert.equal(fin('/re/api/x?y'), 'api.svc|')
    assert.equal(entry(rc, req('/auto')).autoHostRewrite, true)
    assert.equal(entry(rc, req('/lit')).autoHostRewrite, false)
  })

  it('timeouts, priority, max stream duration, cluster_not_found_response_code, upgrades', () => {
    const rc = build(oneHost([
      { match: { prefix: '/a' }, route: { cluster: 'c' } },
      {
        match: { prefix: '/b' },
        route: {
          cluster: 'c', timeout: '0s', idle_timeout: '2.5s', priority: 'HIGH', cluster_not_found_response_code: 'NOT_FOUND',
          max_stream_duration: { max_stream_duration: '30s' }, upgrade_configs: [{ upgrade_type: 'WebSocket' }, { upgrade_type: 'h2c', enabled: false }],
        },
      },
      { match: { prefix: '/c' }, route: { cluster: 'c', cluster_not_found_response_code: 'INTERNAL_SERVER_ERROR' } },
    ]))
    const a = entry(rc, req('/a'))
    assert.equal(a.timeoutMs, 15_000)
    assert.equal(a.idleTimeoutMs, undefined)
    assert.equal(a.priority, 'default')
    assert.equal(a.clusterNotFoundResponseCode, 503)
    assert.equal(a.maxStreamDurationMs, undefined)
    assert.equal(a.upgradeEnabled('websocket'), undefined)
    const b = entry(rc, req('/b'))
    assert.equal(b.timeoutMs, 0)
    assert.equal(b.idleTimeoutMs, 2500)
    assert.equal(b.priority, 'high')
    assert.equal(b.clusterNotFoundResponseCode, 404)
    assert.equal(b.maxStreamDurationMs, 30_000)
    assert.equal(b.upgradeEnabled('websocket'), true)
    assert.equal(b.upgradeEnabled('H2C'), false)
    assert.equal(b.upgradeEnabled('connect'), undefined)
    assert.equal(entry(rc, req('/c')).clusterNotFoundResponseCode, 500)
  })

  it('retry policy: the route’s, else the virtual host’s; attempt count flags from the vhost', () => {
    const rc = build(oneHost([
      { match: { prefix: '/own' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx', num_retries: 5 } } },
      { match: { prefix: '/' }, route: { cluster: 'c' } },
    ], { retry_policy: { retry_on: 'reset' }, include_request_attempt_count: true, include_attempt_count_in_response: true }))
    assert.equal(entry(rc, req('/own')).retryPolicy?.numRetries, 5)
    const inherited = entry(rc, req('/x'))
    assert.equal(inherited.retryPolicy?.numRetries, 1)
    assert.equal(inherited.includeAttemptCountInRequest, true)
    assert.equal(inherited.includeAttemptCountInResponse, true)
    assert.equal(entry(build(oneHost([to('c', { prefix: '/' })])), req('/')).retryPolicy, undefined)
  })

  it('request mirror policies: route, else vhost, else route config', () => {
    const mirror = (cluster: string): unknown => ({ cluster })
    const rc = build(oneHost([
      { match: { prefix: '/own' }, route: { cluster: 'c', request_mirror_policies: [{ cluster_header: 'X-Mirror', runtime_fraction: { default_value: { numerator: 5, denominator: 'TEN_THOUSAND' } } }] } },
      { match: { prefix: '/' }, route: { cluster: 'c' } },
    ], {}, { request_mirror_policies: [mirror('global')] }))
    assert.deepEqual(entry(rc, req('/own')).requestMirrorPolicies, [{ cluster: '', clusterHeader: 'x-mirror', runtimeFraction: { numerator: 5, denominator: 10_000 } }])
    assert.deepEqual(entry(rc, req('/x')).requestMirrorPolicies, [{ cluster: 'global', clusterHeader: '', runtimeFraction: undefined }])
    const vh = build(oneHost([{ match: { prefix: '/' }, route: { cluster: 'c' } }], { request_mirror_policies: [mirror('vhost')] }, { request_mirror_policies: [mirror('global')] }))
    assert.equal(entry(vh, req('/')).requestMirrorPolicies[0]?.cluster, 'vhost')
  })

  it('hash policy is built only when configured', () => {
    const rc = build(oneHost([
      { match: { prefix: '/h' }, route: { cluster: 'c', hash_policy: [{ header: { header_name: 'x-user' } }] } },
      { match: { prefix: '/' }, route: { cluster: 'c' } },
    ]))
    const h = req('/h', { 'x-user': 'u1' })
    assert.equal(typeof entry(rc, h).hashPolicy?.generateHash({ headers: h, sourceIp: undefined }), 'bigint')
    assert.equal(entry(rc, req('/')).hashPolicy, undefined)
  })

  it('virtual clusters: first match by headers, else "other"', () => {
    const rc = build(oneHost([to('c', { prefix: '/' })], {
      virtual_clusters: [{ name: 'posts', headers: [{ name: ':method', exact_match: 'POST' }, { name: ':path', prefix_match: '/api' }] }],
    }))
    const e = entry(rc, req('/api'))
    assert.equal(e.virtualClusterName(req('/api/x', { ':method': 'POST' })), 'posts')
    assert.equal(e.virtualClusterName(req('/api/x')), 'other')
    assert.equal(entry(build(oneHost([to('c', { prefix: '/' })])), req('/')).virtualClusterName(req('/')), undefined)
  })

  it('require_tls: ALL and EXTERNAL_ONLY redirect plaintext requests to https', () => {
    const all = build(oneHost([to('c', { prefix: '/' })], { require_tls: 'ALL' }))
    const r = route(all, req('/p?q', { 'x-forwarded-proto': 'http' }))
    assert.equal(r?.directResponseEntry?.responseCode, 301)
    assert.equal(r?.directResponseEntry?.newUri(req('/p?q')), 'https://example.com/p?q')
    assert.equal(clusterOf(all, req('/', { 'x-forwarded-proto': 'https' })), 'c')
    const ext = build(oneHost([to('c', { prefix: '/' })], { require_tls: 'EXTERNAL_ONLY' }))
    assert.equal(clusterOf(ext, req('/', { 'x-envoy-internal': 'true' })), 'c')
    assert.equal(route(ext, req('/'))?.directResponseEntry?.responseCode, 301)
  })

  it('internal_only_headers are lower-cased', () => {
    assert.deepEqual(build(oneHost([], {}, { internal_only_headers: ['X-Internal'] })).internalOnlyHeaders, ['x-internal'])
  })
})

describe('perFilterConfig', () => {
  const filterCfg = (n: number): unknown => ({ '@type': 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer', max_request_bytes: n })
  const rc = build({
    name: 'rc',
    typed_per_filter_config: { f1: filterCfg(1), f2: filterCfg(1), f3: filterCfg(1), f4: filterCfg(1) },
    virtual_hosts: [{
      name: 'vh',
      domains: ['*'],
      typed_per_filter_config: { f1: filterCfg(2), f2: filterCfg(2), f3: filterCfg(2) },
      routes: [{
        match: { prefix: '/' },
        typed_per_filter_config: { f1: filterCfg(3), f2: filterCfg(3) },
        route: { weighted_clusters: { clusters: [{ name: 'w', weight: 1, typed_per_filter_config: { f1: filterCfg(4) } }] } },
      }],
    }],
  })

  it('most specific wins: weighted cluster, route, vhost, route config', () => {
    const r = route(rc, req('/'))!
    assert.equal(r.perFilterConfig('f1'), 'f1@4')
    assert.equal(r.perFilterConfig('f2'), 'f2@3')
    assert.equal(r.perFilterConfig('f3'), 'f3@2')
    assert.equal(r.perFilterConfig('f4'), 'f4@1')
    assert.equal(r.perFilterConfig('nope'), undefined)
    assert.equal(r.virtualHost.perFilterConfig('f2'), 'f2@2')
    assert.equal(r.virtualHost.perFilterConfig('f4'), 'f4@1')
  })

  it('errors from the filter factory carry their path', () => {
    const errors = buildErrors(oneHost([{ match: { prefix: '/' }, typed_per_filter_config: { bad: filterCfg(9) }, direct_response: { status: 200 } }]), {
      perFilterConfig: (_n, _a, p) => { throw new Error(`${p}: no such filter`) },
    })
    assert.equal(errors.length, 1)
    assert.match(errors[0]!, /^route_config\.virtual_hosts\[0\]\.routes\[0\]\.typed_per_filter_config\.bad: /)
  })
})

describe('config errors', () => {
  it('collects every problem with its path', () => {
    const errors = buildErrors(oneHost([
      { match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx,bogus' } } },
      { match: { prefix: '/' }, route: { cluster: 'c', prefix_rewrite: '/x', regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } } },
      { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 0 }] } } },
      { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }], total_weight: 100 } } },
      { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', cluster_header: 'x', weight: 1 }] } } },
      { match: { prefix: '/' }, route: { cluster: 'c', upgrade_configs: [{ upgrade_type: 'websocket' }, { upgrade_type: 'WebSocket' }] } },
      { match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [{}] } },
      { match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_remove: [':path'] },
    ], { virtual_clusters: [{ name: 'v', headers: [] }] }))
    const base = 'route_config.virtual_hosts[0]'
    assert.deepEqual(errors, [
      `${base}.virtual_clusters[0]: virtual clusters must define 'headers'`,
      `${base}.routes[0].route.retry_policy.retry_on: unknown retry condition(s): bogus`,
      `${base}.routes[1].route: Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy`,
      `${base}.routes[2].route.weighted_clusters: Sum of weights in the weighted_cluster must be greater than 0.`,
      `${base}.routes[3].route.weighted_clusters.total_weight: Sum of weights in the weighted_cluster should add up to 100`,
      `${base}.routes[4].route.weighted_clusters.clusters[0]: Only one of name or cluster_header can be specified`,
      `${base}.routes[5].route.upgrade_configs[1]: Duplicate upgrade WebSocket`,
      `${base}.routes[6].route.request_mirror_policies[0]: Exactly one of cluster or cluster_header in request mirror policy need to be specified`,
      `${base}.routes[7].request_headers_to_remove[0]: :-prefixed or host headers may not be removed`,
    ])
  })

  it('rejects what envoy-ts does not implement, naming the field', () => {
    const errors = buildErrors(oneHost([
      { match: { prefix: '/', tls_context: { presented: true } }, route: { cluster: 'c', metadata_match: {}, hedge_policy: {} } },
      { match: { prefix: '/' }, route: { cluster: 'c', internal_redirect_policy: {}, retry_policy: { retry_host_predicate: [{ name: 'p' }] } } },
      { match: { prefix: '/' }, route: { weighted_clusters: { runtime_key_prefix: 'k', clusters: [{ name: 'a', weight: 1 }] } }, stat_prefix: 's' },
    ], { hedge_policy: {} }))
    const base = 'route_config.virtual_hosts[0]'
    for (const field of [
      `${base}.hedge_policy`, `${base}.routes[0].match.tls_context`, `${base}.routes[0].route.metadata_match`, `${base}.routes[0].route.hedge_policy`,
      `${base}.routes[1].route.internal_redirect_policy`, `${base}.routes[1].route.retry_policy.retry_host_predicate`,
      `${base}.routes[2].stat_prefix`, `${base}.routes[2].route.weighted_clusters.runtime_key_prefix`,
    ]) {
      assert.ok(errors.some((e) => e.startsWith(`${field}: not supported by envoy-ts yet`)), `${field} in ${errors.join('\n')}`)
    }
    assert.equal(errors.length, 8)
  })

  it('validate_clusters checks static, weighted and mirror clusters unless disabled', () => {
    const cfg = (validate?: boolean): unknown => oneHost([
      { match: { prefix: '/a' }, route: { cluster: 'known', request_mirror_policies: [{ cluster: 'ghost-m' }] } },
      { match: { prefix: '/b' }, route: { cluster: 'ghost' } },
      { match: { prefix: '/c' }, route: { weighted_clusters: { clusters: [{ name: 'ghost-w', weight: 1 }, { cluster_header: 'x', weight: 1 }] } } },
      { match: { prefix: '/d' }, route: { cluster_header: 'x-c' } },
    ], {}, validate === undefined ? {} : { validate_clusters: validate })
    const validateClusters = (n: string): boolean => n === 'known'
    assert.deepEqual(buildErrors(cfg(), { validateClusters }).map((e) => e.replace(/^.*?: /, '')), [
      "route: unknown shadow cluster 'ghost-m'",
      "route: unknown cluster 'ghost'",
      "route: unknown weighted cluster 'ghost-w'",
    ])
    assert.doesNotThrow(() => build(cfg(false), { validateClusters }))
    assert.doesNotThrow(() => build(cfg()), 'nothing to check against')
  })
})
