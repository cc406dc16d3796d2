/**
 * Issue 18, defect 4: regexes that config or clients supply run on an RE2 engine. A crafted
 * pattern cannot make a worker (route `safe_regex`, header matchers) or main (`/stats?filter=`)
 * backtrack; RE2-invalid patterns and too-big programs are refused at load time naming the field.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, runEnvoy, startEnvoy, tempDir, writeTemp } from './helpers/envoy-process.js'
import { type Json, hcmBootstrap, send, within } from './helpers/http-upstream.js'
import { request } from './helpers/http-client.js'
import { listenerPort, statValue } from './helpers/tcp.js'

/** Backtracking JS RegExp needs ~2^N steps on these (N = 30: minutes); RE2 is linear. */
const N = 30
const CLUSTER = 'a'.repeat(N)
const direct = (body: string): Json => ({ status: 200, body: { inline_string: body } })

function bootstrap(): string {
  const text = hcmBootstrap({
    virtualHosts: [{
      name: 'all',
      domains: ['*'],
      routes: [
        // Shaped like Envoy's examples, with nested quantifiers.
        { match: { safe_regex: { regex: '/(a+)+b' } }, direct_response: direct('nested') },
        { match: { prefix: '/hdr', headers: [{ name: 'x-crafted', string_match: { safe_regex: { regex: '(a|a)*b' } } }] }, direct_response: direct('header') },
        { match: { prefix: '/' }, direct_response: direct('fallthrough') },
      ],
    }],
    // A cluster whose stats have a long run of `a`s in their names.
    clusters: [{ name: CLUSTER, type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: CLUSTER, endpoints: [] } }],
  })
  const b = JSON.parse(text) as Json
  // A warn level every regex here exceeds: each compile counts re2.exceeded_warn_level.
  b.layered_runtime = { layers: [{ name: 'static', static_layer: { re2: { max_program_size: { warn_level: 3 } } } }] }
  return JSON.stringify(b)
}

const HOOK = { timeout: 30_000 }
/** Bounded: before the fix a stuck thread would otherwise hang the run for minutes. */
const TEST = { timeout: 15_000 }

describe('regexes run on RE2: no backtracking on crafted input', () => {
  let envoy: EnvoyProcess
  let port: number
  before(async () => {
    envoy = await startEnvoy({ config: bootstrap() })
    port = await listenerPort(envoy, 'http_in')
  }, HOOK)
  after(async () => {
    // Before the fix a thread is stuck matching and SIGTERM is never handled: kill then.
    if (envoy !== undefined) await within(envoy.stop(), 5000, 'stop').catch(() => envoy.stop('SIGKILL'))
  }, HOOK)

  it('a crafted path against a nested-quantifier safe_regex route answers at once, with full-match semantics', TEST, async () => {
    const t0 = performance.now()
    const r = await within(send(port, `/${'a'.repeat(N)}!`), 2000, 'crafted path')
    assert.equal(r.body, 'fallthrough')
    assert.ok(performance.now() - t0 < 2000)
    // The route still matches what it should, and only the whole path (RE2 FullMatch).
    assert.equal((await send(port, '/aaab')).body, 'nested')
    assert.equal((await send(port, '/aaab/more')).body, 'fallthrough')
    assert.equal((await send(port, '/x/aaab')).body, 'fallthrough')
  })

  it('a crafted header value against a safe_regex header matcher answers at once', TEST, async () => {
    const r = await within(send(port, '/hdr', { headers: { 'x-crafted': `${'a'.repeat(N)}c` } }), 2000, 'crafted header')
    assert.equal(r.body, 'fallthrough')
    assert.equal((await send(port, '/hdr', { headers: { 'x-crafted': 'aaab' } })).body, 'header')
  })

  it('/stats?filter= with a crafted pattern against a long stat name answers at once', TEST, async () => {
    const t0 = performance.now()
    const r = await within(request(`${envoy.adminUrl}/stats?filter=${encodeURIComponent('(a+)+$')}`), 2000, '/stats?filter')
    assert.equal(r.status, 200)
    assert.ok(performance.now() - t0 < 2000)
    // Partial-match semantics: a filter matches anywhere in the name.
    const hits = await request(`${envoy.adminUrl}/stats?filter=${encodeURIComponent(`${CLUSTER}\\.upstream_cx_total`)}`)
    assert.match(hits.body, new RegExp(`^cluster\\.${CLUSTER}\\.upstream_cx_total: 0$`, 'm'))
    const prom = await within(request(`${envoy.adminUrl}/stats/prometheus?filter=${encodeURIComponent('(a|a)*b$')}`), 2000, '/stats/prometheus?filter')
    assert.equal(prom.status, 200)
    // Main is still responsive.
    assert.equal((await request(`${envoy.adminUrl}/ready`)).status, 200)
  })

  it('/stats?filter= with a pattern RE2 rejects is a 400 naming the problem', TEST, async () => {
    for (const f of ['a(?=b)', '(a)\\1', '(']) {
      const r = await request(`${envoy.adminUrl}/stats?filter=${encodeURIComponent(f)}`)
      assert.equal(r.status, 400, f)
      assert.match(r.body, /Invalid re2 regex/, f)
    }
    const p = await request(`${envoy.adminUrl}/stats/prometheus?filter=${encodeURIComponent('(?<!x)y')}`)
    assert.equal(p.status, 400)
  })

  it('/config_dump?name_regex= is RE2 too: a crafted pattern answers at once, an invalid one is a 400', TEST, async () => {
    const crafted = await within(request(`${envoy.adminUrl}/config_dump?resource=static_clusters&name_regex=${encodeURIComponent('(a+)+$')}`), 2000, 'name_regex')
    assert.equal(crafted.status, 200)
    const hit = JSON.parse((await request(`${envoy.adminUrl}/config_dump?resource=static_clusters&name_regex=${encodeURIComponent('^a+$')}`)).body) as { configs: unknown[] }
    assert.equal(hit.configs.length, 1)
    const bad = await request(`${envoy.adminUrl}/config_dump?resource=static_clusters&name_regex=${encodeURIComponent('(?=a)')}`)
    assert.equal(bad.status, 400)
    assert.match(bad.body, /invalid name_regex: invalid RE2 regex/)
  })

  it('counts re2.exceeded_warn_level for regexes over re2.max_program_size.warn_level', TEST, async () => {
    assert.ok(await statValue(envoy, 're2.exceeded_warn_level') >= 2)
  })
})

