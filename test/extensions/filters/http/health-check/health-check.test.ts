import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import type { HealthCheck } from '../../../../../source/common/protobuf/generated/envoy/extensions/filters/http/health_check/v3.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../../source/envoy/http/filter.js'
import { ResponseFlag } from '../../../../../source/envoy/stream-info/stream-info.js'
import type { ClusterManager, ThreadLocalCluster } from '../../../../../source/envoy/upstream/cluster-manager.js'
import { createHealthCheckConfig, healthCheckFilterFactory, setup } from '../../../../../source/extensions/filters/http/health-check/config.js'
import { HealthCheckFilter } from '../../../../../source/extensions/filters/http/health-check/health-check.js'
import { FakeStream, fakeHttpFactoryContext } from '../../../../mocks/http/fake-filter-callbacks.js'
import { makeHosts, makePrioritySet } from '../../../../mocks/upstream/hosts.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck'
let seq = 0
const uniquePath = (): string => `hc_test.http_filters[${seq++}].typed_config`

function config(overrides: Partial<HealthCheck> = {}): HealthCheck {
  return {
    pass_through_mode: false,
    cluster_min_healthy_percentages: {},
    headers: [{ name: ':path', exact_match: '/healthz', invert_match: false, treat_missing_header_as_empty: false }],
    ...overrides,
  }
}

const HC = { ':method': 'GET', ':path': '/healthz', ':authority': 'x' }
const NORMAL = { ':method': 'GET', ':path': '/api', ':authority': 'x' }

function expectInvalid(c: unknown, re: RegExp): void {
  assert.throws(() => healthCheckFilterFactory.createFilterFactory(c, fakeHttpFactoryContext(), 'f.typed_config'), (err: { code?: string; message: string }) => {
    assert.equal(err.code, ErrorCode.CONFIG_INVALID)
    assert.match(err.message, re)
    return true
  })
}

function clusterManager(clusters: Record<string, { healthy: number; unhealthy: number; degraded?: number }>): ClusterManager {
  return {
    getThreadLocalCluster(name) {
      const c = clusters[name]
      if (c === undefined) return undefined
      const hosts = [
        ...makeHosts(c.healthy, { health: 'Healthy' }),
        ...makeHosts(c.unhealthy, { health: 'Unhealthy' }),
        ...makeHosts(c.degraded ?? 0, { health: 'Degraded' }),
      ]
      return { prioritySet: makePrioritySet(hosts) } as Partial<ThreadLocalCluster> as ThreadLocalCluster
    },
    clusterNames: () => Object.keys(clusters),
  }
}

describe('health_check config', () => {
  it('registers by name and by @type, not terminal', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS)
    assert.equal(category.lookup('envoy.filters.http.health_check', undefined), healthCheckFilterFactory)
    assert.equal(category.lookup('other', TYPE), healthCheckFilterFactory)
    assert.equal(healthCheckFilterFactory.isTerminalFilter, false)
  })

  it('accepts a valid config', () => {
    assert.equal(typeof healthCheckFilterFactory.createFilterFactory(config(), fakeHttpFactoryContext(), uniquePath()), 'function')
    assert.equal(typeof healthCheckFilterFactory.createFilterFactory(config({ pass_through_mode: true, cache_time: '5s' }), fakeHttpFactoryContext(), uniquePath()), 'function')
  })

  it('rejects bad configs with ETS_ERR_CONFIG_INVALID naming the field', () => {
    expectInvalid({ headers: [], cluster_min_healthy_percentages: {} }, /^f\.typed_config\.pass_through_mode: value is required/)
    expectInvalid(config({ cache_time: '1s' }), /cache_time: cache_time_ms must not be set when path_through_mode is disabled/)
    expectInvalid(config({ headers: [{ name: ':path', safe_regex_match: { regex: '(' }, invert_match: false, treat_missing_header_as_empty: false }] }), /headers\[0\]/)
    expectInvalid(config({ cluster_min_healthy_percentages: { a: { value: 101 } } }), /cluster_min_healthy_percentages\["a"\]/)
  })
})

function start(c: HealthCheck, ctx = fakeHttpFactoryContext(), now?: () => number): { stream: FakeStream; shared: ReturnType<typeof createHealthCheckConfig> } {
  const shared = createHealthCheckConfig(c, ctx, uniquePath(), now)
  const stream = new FakeStream()
  stream.addStreamFilter(new HealthCheckFilter(shared))
  return { stream, shared }
}

