import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, startEnvoy, tempDir, writeTemp } from './helpers/envoy-process.js'
import {
  type Action, type HttpUpstream, type Json, cluster, hcmBootstrap, hcmListener, send, startHttpUpstream,
} from './helpers/http-upstream.js'
import { listenerPort, statValue, waitForStat } from './helpers/tcp.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const dir = tempDir('envoy-ts-routing-')
const bodyFile = writeTemp('direct-body.txt', 'body from a file\n', dir)

const direct = (body: string, status = 200): Json => ({ status, body: { inline_string: body } })
const toA = (extra: Json = {}): Json => ({ cluster: 'cluster_a', ...extra })

/** The main route table: every route feature behind virtual host `routes.test`. */
function routesVhost(): Json {
  return {
    name: 'routes',
    domains: ['routes.test'],
    request_headers_to_add: [
      { header: { key: 'x-vhost', value: 'vh' } },
      { header: { key: 'x-level', value: 'vhost' } },
    ],
    response_headers_to_add: [{ header: { key: 'x-resp-vhost', value: 'vh' } }],
    routes: [
      { match: { path: '/exact' }, route: toA() },
      { match: { path_separated_prefix: '/sep' }, route: { cluster: 'cluster_b' } },
      { match: { prefix: '/CaseIns', case_sensitive: false }, route: { cluster: 'cluster_c' } },
      { match: { safe_regex: { regex: '/regex/[0-9]+' } }, route: { cluster: 'cluster_b' } },
      // Header matchers.
      { match: { prefix: '/hdr', headers: [{ name: 'x-exact', string_match: { exact: 'yes' } }] }, route: toA() },
      { match: { prefix: '/hdr', headers: [{ name: 'x-present', present_match: true }] }, route: { cluster: 'cluster_b' } },
      { match: { prefix: '/hdr', headers: [{ name: 'x-range', range_match: { start: 10, end: 20 } }] }, route: { cluster: 'cluster_c' } },
      { match: { prefix: '/inv-empty', headers: [{ name: 'x-deny', string_match: { exact: '1' }, invert_match: true, treat_missing_header_as_empty: true }] }, route: toA() },
      { match: { prefix: '/inv', headers: [{ name: 'x-deny', string_match: { exact: '1' }, invert_match: true }] }, route: toA() },
      // Query parameter matchers.
      { match: { prefix: '/query', query_parameters: [{ name: 'debug', string_match: { exact: '1' } }] }, route: { cluster: 'cluster_b' } },
      { match: { prefix: '/query', query_parameters: [{ name: 'flag', present_match: true }] }, route: { cluster: 'cluster_c' } },
      // Direct responses.
      { match: { path: '/direct' }, direct_response: direct('hello direct') },
      { match: { path: '/direct-file' }, direct_response: { status: 201, body: { filename: bodyFile } } },
      // Redirects.
      { match: { path: '/r/https' }, redirect: { https_redirect: true } },
      { match: { path: '/r/host' }, redirect: { host_redirect: 'other.test', response_code: 'FOUND' } },
      { match: { path: '/r/path' }, redirect: { path_redirect: '/new/path', response_code: 'SEE_OTHER' } },
      { match: { prefix: '/r/prefix/' }, redirect: { prefix_rewrite: '/p2/', response_code: 'TEMPORARY_REDIRECT' } },
      { match: { path: '/r/strip' }, redirect: { path_redirect: '/stripped', strip_query: true, response_code: 'PERMANENT_REDIRECT' } },
      // Rewrites.
      { match: { prefix: '/rw/prefix/' }, route: toA({ prefix_rewrite: '/v2/' }) },
      { match: { prefix: '/rw/regex/' }, route: toA({ regex_rewrite: { pattern: { regex: '^/rw/regex/([a-z]+)/([a-z]+)$' }, substitution: '/\\2/\\1' } }) },
      { match: { prefix: '/rw/host' }, route: toA({ host_rewrite_literal: 'rewritten.test' }) },
      { match: { prefix: '/rw/auto' }, route: { cluster: 'dns_cluster', auto_host_rewrite: true } },
      // Cluster selection.
      { match: { prefix: '/by-header' }, route: { cluster_header: 'x-cluster' } },
      { match: { prefix: '/weighted' }, route: { weighted_clusters: { clusters: [{ name: 'cluster_a', weight: 25 }, { name: 'cluster_b', weight: 75 }] } } },
      // Header mutations at the route level (vhost and route_config levels add theirs).
      {
        match: { prefix: '/headers' },
        route: toA(),
        request_headers_to_add: [
          { header: { key: 'x-route-add', value: 'route' } },
          { header: { key: 'x-level', value: 'route' } },
          { header: { key: 'x-client', value: '%DOWNSTREAM_REMOTE_ADDRESS%' } },
          { header: { key: 'x-client-ip', value: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%' } },
          { header: { key: 'x-ua-copy', value: '%REQ(user-agent)%' } },
          { header: { key: 'x-multi', value: 'route' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
          { header: { key: 'x-overwrite', value: 'route' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
          { header: { key: 'x-if-absent', value: 'route' }, append_action: 'ADD_IF_ABSENT' },
        ],
        request_headers_to_remove: ['x-remove-me'],
        response_headers_to_add: [
          { header: { key: 'x-resp-route', value: 'route' } },
        ],
        response_headers_to_remove: ['x-upstream-secret'],
      },
      { match: { prefix: '/prefix' }, route: toA({ timeout: '5s' }) },
      { match: { prefix: '/' }, direct_response: direct('fallthrough') },
    ],
  }
}

function mainBootstrap(ports: { a: number; b: number; c: number }): string {
  const toAll = (name: string): Json[] => [{ name, domains: ['*'], routes: [{ match: { prefix: '/' }, route: toA() }] }]
  return hcmBootstrap({
    statPrefix: 'ingress',
    virtualHosts: [
      routesVhost(),
      { name: 'exact', domains: ['exact.test'], routes: [{ match: { prefix: '/' }, direct_response: direct('vh:exact') }] },
      { name: 'suffix', domains: ['*.suffix.test'], routes: [{ match: { prefix: '/' }, direct_response: direct('vh:suffix') }] },
      { name: 'prefix', domains: ['prefix.*'], routes: [{ match: { prefix: '/' }, direct_response: direct('vh:prefix') }] },
      { name: 'noroute', domains: ['noroute.test'], routes: [{ match: { path: '/only' }, direct_response: direct('only') }] },
      { name: 'proxied', domains: ['proxied.test'], routes: [{ match: { prefix: '/' }, route: toA() }] },
      { name: 'default', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: direct('vh:default') }] },
    ],
    routeConfig: {
      request_headers_to_add: [
        { header: { key: 'x-config', value: 'cfg' } },
        { header: { key: 'x-level', value: 'config' } },
      ],
      response_headers_to_add: [
        { header: { key: 'x-resp-config', value: 'cfg' } },
        { header: { key: 'x-resp-rid', value: '%REQ(x-request-id)%' } },
      ],
    },
    extraListeners: [
      hcmListener({
        name: 'edge',
        statPrefix: 'edge',
        hcm: { use_remote_address: true, server_name: 'edge-proxy', internal_address_config: { cidr_ranges: [{ address_prefix: '127.0.0.1', prefix_len: 32 }] } },
        virtualHosts: toAll('edge'),
      }),
      hcmListener({
        name: 'hops',
        statPrefix: 'hops',
        hcm: { use_remote_address: true, xff_num_trusted_hops: 1 },
        virtualHosts: [{
          name: 'hops',
          domains: ['*'],
          request_headers_to_add: [{ header: { key: 'x-client-ip', value: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%' } }],
          routes: [{ match: { prefix: '/' }, route: toA() }],
        }],
      }),
      hcmListener({ name: 'srv_append', statPrefix: 'srv_append', hcm: { server_header_transformation: 'APPEND_IF_ABSENT', server_name: 'front-proxy' }, virtualHosts: toAll('a') }),
      hcmListener({ name: 'srv_pass', statPrefix: 'srv_pass', hcm: { server_header_transformation: 'PASS_THROUGH' }, virtualHosts: toAll('p') }),
    ],
    clusters: [
      cluster('cluster_a', { endpoints: [ports.a] }),
      cluster('cluster_b', { endpoints: [ports.b] }),
      cluster('cluster_c', { endpoints: [ports.c] }),
      cluster('dns_cluster', { endpoints: [`localhost:${ports.a}`], type: 'STRICT_DNS' }),
    ],
  })
}

/** Hooks start and stop processes: bounded, so a failed start cannot hang the run. */
const HOOK = { timeout: 30_000 }
let envoy: EnvoyProcess
let a: HttpUpstream
let b: HttpUpstream
let c: HttpUpstream
let port: number
const ports: Record<string, number> = {}

/** Upstreams answer with an echo; `/srv/with` also sends its own `server`, `/headers` two extra headers. */
function echoUpstream(name: string): Promise<HttpUpstream> {
  return startHttpUpstream({
    name,
    behavior: (_n, req): Action => {
      if (req.url?.startsWith('/srv/with') === true) return { kind: 'echo', headers: { server: 'upstream-srv' } }
      if (req.url?.startsWith('/headers') === true) return { kind: 'echo', headers: { 'x-upstream-secret': 's3cret', 'x-upstream-keep': 'k' } }
      return { kind: 'echo' }
    },
  })
}

/** GET on the main listener with `host: routes.test` unless another host is given. */
function get(p: string, headers: Record<string, string | string[]> = {}, o: { port?: number; agent?: http.Agent } = {}): ReturnType<typeof send> {
  return send(o.port ?? port, p, { headers: { host: 'routes.test', ...headers }, ...(o.agent !== undefined ? { agent: o.agent } : {}) })
}

/** Which upstream served `p` (or the direct response body when none did). */
async function servedBy(p: string, headers: Record<string, string | string[]> = {}): Promise<string> {
  const r = await get(p, headers)
  if (r.headers['content-type'] === 'application/json') return r.echo().upstream
  return `${r.status}:${r.body}`
}

describe('HTTP routing', () => {
  before(async () => {
    ;[a, b, c] = await Promise.all([echoUpstream('a'), echoUpstream('b'), echoUpstream('c')])
    envoy = await startEnvoy({ config: mainBootstrap({ a: a.port, b: b.port, c: c.port }), args: ['--drain-time-s', '2'] })
    for (const l of ['http_in', 'edge', 'hops', 'srv_append', 'srv_pass']) ports[l] = await listenerPort(envoy, l)
    port = ports.http_in!
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    await Promise.all([a?.close(), b?.close(), c?.close()])
  }, HOOK)

  it('path, path_separated_prefix, case-insensitive prefix and safe_regex matches', async () => {
    const cases: Array<[string, string]> = [
      ['/exact', 'a'],
      ['/exact?x=1', 'a'],
      ['/exact/', '200:fallthrough'],
      ['/Exact', '200:fallthrough'],
      ['/sep', 'b'],
      ['/sep/x', 'b'],
      ['/sep?q=1', 'b'],
      ['/separate', '200:fallthrough'],
      ['/caseins/x', 'c'],
      ['/CASEINS', 'c'],
      ['/regex/123', 'b'],
      ['/regex/123?x=y', 'b'],
      ['/regex/12a', '200:fallthrough'],
      ['/regex/123/more', '200:fallthrough'],
    ]
    for (const [p, want] of cases) assert.equal(await servedBy(p), want, p)
  })

  it('header matchers: exact, present, range and invert_match', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'x-exact': 'yes' }, 'a'],
      [{ 'x-exact': 'no' }, '200:fallthrough'],
      [{ 'x-present': '' }, 'b'],
      [{ 'x-present': 'anything' }, 'b'],
      [{ 'x-range': '10' }, 'c'],
      [{ 'x-range': '19' }, 'c'],
      [{ 'x-range': '20' }, '200:fallthrough'],
      [{ 'x-range': '9' }, '200:fallthrough'],
      [{ 'x-range': 'ten' }, '200:fallthrough'],
      [{}, '200:fallthrough'],
    ]
    for (const [h, want] of cases) assert.equal(await servedBy('/hdr', h), want, JSON.stringify(h))
    // Envoy: a missing header fails a value matcher even when inverted, unless
    // treat_missing_header_as_empty makes it ''.
    assert.equal(await servedBy('/inv', { 'x-deny': '0' }), 'a')
    assert.equal(await servedBy('/inv', { 'x-deny': '1' }), '200:fallthrough')
    assert.equal(await servedBy('/inv'), '200:fallthrough')
    assert.equal(await servedBy('/inv-empty'), 'a')
    assert.equal(await servedBy('/inv-empty', { 'x-deny': '1' }), '200:fallthrough')
  })

  it('query parameter matchers', async () => {
    assert.equal(await servedBy('/query?debug=1'), 'b')
    assert.equal(await servedBy('/query?a=b&debug=1'), 'b')
    assert.equal(await servedBy('/query?debug=2'), '200:fallthrough')
    assert.equal(await servedBy('/query?flag'), 'c')
    assert.equal(await servedBy('/query?flag=on&debug=0'), 'c')
    assert.equal(await servedBy('/query'), '200:fallthrough')
  })

  it('virtual host selection by Host: exact, *.suffix, prefix.*, and *', async () => {
    const cases: Array<[string, string]> = [
      ['exact.test', 'vh:exact'],
      ['EXACT.Test', 'vh:exact'],
      ['a.suffix.test', 'vh:suffix'],
      ['deep.a.suffix.test', 'vh:suffix'],
      ['suffix.test', 'vh:default'],
      ['prefix.io', 'vh:prefix'],
      ['prefix.suffix.test', 'vh:suffix'],
      ['unknown.test', 'vh:default'],
    ]
    for (const [host, want] of cases) {
      const r = await get('/', { host })
      assert.equal(`${r.status} ${r.body}`, `200 ${want}`, host)
    }
  })

  it('direct_response with an inline body and with a file body', async () => {
    const before = await statValue(envoy, 'http.ingress.rq_direct_response')
    const r = await get('/direct')
    assert.equal(r.status, 200)
    assert.equal(r.body, 'hello direct')
    assert.equal(r.headers['content-type'], 'text/plain')
    assert.equal(r.headers['content-length'], String('hello direct'.length))
    assert.equal(r.headers['x-envoy-upstream-service-time'], undefined, 'nothing went upstream')
    const f = await get('/direct-file')
    assert.equal(f.status, 201)
    assert.equal(f.body, 'body from a file\n')
    assert.equal(await statValue(envoy, 'http.ingress.rq_direct_response'), before + 2)
  })

  it('redirects: https, host, path, prefix_rewrite, strip_query, response codes', async () => {
    const before = await statValue(envoy, 'http.ingress.rq_redirect')
    const cases: Array<[string, number, string]> = [
      ['/r/https', 301, 'https://routes.test/r/https'],
      ['/r/host', 302, 'http://other.test/r/host'],
      ['/r/path?x=1', 303, 'http://routes.test/new/path?x=1'],
      ['/r/prefix/rest?q=1', 307, 'http://routes.test/p2/rest?q=1'],
      ['/r/strip?x=1', 308, 'http://routes.test/stripped'],
    ]
    for (const [p, status, location] of cases) {
      const r = await get(p)
      assert.equal(r.status, status, p)
      assert.equal(r.headers.location, location, p)
      assert.equal(r.body, '', p)
    }
    assert.equal(await statValue(envoy, 'http.ingress.rq_redirect'), before + cases.length)
    assert.equal(a.seen.filter((s) => s.path.startsWith('/r/')).length, 0, 'redirects never reach an upstream')
  })

  it('prefix_rewrite and regex_rewrite: the upstream sees the new path and x-envoy-original-path', async () => {
    const p = (await get('/rw/prefix/rest/of?q=1')).echo()
    assert.equal(p.path, '/v2/rest/of?q=1')
    assert.equal(p.headers['x-envoy-original-path'], '/rw/prefix/rest/of?q=1')
    const r = (await get('/rw/regex/one/two?k=v')).echo()
    assert.equal(r.path, '/two/one?k=v')
    assert.equal(r.headers['x-envoy-original-path'], '/rw/regex/one/two?k=v')
    const none = (await get('/prefix/plain')).echo()
    assert.equal(none.path, '/prefix/plain')
    assert.equal(none.headers['x-envoy-original-path'], undefined, 'only a rewrite adds x-envoy-original-path')
  })

  it('host_rewrite_literal and auto_host_rewrite (STRICT_DNS localhost)', async () => {
    const lit = (await get('/rw/host')).echo()
    assert.equal(lit.headers.host, 'rewritten.test')
    const auto = (await get('/rw/auto')).echo()
    assert.equal(auto.upstream, 'a')
    assert.equal(auto.headers.host, 'localhost')
  })

  it('cluster_header picks the cluster; an unknown one is 503 and counts no_cluster', async () => {
    assert.equal(await servedBy('/by-header', { 'x-cluster': 'cluster_b' }), 'b')
    assert.equal(await servedBy('/by-header', { 'x-cluster': 'cluster_c' }), 'c')
    const before = await statValue(envoy, 'http.ingress.no_cluster')
    const r = await get('/by-header', { 'x-cluster': 'no_such_cluster' })
    assert.equal(r.status, 503)
    assert.equal(r.body, '')
    const missing = await get('/by-header')
    assert.equal(missing.status, 503)
    assert.equal(await statValue(envoy, 'http.ingress.no_cluster'), before + 2)
  })

  it('weighted_clusters split requests by weight', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
    const n = 200
    const counts = { a: 0, b: 0 } as Record<string, number>
    const all = await Promise.all(Array.from({ length: n }, () => get('/weighted', {}, { agent })))
    agent.destroy()
    for (const r of all) counts[r.echo().upstream] = (counts[r.echo().upstream] ?? 0) + 1
    assert.equal(counts.a! + counts.b!, n, JSON.stringify(counts))
    // 25/75 of 200: a gets 50 on average (σ ≈ 6); these bounds are over 4σ away.
    assert.ok(counts.a! >= 25 && counts.a! <= 75, `cluster_a got ${counts.a} of ${n}`)
  })

  it('request and response headers to add/remove at route, vhost and route_config levels', async () => {
    const r = await get('/headers', {
      'user-agent': 'routing-test/1.0',
      'x-remove-me': 'gone',
      'x-multi': 'client',
      'x-overwrite': 'client',
      'x-if-absent': 'client',
      'x-request-id': 'rid-from-client',
    })
    assert.equal(r.status, 200)
    const up = r.echo().headers
    assert.equal(up['x-route-add'], 'route')
    assert.equal(up['x-vhost'], 'vh')
    assert.equal(up['x-config'], 'cfg')
    assert.equal(up['x-level'], 'route, vhost, config', 'appended in order route, vhost, route_config')
    assert.match(String(up['x-client']), /^127\.0\.0\.1:\d+$/)
    assert.equal(up['x-client-ip'], '127.0.0.1')
    assert.equal(up['x-ua-copy'], 'routing-test/1.0')
    assert.equal(up['x-remove-me'], undefined)
    assert.equal(up['x-multi'], 'client, route')
    assert.equal(up['x-overwrite'], 'route')
    assert.equal(up['x-if-absent'], 'client')
    // Response side: the upstream's secret is removed, its other header kept, all levels add.
    assert.equal(r.headers['x-upstream-secret'], undefined)
    assert.equal(r.headers['x-upstream-keep'], 'k')
    assert.equal(r.headers['x-resp-route'], 'route')
    assert.equal(r.headers['x-resp-vhost'], 'vh')
    assert.equal(r.headers['x-resp-config'], 'cfg')
    assert.equal(r.headers['x-resp-rid'], up['x-request-id'])
    // Direct responses get the response mutations of their levels too.
    const d = await get('/direct')
    assert.equal(d.headers['x-resp-vhost'], 'vh')
    assert.equal(d.headers['x-resp-config'], 'cfg')
  })

  it('x-forwarded-*, x-request-id and x-envoy-expected-rq-timeout-ms without use_remote_address', async () => {
    const plain = await get('/prefix/x')
    const up = plain.echo().headers
    assert.equal(up['x-forwarded-for'], undefined, 'no XFF is made up without use_remote_address')
    assert.equal(up['x-forwarded-proto'], 'http')
    assert.match(String(up['x-request-id']), UUID)
    assert.equal(up['x-envoy-expected-rq-timeout-ms'], '5000', 'the route timeout')
    assert.equal(up['x-envoy-internal'], undefined)
    assert.match(String(plain.headers['x-envoy-upstream-service-time']), /^\d+$/)
    const dflt = (await get('/exact')).echo().headers
    assert.equal(dflt['x-envoy-expected-rq-timeout-ms'], '15000', "Envoy's default route timeout")
    const fwd = (await get('/prefix/x', { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https', 'x-request-id': 'client-rid' })).echo().headers
    assert.equal(fwd['x-forwarded-for'], '198.51.100.1', 'XFF passes unchanged')
    assert.equal(fwd['x-forwarded-proto'], 'https', 'a trusted hop set x-forwarded-proto')
    // Not an edge request (use_remote_address is off): Envoy keeps the client's request id.
    assert.equal(fwd['x-request-id'], 'client-rid')
  })

  it('use_remote_address: XFF appended, internal vs external, x-envoy-external-address', async () => {
    const edge = ports.edge!
    const internal = await send(edge, '/x', { headers: { 'x-request-id': 'internal-rid', 'x-forwarded-proto': 'https' } })
    const i = internal.echo().headers
    assert.equal(i['x-forwarded-for'], '127.0.0.1')
    assert.equal(i['x-envoy-internal'], 'true', 'a peer listed in internal_address_config, without XFF, is internal')
    assert.equal(i['x-envoy-external-address'], undefined)
    assert.equal(i['x-forwarded-proto'], 'http', 'the edge overwrites an untrusted x-forwarded-proto')
    assert.equal(i['x-request-id'], 'internal-rid', 'an internal request keeps its id')
    assert.equal(internal.headers.server, 'edge-proxy', 'server_name')

    const external = (await send(edge, '/x', { headers: { 'x-forwarded-for': '198.51.100.1', 'x-request-id': 'external-rid' } })).echo().headers
    assert.equal(external['x-forwarded-for'], '198.51.100.1, 127.0.0.1')
    assert.equal(external['x-envoy-internal'], undefined, 'a client-supplied XFF makes the request external')
    assert.equal(external['x-envoy-external-address'], '127.0.0.1')
    assert.notEqual(external['x-request-id'], 'external-rid', 'an edge request gets a fresh id')
    assert.match(String(external['x-request-id']), UUID)
  })

  it('xff_num_trusted_hops: the client address comes from XFF', async () => {
    const r = (await send(ports.hops!, '/x', { headers: { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' } })).echo().headers
    assert.equal(r['x-forwarded-for'], '198.51.100.1, 127.0.0.1')
    assert.equal(r['x-envoy-external-address'], '198.51.100.1')
    assert.equal(r['x-client-ip'], '198.51.100.1', '%DOWNSTREAM_REMOTE_ADDRESS% is the trusted client address')
    assert.equal(r['x-forwarded-proto'], 'https', 'x-forwarded-proto from a trusted hop is kept')
  })

  it('server header: OVERWRITE (default), APPEND_IF_ABSENT and PASS_THROUGH', async () => {
    const ow = await get('/srv/with', { host: 'proxied.test' })
    assert.equal(ow.headers.server, 'envoy', 'OVERWRITE replaces the upstream server')
    assert.equal((await get('/direct')).headers.server, 'envoy')
    const appendWith = await send(ports.srv_append!, '/srv/with')
    assert.equal(appendWith.headers.server, 'upstream-srv')
    const appendWithout = await send(ports.srv_append!, '/srv/none')
    assert.equal(appendWithout.headers.server, 'front-proxy')
    const passWith = await send(ports.srv_pass!, '/srv/with')
    assert.equal(passWith.headers.server, 'upstream-srv')
    const passWithout = await send(ports.srv_pass!, '/srv/none')
    assert.equal(passWithout.headers.server, undefined)
  })

  it('no matching route is 404 (no_route); x-envoy-upstream-service-time only on proxied responses', async () => {
    const before = await statValue(envoy, 'http.ingress.no_route')
    const r = await get('/other', { host: 'noroute.test' })
    assert.equal(r.status, 404)
    assert.equal(r.body, '')
    await waitForStat(envoy, 'http.ingress.no_route', (v) => v === before + 1)
    assert.equal(r.headers['x-envoy-upstream-service-time'], undefined)
    const ok = await get('/only', { host: 'noroute.test' })
    assert.equal(ok.status, 200)
    assert.equal(ok.body, 'only')
    const proxied = await get('/', { host: 'proxied.test' })
    assert.match(String(proxied.headers['x-envoy-upstream-service-time']), /^\d+$/)
  })
})

