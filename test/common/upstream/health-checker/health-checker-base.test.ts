import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pino from 'pino'
import type { AccessLogFile } from '../../../../source/envoy/access-log/access-log.js'
import type { Scope } from '../../../../source/envoy/stats/stats.js'
import { HealthFlag } from '../../../../source/envoy/upstream/host.js'
import type { HealthCheck } from '../../../../source/common/protobuf/generated/envoy/config/core/v3.js'
import { StatMemory } from '../../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../../source/common/stats/thread-local-store.js'
import { ClusterHost } from '../../../../source/common/upstream/cluster-host.js'
import { HealthCheckEventLogger, type HealthCheckFailureType } from '../../../../source/common/upstream/event-loggers.js'
import {
  ActiveHealthCheckSession, HealthCheckerImplBase, type HealthCheckerContext, type HealthState, type HealthTransition,
} from '../../../../source/common/upstream/health-checker/health-checker-base.js'
import { FakeScheduler } from '../../../mocks/upstream/fake-scheduler.js'

/** A session whose checks the test completes by hand. */
class ScriptedSession extends ActiveHealthCheckSession {
  checks = 0
  timeouts = 0
  inFlight = false
  protected onInterval(): void {
    this.checks++
    this.inFlight = true
  }
  protected onTimeout(): void {
    this.timeouts++
    this.inFlight = false
  }
  protected onDestroy(): void {}
  pass(degraded = false): void {
    this.inFlight = false
    this.handleSuccess(degraded)
  }
  fail(type: HealthCheckFailureType = 'NETWORK', retriable = false): void {
    this.inFlight = false
    this.handleFailure(type, retriable)
  }
}

class ScriptedChecker extends HealthCheckerImplBase {
  readonly type = 'HTTP' as const
  readonly scripted = new Map<ClusterHost, ScriptedSession>()
  protected makeSession(host: ClusterHost): ActiveHealthCheckSession {
    const s = new ScriptedSession(this, host)
    this.scripted.set(host, s)
    return s
  }
}

interface Setup {
  checker: ScriptedChecker
  scheduler: FakeScheduler
  scope: Scope
  host: ClusterHost
  session: ScriptedSession
  events: Array<{ transition: HealthTransition; state: HealthState }>
  log: string[]
  traffic: { on: boolean }
}

function setup(config: Partial<HealthCheck> = {}, o: { random?: () => number; initialFlags?: number } = {}): Setup {
  const scheduler = new FakeScheduler()
  const scope = new ThreadLocalStoreImpl(StatMemory.create(256, 2), 0).createScope('cluster.c')
  const events: Setup['events'] = []
  const log: string[] = []
  const traffic = { on: true }
  const file: AccessLogFile = { write: (e) => log.push(e) }
  const ctx: HealthCheckerContext = {
    clusterName: 'c', scope, log: pino({ level: 'silent' }), scheduler, random: o.random ?? (() => 0),
    hasTraffic: () => traffic.on,
    eventLogger: new HealthCheckEventLogger(file, 'c', 'HTTP', () => scheduler.wallNow()),
    onHostCheckComplete: (_h, transition, state) => events.push({ transition, state }),
  }
  const hc = {
    timeout: '1s', interval: '10s', unhealthy_threshold: 3, healthy_threshold: 2, event_log_path: '',
    always_log_health_check_failures: false, always_log_health_check_success: false, interval_jitter_percent: 0,
    ...config,
  } as HealthCheck
  const checker = new ScriptedChecker(hc, ctx)
  const host = new ClusterHost({
    ip: '10.0.0.1', port: 80, family: 4, hostname: '', weight: 1, priority: 0,
    locality: { region: '', zone: '', sub_zone: '' }, localityWeight: 0, healthFlags: 0,
  })
  host.flags = o.initialFlags ?? HealthFlag.FAILED_ACTIVE_HC
  checker.addHosts([host])
  return { checker, scheduler, scope, host, session: checker.scripted.get(host)!, events, log, traffic }
}

const failed = (h: ClusterHost): boolean => h.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC)

