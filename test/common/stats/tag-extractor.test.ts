import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { describe, it } from 'node:test'
import { renderPrometheus } from '../../../source/common/stats/prometheus.js'
import { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { StatsRoot } from '../../../source/common/stats/stats-root.js'
import { TagExtractor } from '../../../source/common/stats/tag-extractor.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import { checkPrometheus } from '../../helpers/prometheus-checker.js'

const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Array<{ name: string; type: string; metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }> }>

describe('TagExtractor', () => {
  const t = new TagExtractor()
  const cases: Array<[string, string, Record<string, string>]> = [
    ['cluster.backend.upstream_rq_total', 'cluster.upstream_rq_total', { 'envoy.cluster_name': 'backend' }],
    ['cluster.backend.upstream_rq_503', 'cluster.upstream_rq', { 'envoy.cluster_name': 'backend', 'envoy.response_code': '503' }],
    ['cluster.backend.upstream_rq_5xx', 'cluster.upstream_rq_xx', { 'envoy.cluster_name': 'backend', 'envoy.response_code_class': '5' }],
    ['http.ingress_http.downstream_rq_2xx', 'http.downstream_rq_xx', { 'envoy.http_conn_manager_prefix': 'ingress_http', 'envoy.response_code_class': '2' }],
    ['listener.127.0.0.1_10000.downstream_cx_total', 'listener.downstream_cx_total', { 'envoy.listener_address': '127.0.0.1_10000' }],
    ['listener.127.0.0.1_10000.worker_3.downstream_cx_total', 'listener.downstream_cx_total', { 'envoy.listener_address': '127.0.0.1_10000', 'envoy.worker_id': 'worker_3' }],
    ['tcp.tcp_in.downstream_cx_total', 'tcp.downstream_cx_total', { 'envoy.tcp_prefix': 'tcp_in' }],
    ['server.worker_1.watchdog_miss', 'server.watchdog_miss', { 'envoy.worker_id': 'worker_1' }],
    ['server.uptime', 'server.uptime', {}],
    // The RE2 forms of Envoy's lookahead extractors extract the same tags.
    ['http.ingress.user_agent.ios.downstream_cx_total', 'http.user_agent.downstream_cx_total', { 'envoy.http_user_agent': 'ios', 'envoy.http_conn_manager_prefix': 'ingress' }],
    ['http.user_agent.ios.downstream_cx_total', 'http.downstream_cx_total', { 'envoy.http_user_agent': 'ios', 'envoy.http_conn_manager_prefix': 'user_agent' }],
    ['listener.0.0.0.0_80.http.ingress.downstream_rq_total', 'listener.http.downstream_rq_total', { 'envoy.http_conn_manager_prefix': 'ingress', 'envoy.listener_address': '0.0.0.0_80' }],
    ['http.ingress.fault.backend.delays_injected', 'http.fault.delays_injected', { 'envoy.fault_downstream_cluster': 'backend', 'envoy.http_conn_manager_prefix': 'ingress' }],
    ['http.ingress.rds.my_routes.config_reload', 'http.rds.config_reload', { 'envoy.rds_route_config': 'my_routes', 'envoy.http_conn_manager_prefix': 'ingress' }],
    ['vhost.vh1.vcluster.vc1.upstream_rq_time', 'vhost.vcluster.upstream_rq_time', { 'envoy.virtual_cluster': 'vc1', 'envoy.virtual_host': 'vh1' }],
  ]
  for (const [name, extracted, tags] of cases) {
    it(`extracts ${name}`, () => {
      const r = t.extract(name)
      assert.equal(r.extracted, extracted)
      assert.deepEqual(Object.fromEntries(r.tags.map((x) => [x.name, x.value])), tags)
    })
  }

  it('honours custom stats_tags, fixed values and use_all_default_tags: false', () => {
    const custom = new TagExtractor({
      stats_tags: [{ tag_name: 'app', regex: '^app\\.((.*?)\\.)' }, { tag_name: 'region', fixed_value: 'eu' }],
      use_all_default_tags: false,
    } as never)
    const r = custom.extract('app.web.requests')
    assert.equal(r.extracted, 'app.requests')
    assert.deepEqual(r.tags, [{ name: 'app', value: 'web' }, { name: 'region', value: 'eu' }])
    assert.equal(custom.extract('cluster.x.y').extracted, 'cluster.x.y')
  })
})

describe('renderPrometheus', () => {
  it('writes exposition format that a Prometheus parser accepts', async () => {
    const memory = StatMemory.create(64, 1)
    const s = new ThreadLocalStoreImpl(memory, 0)
    s.counter('cluster.a.upstream_rq_total').add(3)
    s.counter('cluster.b.upstream_rq_total').add(4)
    s.counter('cluster.b.upstream_rq_200').add(4)
    s.gauge('server.live').set(1)
    const h = s.histogram('cluster.a.upstream_rq_time', 'Milliseconds')
    h.recordValue(3)
    h.recordValue(700)
    const root = new StatsRoot(memory, s, () => Promise.resolve([]))
    await root.mergeHistograms()
    const text = renderPrometheus(root.snapshot(), new TagExtractor())
    const families = parsePrometheus(text)
    const byName = new Map(families.map((f) => [f.name, f]))
    const total = byName.get('envoy_cluster_upstream_rq_total')!
    assert.equal(total.type, 'COUNTER')
    assert.deepEqual(total.metrics.map((m) => [m.labels?.envoy_cluster_name, m.value]), [['a', '3'], ['b', '4']])
    assert.equal(byName.get('envoy_cluster_upstream_rq')!.metrics[0]!.labels!.envoy_response_code, '200')
    assert.equal(byName.get('envoy_server_live')!.type, 'GAUGE')
    assert.equal(byName.get('envoy_cluster_upstream_rq_time')!.type, 'HISTOGRAM')
    const strict = checkPrometheus(text)
    const hist = strict.get('envoy_cluster_upstream_rq_time')!
    const sample = (n: string, le?: string): number | undefined => hist.samples.find((x) => x.name === n && x.labels.le === le)?.value
    assert.equal(sample('envoy_cluster_upstream_rq_time_count'), 2)
    assert.equal(sample('envoy_cluster_upstream_rq_time_sum'), 703)
    assert.equal(sample('envoy_cluster_upstream_rq_time_bucket', '5'), 1)
    assert.equal(sample('envoy_cluster_upstream_rq_time_bucket', '1000'), 2)
    assert.equal(hist.samples[0]!.labels.envoy_cluster_name, 'a')
    assert.match(text, /^# TYPE envoy_cluster_upstream_rq_total counter$/m)
  })
})