/** A bootstrap with one route (or header matcher) holding `regex`, and optional runtime values. */
function routeBootstrap(match: Json, runtime?: Json): string {
  const b = JSON.parse(hcmBootstrap({ virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match, direct_response: direct('x') }] }] })) as Json
  if (runtime !== undefined) b.layered_runtime = { layers: [{ name: 'static', static_layer: runtime }] }
  return JSON.stringify(b)
}

const ROUTE = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].match'

describe('regexes RE2 rejects are refused at load time (--mode validate), naming the field', () => {
  const dir = tempDir('envoy-ts-regex-')
  const cases: Array<{ name: string; yaml: string; expect: string[] }> = [
    {
      name: 'a lookahead in a route safe_regex',
      yaml: routeBootstrap({ safe_regex: { regex: '/(?=api)[a-z]+' } }),
      expect: [`${ROUTE}.safe_regex.regex: invalid RE2 regex`, 'invalid or unsupported Perl syntax'],
    },
    {
      name: 'a backreference in a header matcher',
      yaml: routeBootstrap({ prefix: '/', headers: [{ name: 'x', string_match: { safe_regex: { regex: '(a)\\1' } } }] }),
      expect: [`${ROUTE}.headers[0].string_match.safe_regex.regex: invalid RE2 regex`, 'invalid escape sequence'],
    },
    {
      name: 'google_re2.max_program_size exceeded',
      yaml: routeBootstrap({ safe_regex: { google_re2: { max_program_size: 5 }, regex: '/[a-z]+/[0-9]+' } }),
      expect: [`${ROUTE}.safe_regex.regex: regex '/[a-z]+/[0-9]+' RE2 program size of`, '> max program size of 5.'],
    },
    {
      name: 'the default re2.max_program_size.error_level (100) exceeded',
      yaml: routeBootstrap({ safe_regex: { regex: '/a{150}' } }),
      expect: [`${ROUTE}.safe_regex: regex '/a{150}' RE2 program size of`, '> max program size of 100 set for the error level threshold'],
    },
    {
      name: 'a runtime re2.max_program_size.error_level exceeded',
      yaml: routeBootstrap({ safe_regex: { regex: '/[a-z]+/[0-9]+' } }, { re2: { max_program_size: { error_level: 5 } } }),
      expect: [`${ROUTE}.safe_regex: regex '/[a-z]+/[0-9]+' RE2 program size of`, '> max program size of 5 set for the error level threshold'],
    },
    {
      name: 'a lookbehind in a stats tag regex',
      yaml: 'stats_config:\n  stats_tags: [{ tag_name: t, regex: "(?<=x)(y)" }]\n',
      expect: ['stats_config.stats_tags[0].regex: invalid RE2 regex'],
    },
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const file = writeTemp(`${c.name.replace(/\W+/g, '-')}.yaml`, c.yaml, dir)
      const r = await runEnvoy(['-c', file, '--mode', 'validate'])
      assert.equal(r.code, 1, `expected exit 1\nstderr:\n${r.stderr}`)
      for (const e of c.expect) assert.ok(r.stderr.includes(e), `missing "${e}" in:\n${r.stderr}`)
    })
  }

  it('a raised runtime error_level admits a bigger regex', async () => {
    const file = writeTemp('raised.yaml', routeBootstrap({ safe_regex: { regex: '/a{150}' } }, { re2: { max_program_size: { error_level: 1000 } } }), dir)
    const r = await runEnvoy(['-c', file, '--mode', 'validate'])
    assert.equal(r.code, 0, r.stderr)
  })
})
