import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pino from 'pino'
import type { OutlierDetection } from '../../../source/common/protobuf/generated/envoy/config/cluster/v3.js'
import { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import { ClusterHost } from '../../../source/common/upstream/cluster-host.js'
import { OutlierEventLogger } from '../../../source/common/upstream/event-loggers.js'
import {
  Field, HostMonitor, HostMonitorMemory, outlierThresholds,
} from '../../../source/common/upstream/host-monitor-memory.js'
import {
  checkOutlierDetection, DetectorImpl, successRateEjectionThreshold,
} from '../../../source/common/upstream/outlier-detection-impl.js'
import { HealthFlag } from '../../../source/envoy/upstream/host.js'
import { OutlierResult } from '../../../source/envoy/upstream/outlier-detection.js'
import { FakeScheduler } from '../../mocks/upstream/fake-scheduler.js'

function od(o: Partial<OutlierDetection> = {}): OutlierDetection {
  return { split_external_local_origin_errors: false, monitors: [], ...o } as OutlierDetection
}

/** A detector over `n` hosts, with a worker-side monitor per host writing to shared memory. */
function setup(n: number, config: Partial<OutlierDetection> = {}, random = () => 0) {
  const scheduler = new FakeScheduler()
  const scope = new ThreadLocalStoreImpl(StatMemory.create(256, 2), 0).createScope('cluster.c')
  const memory = HostMonitorMemory.create(16)
  const log: string[] = []
  const changes: string[] = []
  const cfg = od(config)
  const detector = new DetectorImpl(cfg, {
    clusterName: 'c', scope, scheduler, random, log: pino({ level: 'silent' }), memory: () => memory,
    onChange: (h) => changes.push(`${h.address}:${h.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK) ? 'ejected' : 'back'}`),
    eventLogger: new OutlierEventLogger({ write: (e) => log.push(e) }, () => scheduler.now(), () => scheduler.wallNow()),
  })
  const thresholds = outlierThresholds({ outlier_detection: cfg } as never)
  const hosts = Array.from({ length: n }, (_, i) => {
    const h = new ClusterHost({ ip: '10.0.0.1', port: 8000 + i, family: 4, hostname: '', weight: 1, priority: 0, locality: { region: '', zone: '', sub_zone: '' }, localityWeight: 0, healthFlags: 0 })
    h.monitorSlot = i
    detector.addHost(h)
    return h
  })
  const monitors = hosts.map((h) => new HostMonitor(memory, h.monitorSlot, thresholds, false))
  /** What main does when the doorbell rings. */
  const drain = (): void => {
    for (const h of hosts) {
      const bits = memory.take(h.monitorSlot, Field.EVENTS)
      if (bits !== 0) detector.onConsecutiveEvents(h, bits)
    }
  }
  const stat = (name: string): number => scope.counter(`outlier_detection.${name}`).value()
  const active = (): number => scope.gauge('outlier_detection.ejections_active', 'Accumulate').value()
  detector.start()
  return { scheduler, detector, hosts, monitors, memory, drain, stat, active, log, changes }
}

const ejected = (h: ClusterHost): boolean => h.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK)

describe('HostMonitor (worker side)', () => {
  it('raises one event when consecutive 5xx reach the threshold; a success resets the streak', () => {
    const s = setup(1, { consecutive_5xx: 3 })
    const [m] = s.monitors
    m!.putHttpResponseCode(500)
    m!.putHttpResponseCode(500)
    m!.putHttpResponseCode(200)
    m!.putHttpResponseCode(500)
    m!.putHttpResponseCode(500)
    assert.equal(s.memory.load(0, Field.EVENTS), 0)
    const rung = s.memory.doorbell()
    m!.putHttpResponseCode(503)
    assert.notEqual(s.memory.load(0, Field.EVENTS), 0)
    assert.equal(s.memory.doorbell(), rung + 1)
    m!.putHttpResponseCode(500)
    assert.equal(s.memory.doorbell(), rung + 1, 'only the threshold-reaching failure rings')
  })

  it('maps connect results to 503/504 without the split, and counts them apart with it', () => {
    const plain = setup(1, { consecutive_5xx: 2 })
    plain.monitors[0]!.putResult(OutlierResult.LocalOriginConnectFailed)
    plain.monitors[0]!.putResult(OutlierResult.LocalOriginTimeout, 504)
    assert.equal(plain.memory.load(0, Field.CONSECUTIVE_5XX), 2)
    assert.equal(plain.memory.load(0, Field.CONSECUTIVE_GATEWAY_FAILURE), 2)
    plain.monitors[0]!.putResult(OutlierResult.LocalOriginConnectSuccess)
    assert.equal(plain.memory.load(0, Field.CONSECUTIVE_5XX), 2, 'a connect success says nothing about the response')
    const split = setup(1, { split_external_local_origin_errors: true, consecutive_local_origin_failure: 2 })
    split.monitors[0]!.putResult(OutlierResult.LocalOriginConnectFailed)
    split.monitors[0]!.putResult(OutlierResult.LocalOriginTimeout)
    assert.equal(split.memory.load(0, Field.CONSECUTIVE_5XX), 0)
    assert.equal(split.memory.load(0, Field.CONSECUTIVE_LOCAL_ORIGIN_FAILURE), 2)
    split.drain()
    assert.equal(ejected(split.hosts[0]!), false, 'max_ejection_percent (10%) protects a one-host cluster')
    assert.equal(split.stat('ejections_detected_consecutive_local_origin_failure'), 1)
    assert.equal(split.stat('ejections_overflow'), 1)
  })
})