describe('health_check filter', () => {
  it('answers matching requests with 200 and marks them as health checks; others pass', () => {
    const ctx = fakeHttpFactoryContext()
    const shared = createHealthCheckConfig(config(), ctx, uniquePath())
    const hc = new FakeStream()
    hc.addStreamFilter(new HealthCheckFilter(shared))
    hc.decodeHeaders(HC, true)
    assert.equal(hc.forwarded, false)
    assert.equal(hc.localReply?.code, 200)
    assert.equal(hc.localReply?.details, 'health_check_ok')
    assert.equal(hc.streamInfo.healthCheck, true)
    assert.equal(hc.downstream.headers?.get(':status'), '200')
    assert.equal(hc.streamInfo.responseFlags, 0)

    const normal = new FakeStream()
    normal.addStreamFilter(new HealthCheckFilter(shared))
    normal.decodeHeaders(NORMAL, true)
    assert.equal(normal.forwarded, true)
    assert.equal(normal.streamInfo.healthCheck, false)
    normal.encodeHeaders({ ':status': '200' }, true)
    assert.equal(normal.downstream.headers?.has('x-envoy-immediate-health-check-fail'), false)
  })

  it('waits for the end of a health check request with a body', () => {
    const { stream } = start(config())
    stream.decodeHeaders({ ...HC, ':method': 'POST' }, false)
    assert.equal(stream.localReplies.length, 0)
    stream.decodeData('ping', false)
    assert.equal(stream.localReplies.length, 0)
    stream.decodeData('', true)
    assert.equal(stream.localReply?.code, 200)
    assert.equal(stream.upstream.bodyText, '')
  })

  it('answers 503 (LH) after /healthcheck/fail and flags every response', () => {
    const ctx = fakeHttpFactoryContext()
    ctx.failHealthCheck(true)
    const { stream } = start(config(), ctx)
    stream.decodeHeaders(HC, true)
    assert.equal(stream.localReply?.code, 503)
    assert.equal(stream.localReply?.details, 'health_check_failed')
    assert.equal(stream.streamInfo.hasResponseFlag(ResponseFlag.FailedLocalHealthCheck), true)
    assert.equal(stream.downstream.headers?.get('x-envoy-immediate-health-check-fail'), 'true')

    const normal = start(config(), ctx).stream
    normal.decodeHeaders(NORMAL, true)
    assert.equal(normal.forwarded, true)
    normal.encodeHeaders({ ':status': '200' }, true)
    assert.equal(normal.downstream.headers?.get('x-envoy-immediate-health-check-fail'), 'true')

    ctx.failHealthCheck(false)
    const ok = start(config(), ctx).stream
    ok.decodeHeaders(HC, true)
    assert.equal(ok.localReply?.code, 200)
  })

  it('treats every request as a health check when no headers are configured (Envoy)', () => {
    const { stream } = start(config({ headers: [] }))
    stream.decodeHeaders(NORMAL, true)
    assert.equal(stream.localReply?.code, 200)
  })

  it('pass-through mode forwards health checks but still answers 503 itself when failing', () => {
    const ctx = fakeHttpFactoryContext()
    const { stream } = start(config({ pass_through_mode: true }), ctx)
    stream.decodeHeaders(HC, true)
    assert.equal(stream.forwarded, true)
    assert.equal(stream.streamInfo.healthCheck, true)
    stream.encodeHeaders({ ':status': '200' }, true)
    assert.equal(stream.downstream.headers?.get(':status'), '200')

    ctx.failHealthCheck(true)
    const failing = start(config({ pass_through_mode: true }), ctx).stream
    failing.decodeHeaders(HC, true)
    assert.equal(failing.forwarded, false)
    assert.equal(failing.localReply?.code, 503)
  })

  it('cache_time reuses the upstream answer (status and degraded) across streams until it expires', () => {
    let now = 1_000_000
    const ctx = fakeHttpFactoryContext()
    const shared = createHealthCheckConfig(config({ pass_through_mode: true, cache_time: '2s' }), ctx, uniquePath(), () => now)
    const open = (): FakeStream => {
      const s = new FakeStream()
      s.addStreamFilter(new HealthCheckFilter(shared))
      s.decodeHeaders(HC, true)
      return s
    }
    const first = open()
    assert.equal(first.forwarded, true)
    first.encodeHeaders({ ':status': '503', 'x-envoy-degraded': '' }, true)

    now += 1000
    const cached = open()
    assert.equal(cached.forwarded, false)
    assert.equal(cached.localReply?.code, 503)
    assert.equal(cached.localReply?.details, 'health_check_cached')
    assert.equal(cached.downstream.headers?.has('x-envoy-degraded'), true)
    assert.equal(cached.streamInfo.hasResponseFlag(ResponseFlag.FailedLocalHealthCheck), true)

    // Our own cached reply does not refresh the cache.
    now += 1500
    const expired = open()
    assert.equal(expired.forwarded, true)
    expired.encodeHeaders({ ':status': '200' }, true)
    const fresh = open()
    assert.equal(fresh.localReply?.code, 200)
    assert.equal(fresh.localReply?.details, 'health_check_cached')
    assert.equal(fresh.downstream.headers?.has('x-envoy-degraded'), false)
  })

  it('cluster_min_healthy_percentages: 503 when a cluster is missing, empty or below its minimum', () => {
    const cm = clusterManager({ half: { healthy: 1, unhealthy: 1, degraded: 2 }, empty: { healthy: 0, unhealthy: 0 } })
    const ctx = { ...fakeHttpFactoryContext(), clusterManager: cm }
    const answer = (percentages: Record<string, number>): [number, string] => {
      const { stream } = start(config({ cluster_min_healthy_percentages: Object.fromEntries(Object.entries(percentages).map(([k, v]) => [k, { value: v }])) }), ctx)
      stream.decodeHeaders(HC, true)
      return [stream.localReply!.code, stream.localReply!.details]
    }
    // 1 healthy + 2 degraded of 4 = 75% available.
    assert.deepEqual(answer({ half: 75 }), [200, 'health_check_ok_cluster_healthy'])
    assert.deepEqual(answer({ half: 80 }), [503, 'health_check_failed_cluster_unhealthy'])
    assert.deepEqual(answer({ missing: 0 }), [503, 'health_check_failed_no_cluster_found'])
    assert.deepEqual(answer({ empty: 0, half: 10 }), [200, 'health_check_ok_cluster_healthy'])
    assert.deepEqual(answer({ empty: 1 }), [503, 'health_check_failed_cluster_empty'])
  })

  it('installs one stream filter through the factory callback', () => {
    const install = healthCheckFilterFactory.createFilterFactory(config(), fakeHttpFactoryContext(), uniquePath())
    const stream = new FakeStream()
    install(stream)
    assert.equal(stream.decoderFilters.length, 1)
    assert.equal(stream.encoderFilters.length, 1)
    stream.decodeHeaders(HC, true)
    assert.equal(stream.localReply?.code, 200)
  })
})
