/**
 * Active health checking on main (Envoy's HealthCheckerImplBase and ActiveHealthCheckSession):
 * one session per host, each on its own timers. A session runs a check every interval; the
 * result moves the host's HealthFlag bits by Envoy's rules:
 *
 *   success: clears FAILED_ACTIVE_HC on the first check ever, or after `healthy_threshold`
 *            successes in a row; sets/clears DEGRADED_ACTIVE_HC (`x-envoy-degraded`).
 *   failure: an ACTIVE (non-network) or PASSIVE failure fails the host at once; a NETWORK or
 *            NETWORK_TIMEOUT failure (and a retriable status) after `unhealthy_threshold` in a
 *            row. NETWORK_TIMEOUT on a failed host also sets ACTIVE_HC_TIMEOUT.
 *   either:  clears PENDING_ACTIVE_HC (the host has now been checked).
 *
 * The next check comes after `interval` (healthy), `unhealthy_interval` (unhealthy), or the
 * edge intervals while a change is pending; `no_traffic_interval` (and
 * `no_traffic_healthy_interval`) while the cluster has carried no traffic, which we know from
 * the shared `upstream_cx_total` / byte counters every worker writes. Jitter is added as in
 * Envoy. The subclass runs one check per `onInterval` and reports back.
 */
import type { Logger } from 'pino'
import type { Counter, Gauge, Scope } from '../../../envoy/stats/stats.js'
import { HealthFlag } from '../../../envoy/upstream/host.js'
import { durationToMs } from '../../protobuf/duration.js'
import type { HealthCheck } from '../../protobuf/generated/envoy/config/core/v3.js'
import type { ClusterHost } from '../cluster-host.js'
import type { HealthCheckerType, HealthCheckEventLogger, HealthCheckFailureType } from '../event-loggers.js'
import type { Scheduler, TimerHandle } from '../scheduler.js'

export type HealthTransition = 'Unchanged' | 'Changed' | 'ChangePending'
export type HealthState = 'Healthy' | 'Unhealthy'

export interface HealthCheckerStats {
  readonly attempt: Counter
  readonly success: Counter
  readonly failure: Counter
  readonly network_failure: Counter
  readonly passive_failure: Counter
  readonly verify_cluster: Counter
  readonly healthy: Gauge
  readonly degraded: Gauge
}

export interface HealthCheckerContext {
  readonly clusterName: string
  /** The cluster's scope (`cluster.<name>.`); stats go under `health_check.`. */
  readonly scope: Scope
  /** True once any worker sent traffic to the cluster. */
  readonly hasTraffic: () => boolean
  readonly log: Logger
  readonly scheduler: Scheduler
  /** Uniform in [0, 1). */
  readonly random: () => number
  /** Set when `event_log_path` is. */
  readonly eventLogger?: HealthCheckEventLogger
  /** Called after every check result (and for a first check that will never run). */
  readonly onHostCheckComplete: (host: ClusterHost, transition: HealthTransition, state: HealthState) => void
}

function healthCheckerStats(scope: Scope): HealthCheckerStats {
  const c = (n: string): Counter => scope.counter(`health_check.${n}`)
  const g = (n: string): Gauge => scope.gauge(`health_check.${n}`, 'NeverImport')
  return {
    attempt: c('attempt'), success: c('success'), failure: c('failure'), network_failure: c('network_failure'),
    passive_failure: c('passive_failure'), verify_cluster: c('verify_cluster'), healthy: g('healthy'), degraded: g('degraded'),
  }
}

export abstract class HealthCheckerImplBase {
  abstract readonly type: HealthCheckerType
  readonly stats: HealthCheckerStats
  readonly ctx: HealthCheckerContext
  readonly timeoutMs: number
  readonly unhealthyThreshold: number
  readonly healthyThreshold: number
  readonly reuseConnection: boolean
  readonly alwaysLogFailures: boolean
  readonly alwaysLogSuccess: boolean
  private readonly intervalMs: number
  private readonly noTrafficMs: number
  private readonly noTrafficHealthyMs: number
  private readonly initialJitterMs: number
  private readonly intervalJitterMs: number
  private readonly jitterPercent: number
  private readonly unhealthyMs: number
  private readonly unhealthyEdgeMs: number
  private readonly healthyEdgeMs: number
  private readonly sessions = new Map<ClusterHost, ActiveHealthCheckSession>()

  constructor(config: HealthCheck, ctx: HealthCheckerContext) {
    this.ctx = ctx
    this.stats = healthCheckerStats(ctx.scope)
    this.timeoutMs = durationToMs(config.timeout, 1000)
    this.intervalMs = durationToMs(config.interval, 1000)
    this.unhealthyThreshold = config.unhealthy_threshold ?? 1
    this.healthyThreshold = config.healthy_threshold ?? 1
    this.reuseConnection = config.reuse_connection ?? true
    this.alwaysLogFailures = config.always_log_health_check_failures
    this.alwaysLogSuccess = config.always_log_health_check_success
    this.noTrafficMs = durationToMs(config.no_traffic_interval, 60_000)
    this.noTrafficHealthyMs = durationToMs(config.no_traffic_healthy_interval, this.noTrafficMs)
    this.initialJitterMs = durationToMs(config.initial_jitter, 0)
    this.intervalJitterMs = durationToMs(config.interval_jitter, 0)
    this.jitterPercent = config.interval_jitter_percent
    this.unhealthyMs = durationToMs(config.unhealthy_interval, this.intervalMs)
    this.unhealthyEdgeMs = durationToMs(config.unhealthy_edge_interval, this.unhealthyMs)
    this.healthyEdgeMs = durationToMs(config.healthy_edge_interval, this.intervalMs)
  }