describe('DetectorImpl: consecutive failures', () => {
  it('ejects on consecutive 5xx, with Envoy\'s stats, and brings the host back after base_ejection_time', () => {
    const s = setup(2, { max_ejection_percent: 50, base_ejection_time: '10s', interval: '1s' })
    for (let i = 0; i < 5; i++) s.monitors[0]!.putHttpResponseCode(500)
    s.drain()
    assert.equal(ejected(s.hosts[0]!), true)
    assert.equal(s.active(), 1)
    for (const n of ['ejections_enforced_total', 'ejections_enforced_consecutive_5xx', 'ejections_detected_consecutive_5xx', 'ejections_total', 'ejections_consecutive_5xx']) {
      assert.equal(s.stat(n), 1, n)
    }
    assert.equal(s.memory.load(0, Field.CONSECUTIVE_5XX), 0, 'the streak restarts')
    s.scheduler.advance(9000)
    assert.equal(ejected(s.hosts[0]!), true)
    s.scheduler.advance(1000)
    assert.equal(ejected(s.hosts[0]!), false)
    assert.equal(s.active(), 0)
    assert.deepEqual(s.changes, ['10.0.0.1:8000:ejected', '10.0.0.1:8000:back'])
    const [eject, uneject] = s.log.map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.deepEqual(eject, {
      type: 'CONSECUTIVE_5XX', timestamp: '2024-01-01T00:00:00Z', cluster_name: 'c', upstream_url: '10.0.0.1:8000',
      action: 'EJECT', num_ejections: 1, enforced: true, eject_consecutive_event: {},
    })
    assert.equal(uneject!.action, 'UNEJECT')
    assert.equal(uneject!.secs_since_last_action, '10')
  })

  it('grows the ejection time with each ejection, capped by max_ejection_time, and shrinks it while healthy', () => {
    const s = setup(2, { max_ejection_percent: 100, base_ejection_time: '10s', max_ejection_time: '25s', interval: '1s' })
    const h = s.hosts[0]!
    const ejectFor = (): number => {
      for (let i = 0; i < 5; i++) s.monitors[0]!.putHttpResponseCode(502)
      s.drain()
      assert.equal(ejected(h), true)
      const start = s.scheduler.now()
      while (ejected(h)) s.scheduler.advance(1000)
      return s.scheduler.now() - start
    }
    assert.equal(ejectFor(), 10_000)
    assert.equal(ejectFor(), 20_000)
    assert.equal(ejectFor(), 25_000, 'capped by max_ejection_time')
    s.scheduler.advance(10_000)
    assert.ok(ejectFor() < 25_000, 'healthy intervals bring the multiplier down')
  })

  it('caps ejections at max_ejection_percent (ejections_overflow), unless always_eject_one_host', () => {
    const s = setup(4, { max_ejection_percent: 25 })
    for (const i of [0, 1]) for (let k = 0; k < 5; k++) s.monitors[i]!.putHttpResponseCode(500)
    s.drain()
    assert.deepEqual(s.hosts.map(ejected), [true, false, false, false])
    assert.equal(s.stat('ejections_overflow'), 1)
    const one = setup(4, { always_eject_one_host: true })
    for (let k = 0; k < 5; k++) one.monitors[2]!.putHttpResponseCode(500)
    one.drain()
    assert.equal(ejected(one.hosts[2]!), true, '10% of 4 hosts is < 1, but one may go')
  })

  it('detects without ejecting when enforcement is 0 (consecutive_gateway_failure\'s default)', () => {
    const s = setup(2, { max_ejection_percent: 100, consecutive_5xx: 100 })
    for (let k = 0; k < 5; k++) s.monitors[0]!.putHttpResponseCode(503)
    s.drain()
    assert.equal(ejected(s.hosts[0]!), false)
    assert.equal(s.stat('ejections_detected_consecutive_gateway_failure'), 1)
    assert.equal(s.stat('ejections_enforced_consecutive_gateway_failure'), 0)
    assert.equal(JSON.parse(s.log[0]!).enforced, false)
    const e = setup(2, { max_ejection_percent: 100, consecutive_5xx: 100, enforcing_consecutive_gateway_failure: 100 })
    for (let k = 0; k < 5; k++) e.monitors[0]!.putHttpResponseCode(504)
    e.drain()
    assert.equal(ejected(e.hosts[0]!), true)
  })

  it('un-ejects on a passing active health check (successful_active_health_check_uneject_host)', () => {
    const s = setup(2, { max_ejection_percent: 100 })
    for (let k = 0; k < 5; k++) s.monitors[1]!.putHttpResponseCode(500)
    s.drain()
    s.detector.onHealthCheckSuccess(s.hosts[1]!)
    assert.equal(ejected(s.hosts[1]!), false)
  })
})