describe('HealthCheckerImplBase: thresholds', () => {
  it('checks at once; the first pass makes a failed host healthy without healthy_threshold', () => {
    const s = setup()
    assert.equal(s.session.checks, 1)
    assert.equal(s.scope.counter('health_check.attempt').value(), 1)
    s.session.pass()
    assert.equal(failed(s.host), false)
    assert.deepEqual(s.events, [{ transition: 'Changed', state: 'Healthy' }])
    assert.equal(s.scope.gauge('health_check.healthy', 'NeverImport').value(), 1)
    assert.equal(s.scope.counter('health_check.success').value(), 1)
    assert.deepEqual(JSON.parse(s.log[0]!), {
      health_checker_type: 'HTTP',
      host: { socket_address: { protocol: 'TCP', address: '10.0.0.1', port_value: 80, resolver_name: '', ipv4_compat: false } },
      cluster_name: 'c', add_healthy_event: { first_check: true }, timestamp: '2024-01-01T00:00:00Z',
    })
  })

  it('network failures fail a healthy host after unhealthy_threshold in a row; a pass resets the count', () => {
    const s = setup({}, { initialFlags: 0 })
    const seen: HealthTransition[] = []
    for (const step of ['fail', 'fail', 'pass', 'fail', 'fail', 'fail'] as const) {
      if (!s.session.inFlight) s.scheduler.runNext()
      if (step === 'pass') s.session.pass()
      else s.session.fail('NETWORK')
      seen.push(s.events.at(-1)!.transition)
    }
    assert.deepEqual(seen, ['ChangePending', 'ChangePending', 'Unchanged', 'ChangePending', 'ChangePending', 'Changed'])
    assert.equal(failed(s.host), true)
    assert.equal(s.scope.counter('health_check.network_failure').value(), 5)
    assert.equal(s.scope.counter('health_check.failure').value(), 5)
    assert.equal(s.scope.gauge('health_check.healthy', 'NeverImport').value(), 0)
    assert.ok(s.log.some((l) => JSON.parse(l).eject_unhealthy_event?.failure_type === 'NETWORK'))
  })

  it('an ACTIVE failure (a bad status) fails at once; a retriable one counts like a network failure', () => {
    const a = setup({}, { initialFlags: 0 })
    a.session.fail('ACTIVE')
    assert.equal(failed(a.host), true)
    const r = setup({}, { initialFlags: 0 })
    r.session.fail('ACTIVE', true)
    assert.equal(failed(r.host), false)
    assert.equal(r.events.at(-1)!.transition, 'ChangePending')
  })

  it('after the first check, a failed host needs healthy_threshold passes in a row', () => {
    const s = setup()
    s.session.fail('NETWORK')
    assert.equal(failed(s.host), true)
    s.scheduler.runNext()
    s.session.pass()
    assert.equal(failed(s.host), true)
    assert.equal(s.events.at(-1)!.transition, 'ChangePending')
    s.scheduler.runNext()
    s.session.pass()
    assert.equal(failed(s.host), false)
    assert.equal(s.events.at(-1)!.transition, 'Changed')
  })

  it('a timeout is a NETWORK_TIMEOUT failure and marks a failed host active_hc_timeout', () => {
    const s = setup({ unhealthy_threshold: 1 }, { initialFlags: 0 })
    s.scheduler.advance(1000)
    assert.equal(s.session.timeouts, 1)
    assert.equal(failed(s.host), true)
    assert.equal(s.host.healthFlagGet(HealthFlag.ACTIVE_HC_TIMEOUT), true)
    s.scheduler.runNext()
    s.session.fail('NETWORK')
    assert.equal(s.host.healthFlagGet(HealthFlag.ACTIVE_HC_TIMEOUT), false, 'a non-timeout failure clears it')
  })

  it('clears PENDING_ACTIVE_HC on the first result, pass or fail, as a change', () => {
    const s = setup({}, { initialFlags: HealthFlag.FAILED_ACTIVE_HC | HealthFlag.PENDING_ACTIVE_HC })
    s.session.fail('NETWORK')
    assert.equal(s.host.healthFlagGet(HealthFlag.PENDING_ACTIVE_HC), false)
    assert.equal(failed(s.host), true)
    assert.equal(s.events.at(-1)!.transition, 'Changed')
  })

  it('x-envoy-degraded passes set and clear DEGRADED_ACTIVE_HC', () => {
    const s = setup({}, { initialFlags: 0 })
    s.session.pass(true)
    assert.equal(s.host.healthFlagGet(HealthFlag.DEGRADED_ACTIVE_HC), true)
    assert.equal(s.scope.gauge('health_check.degraded', 'NeverImport').value(), 1)
    assert.equal(s.events.at(-1)!.transition, 'Changed')
    s.scheduler.runNext()
    s.session.pass(false)
    assert.equal(s.host.healthFlagGet(HealthFlag.DEGRADED_ACTIVE_HC), false)
    assert.equal(s.scope.gauge('health_check.degraded', 'NeverImport').value(), 0)
  })

  it('a passive immediate failure excludes and fails the host; the next pass clears both', () => {
    const s = setup({ healthy_threshold: 1 }, { initialFlags: 0 })
    s.session.pass()
    s.checker.setUnhealthyCrossThread(s.host)
    assert.equal(failed(s.host), true)
    assert.equal(s.host.healthFlagGet(HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL), true)
    assert.equal(s.scope.counter('health_check.passive_failure').value(), 1)
    s.scheduler.runNext()
    s.session.pass()
    assert.equal(s.host.flags, 0)
  })

  it('always_log_health_check_failures logs every failure, not just the first check\'s', () => {
    const quiet = setup({}, { initialFlags: 0 })
    quiet.session.fail('NETWORK')
    quiet.scheduler.runNext()
    quiet.session.fail('NETWORK')
    assert.equal(quiet.log.filter((l) => l.includes('health_check_failure_event')).length, 1)
    const loud = setup({ always_log_health_check_failures: true }, { initialFlags: 0 })
    loud.session.fail('NETWORK')
    loud.scheduler.runNext()
    loud.session.fail('NETWORK')
    assert.equal(loud.log.filter((l) => l.includes('health_check_failure_event')).length, 2)
  })
})