  /** Starts a session for each host (skipping `disable_active_health_check` ones). */
  addHosts(hosts: Iterable<ClusterHost>): void {
    for (const host of hosts) {
      if (host.disableActiveHealthCheck() || this.sessions.has(host)) continue
      const session = this.makeSession(host)
      this.sessions.set(host, session)
      session.start()
    }
  }

  removeHost(host: ClusterHost): void {
    const session = this.sessions.get(host)
    if (session === undefined) return
    this.sessions.delete(host)
    session.destroy()
  }

  hasSession(host: ClusterHost): boolean {
    return this.sessions.has(host)
  }

  /** Stops every session (shutdown). */
  stop(): void {
    for (const host of [...this.sessions.keys()]) this.removeHost(host)
  }

  /**
   * A worker saw `x-envoy-immediate-health-check-fail` on traffic: exclude the host and fail it
   * as a passive failure (Envoy's setUnhealthyCrossThread).
   */
  setUnhealthyCrossThread(host: ClusterHost): void {
    const session = this.sessions.get(host)
    if (session === undefined) return
    host.healthFlagSet(HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL)
    session.setUnhealthy('PASSIVE', false)
  }

  /** Milliseconds to the next check after a result in `state` with `transition`. */
  interval(state: HealthState, transition: HealthTransition): number {
    let base: number
    if (this.ctx.hasTraffic()) {
      if (state === 'Unhealthy') base = transition === 'ChangePending' ? this.unhealthyEdgeMs : this.unhealthyMs
      else base = transition === 'ChangePending' ? this.healthyEdgeMs : this.intervalMs
    } else {
      base = state === 'Healthy' && transition !== 'ChangePending' ? this.noTrafficHealthyMs : this.noTrafficMs
    }
    return this.intervalWithJitter(base, this.intervalJitterMs)
  }

  /** Delay before a new session's first check: `initial_jitter`, or at once. */
  initialDelay(): number {
    return this.initialJitterMs === 0 ? 0 : this.intervalWithJitter(0, this.initialJitterMs)
  }

  private intervalWithJitter(baseMs: number, jitterMs: number): number {
    let ms = Math.floor(baseMs)
    const percentMod = Math.floor((this.jitterPercent * ms) / 100)
    if (percentMod > 0) ms += Math.floor(this.ctx.random() * percentMod)
    if (jitterMs > 0) ms += Math.floor(this.ctx.random() * jitterMs)
    // Never 0: a zero interval would spin.
    return Math.max(1, ms)
  }

  protected abstract makeSession(host: ClusterHost): ActiveHealthCheckSession
}

export abstract class ActiveHealthCheckSession {
  readonly host: ClusterHost
  protected readonly parent: HealthCheckerImplBase
  protected destroyed = false
  private firstCheck = true
  private numHealthy = 0
  private numUnhealthy = 0
  private intervalTimer: TimerHandle | undefined
  private timeoutTimer: TimerHandle | undefined