describe('DetectorImpl: success rate and failure percentage', () => {
  it('computes Envoy\'s threshold: mean − factor × stdev', () => {
    const r = successRateEjectionThreshold(450, [50, 100, 100, 100, 100], 1.9)
    assert.equal(r.average, 90)
    assert.equal(Math.round(r.threshold), 52)
  })

  /** `rates[i]` percent of 100 requests to host i succeed, then one interval passes. */
  function interval(s: ReturnType<typeof setup>, rates: number[]): void {
    rates.forEach((rate, i) => {
      for (let k = 0; k < 100; k++) s.monitors[i]!.putHttpResponseCode(k < rate ? 200 : 500)
    })
    s.scheduler.advance(10_000)
  }

  it('ejects a host whose success rate is below the threshold, and reports rates to /clusters', () => {
    const s = setup(5, { max_ejection_percent: 100, consecutive_5xx: 1000 })
    interval(s, [50, 100, 100, 100, 100])
    assert.deepEqual(s.hosts.map(ejected), [true, false, false, false, false])
    assert.equal(s.stat('ejections_detected_success_rate'), 1)
    assert.equal(s.stat('ejections_enforced_success_rate'), 1)
    assert.equal(s.detector.successRateAverage('ExternalOrigin'), 90)
    assert.equal(Math.round(s.detector.successRateEjectionThreshold('ExternalOrigin')), 52)
    assert.equal(s.detector.successRate(s.hosts[0]!, 'ExternalOrigin'), 50)
    assert.equal(s.detector.successRate(s.hosts[1]!, 'ExternalOrigin'), 100)
    const event = JSON.parse(s.log[0]!)
    assert.deepEqual(event.eject_success_rate_event, { host_success_rate: 50, cluster_average_success_rate: 90, cluster_success_rate_ejection_threshold: 52 })
  })

  it('needs success_rate_minimum_hosts hosts with success_rate_request_volume requests', () => {
    const s = setup(4, { max_ejection_percent: 100, consecutive_5xx: 1000 })
    interval(s, [0, 100, 100, 100])
    assert.deepEqual(s.hosts.map(ejected), [false, false, false, false])
    assert.equal(s.detector.successRateEjectionThreshold('ExternalOrigin'), -1)
  })

  it('ejects on failure_percentage_threshold when enforced', () => {
    const s = setup(5, { max_ejection_percent: 100, consecutive_5xx: 1000, enforcing_success_rate: 0, enforcing_failure_percentage: 100 })
    interval(s, [10, 100, 95, 100, 100])
    assert.deepEqual(s.hosts.map(ejected), [true, false, false, false, false])
    assert.equal(s.stat('ejections_enforced_failure_percentage'), 1)
  })
})

describe('checkOutlierDetection', () => {
  it('rejects max_ejection_time below base_ejection_time', () => {
    assert.deepEqual(checkOutlierDetection(od({ base_ejection_time: '60s', max_ejection_time: '30s' }), 'clusters[0]'),
      ["clusters[0].outlier_detection: outlier detector's max_ejection_time cannot be smaller than base_ejection_time"])
    assert.deepEqual(checkOutlierDetection(od({ base_ejection_time: '600s' }), 'clusters[0]'), [], 'the default max follows a larger base')
  })
})