describe('HealthCheckerImplBase: intervals', () => {
  it('uses interval / unhealthy_interval / edge intervals with traffic, no_traffic_interval without', () => {
    const s = setup({ interval: '10s', unhealthy_interval: '20s', unhealthy_edge_interval: '3s', healthy_edge_interval: '4s', no_traffic_interval: '60s' }, { initialFlags: 0 })
    s.session.pass()
    assert.deepEqual(s.scheduler.pending(), [10_000])
    s.scheduler.runNext()
    s.session.fail('NETWORK')
    assert.deepEqual(s.scheduler.pending(), [3000], 'a pending unhealthy change uses unhealthy_edge_interval')
    s.scheduler.runNext(); s.session.fail('NETWORK')
    s.scheduler.runNext(); s.session.fail('NETWORK')
    assert.deepEqual(s.scheduler.pending(), [20_000], 'unhealthy: unhealthy_interval')
    s.scheduler.runNext(); s.session.pass()
    assert.deepEqual(s.scheduler.pending(), [4000], 'a pending healthy change uses healthy_edge_interval')
    s.traffic.on = false
    s.scheduler.runNext(); s.session.pass()
    assert.deepEqual(s.scheduler.pending(), [60_000], 'no traffic yet: no_traffic_interval')
  })

  it('defaults no_traffic_interval to 60s and no_traffic_healthy_interval to it', () => {
    const s = setup({ no_traffic_healthy_interval: '90s' }, { initialFlags: 0 })
    s.traffic.on = false
    s.session.fail('NETWORK')
    assert.deepEqual(s.scheduler.pending(), [60_000])
    s.scheduler.runNext()
    s.session.pass()
    assert.deepEqual(s.scheduler.pending(), [90_000])
  })

  it('adds interval_jitter and interval_jitter_percent, and delays the first check by initial_jitter', () => {
    const s = setup({ interval: '10s', interval_jitter: '1s', interval_jitter_percent: 10, initial_jitter: '2s' }, { random: () => 0.5, initialFlags: 0 })
    assert.equal(s.session.checks, 0, 'initial_jitter delays the first check')
    assert.deepEqual(s.scheduler.pending(), [1000])
    s.scheduler.runNext()
    assert.equal(s.session.checks, 1)
    s.session.pass()
    // 10 s + 0.5 × (10 % of 10 s) + 0.5 × 1 s
    assert.deepEqual(s.scheduler.pending(), [11_000])
  })

  it('stops checking a removed host and reports a first check that will never run', () => {
    const s = setup()
    s.checker.removeHost(s.host)
    assert.deepEqual(s.scheduler.pending(), [])
    assert.deepEqual(s.events, [{ transition: 'Unchanged', state: 'Unhealthy' }])
  })
})