  constructor(parent: HealthCheckerImplBase, host: ClusterHost) {
    this.parent = parent
    this.host = host
    if (!host.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC)) parent.stats.healthy.inc()
    if (host.healthFlagGet(HealthFlag.DEGRADED_ACTIVE_HC)) parent.stats.degraded.inc()
  }

  start(): void {
    const delay = this.parent.initialDelay()
    if (delay === 0) this.onIntervalBase()
    else this.intervalTimer = this.parent.ctx.scheduler.setTimeout(() => this.onIntervalBase(), delay)
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.intervalTimer?.cancel()
    this.timeoutTimer?.cancel()
    const stats = this.parent.stats
    const healthy = !this.host.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC)
    if (healthy) stats.healthy.dec()
    if (this.host.healthFlagGet(HealthFlag.DEGRADED_ACTIVE_HC)) stats.degraded.dec()
    this.onDestroy()
    // Anyone waiting for this host's first check (cluster initialization) must not wait forever.
    if (this.firstCheck) this.parent.ctx.onHostCheckComplete(this.host, 'Unchanged', healthy ? 'Healthy' : 'Unhealthy')
  }

  /** The check passed (`degraded`: it passed with `x-envoy-degraded`). */
  handleSuccess(degraded = false): void {
    if (this.destroyed) return
    const host = this.host
    const parent = this.parent
    const logger = parent.ctx.eventLogger
    this.numUnhealthy = 0
    let changed: HealthTransition = 'Unchanged'
    if (host.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC)) {
      // The very first result moves a host to healthy at once (faster start-up, as in Envoy).
      if (this.firstCheck || ++this.numHealthy === parent.healthyThreshold) {
        host.healthFlagClear(HealthFlag.ACTIVE_HC_TIMEOUT | HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL | HealthFlag.FAILED_ACTIVE_HC)
        parent.stats.healthy.inc()
        changed = 'Changed'
        logger?.logAddHealthy(host, this.firstCheck)
      } else {
        changed = 'ChangePending'
      }
    }
    if (changed !== 'Changed' && parent.alwaysLogSuccess) logger?.logSuccessfulHealthCheck(host)
    changed = this.clearPendingFlag(changed)
    if (degraded !== host.healthFlagGet(HealthFlag.DEGRADED_ACTIVE_HC)) {
      if (degraded) {
        host.healthFlagSet(HealthFlag.DEGRADED_ACTIVE_HC)
        parent.stats.degraded.inc()
        logger?.logDegraded(host)
      } else {
        host.healthFlagClear(HealthFlag.DEGRADED_ACTIVE_HC)
        parent.stats.degraded.dec()
        logger?.logNoLongerDegraded(host)
      }
      if (changed === 'Unchanged') changed = 'Changed'
    }
    parent.stats.success.inc()
    this.firstCheck = false
    parent.ctx.onHostCheckComplete(host, changed, 'Healthy')
    this.armInterval('Healthy', changed)
  }

  /** The check failed; `retriable` for a status in `retriable_statuses`. */
  handleFailure(type: HealthCheckFailureType, retriable = false): void {
    if (this.destroyed) return
    const changed = this.setUnhealthy(type, retriable)
    if (!this.destroyed) this.armInterval('Unhealthy', changed)
  }

  /** Records a failure without scheduling (passive failures arrive between checks). */
  setUnhealthy(type: HealthCheckFailureType, retriable: boolean): HealthTransition {
    const host = this.host
    const parent = this.parent
    const logger = parent.ctx.eventLogger
    const network = type === 'NETWORK' || type === 'NETWORK_TIMEOUT'
    this.numHealthy = 0
    let changed: HealthTransition = 'Unchanged'
    if (!host.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC)) {
      if ((!network && !retriable) || ++this.numUnhealthy === parent.unhealthyThreshold) {
        host.healthFlagSet(HealthFlag.FAILED_ACTIVE_HC)
        parent.stats.healthy.dec()
        changed = 'Changed'
        logger?.logEjectUnhealthy(host, type)
      } else {
        changed = 'ChangePending'
      }
    }
    // A failed host toggles between "timed out" and "failed" with its latest failure's kind.
    if (type === 'NETWORK_TIMEOUT' && host.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC)) host.healthFlagSet(HealthFlag.ACTIVE_HC_TIMEOUT)
    else host.healthFlagClear(HealthFlag.ACTIVE_HC_TIMEOUT)
    changed = this.clearPendingFlag(changed)
    if (this.firstCheck || parent.alwaysLogFailures) logger?.logUnhealthy(host, type, this.firstCheck)
    parent.stats.failure.inc()
    if (network) parent.stats.network_failure.inc()
    else if (type === 'PASSIVE') parent.stats.passive_failure.inc()
    this.firstCheck = false
    parent.ctx.onHostCheckComplete(host, changed, 'Unhealthy')
    return changed
  }

  /** True from the start of a check until its result (or timeout): a close in between fails it. */
  protected get checkInFlight(): boolean {
    return this.timeoutTimer !== undefined
  }

  /** Runs one check; the subclass calls handleSuccess or handleFailure when it knows. */
  protected abstract onInterval(): void
  /** The check timed out: abandon it (the base records a NETWORK_TIMEOUT failure). */
  protected abstract onTimeout(): void
  /** Release sockets and pending work; no result may be reported afterwards. */
  protected abstract onDestroy(): void

  private onIntervalBase(): void {
    this.intervalTimer = undefined
    if (this.destroyed) return
    this.parent.stats.attempt.inc()
    // Armed before the check starts, so a check that completes at once cancels it.
    this.timeoutTimer = this.parent.ctx.scheduler.setTimeout(() => this.onTimeoutBase(), this.parent.timeoutMs)
    this.onInterval()
  }

  private onTimeoutBase(): void {
    this.timeoutTimer = undefined
    if (this.destroyed) return
    this.onTimeout()
    this.handleFailure('NETWORK_TIMEOUT')
  }

  private armInterval(state: HealthState, changed: HealthTransition): void {
    this.timeoutTimer?.cancel()
    this.timeoutTimer = undefined
    this.intervalTimer?.cancel()
    if (this.destroyed) return
    this.intervalTimer = this.parent.ctx.scheduler.setTimeout(() => this.onIntervalBase(), this.parent.interval(state, changed))
  }

  private clearPendingFlag(changed: HealthTransition): HealthTransition {
    if (!this.host.healthFlagGet(HealthFlag.PENDING_ACTIVE_HC)) return changed
    this.host.healthFlagClear(HealthFlag.PENDING_ACTIVE_HC)
    // The host leaves the excluded list even if its health did not change.
    return 'Changed'
  }
}
