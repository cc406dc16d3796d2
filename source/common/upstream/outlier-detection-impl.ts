/**
 * Outlier detection on main (Envoy's Outlier::DetectorImpl): ejects hosts on consecutive
 * failures (reported by workers through HostMonitorMemory, acted on as soon as the doorbell
 * rings) and, every `interval`, on success rate and failure percentage; brings ejected hosts
 * back after `min(base_ejection_time × backoff, max_ejection_time) + jitter`. The backoff grows
 * by one per ejection and shrinks by one per interval the host stays in, as in Envoy. At most
 * `max_ejection_percent` of the hosts are ejected at once (`always_eject_one_host` allows one).
 */
import type { Logger } from 'pino'
import type { Counter, Gauge, Scope } from '../../envoy/stats/stats.js'
import { HealthFlag } from '../../envoy/upstream/host.js'
import { durationToMs } from '../protobuf/duration.js'
import type { OutlierDetection } from '../protobuf/generated/envoy/config/cluster/v3.js'
import type { ClusterHost } from './cluster-host.js'
import type { EjectDetails, OutlierEjectionType, OutlierEventLogger } from './event-loggers.js'
import { Field, type HostMonitorMemory, MonitorEvent } from './host-monitor-memory.js'
import type { Scheduler, TimerHandle } from './scheduler.js'

export type SuccessRateMonitorType = 'ExternalOrigin' | 'LocalOrigin'

/** `outlier_detection` with Envoy's defaults applied. */
export interface DetectorConfig {
  intervalMs: number
  baseEjectionTimeMs: number
  maxEjectionTimeMs: number
  maxEjectionTimeJitterMs: number
  maxEjectionPercent: number
  alwaysEjectOneHost: boolean
  successRateMinimumHosts: number
  successRateRequestVolume: number
  successRateStdevFactor: number
  failurePercentageThreshold: number
  failurePercentageMinimumHosts: number
  failurePercentageRequestVolume: number
  enforcing: Record<OutlierEjectionType, number>
  successfulActiveHealthCheckUnejectHost: boolean
}

export function detectorConfig(od: OutlierDetection): DetectorConfig {
  const base = durationToMs(od.base_ejection_time, 30_000)
  return {
    intervalMs: durationToMs(od.interval, 10_000),
    baseEjectionTimeMs: base,
    maxEjectionTimeMs: durationToMs(od.max_ejection_time, Math.max(300_000, base)),
    maxEjectionTimeJitterMs: durationToMs(od.max_ejection_time_jitter, 0),
    maxEjectionPercent: Math.min(100, od.max_ejection_percent ?? 10),
    alwaysEjectOneHost: od.always_eject_one_host ?? false,
    successRateMinimumHosts: od.success_rate_minimum_hosts ?? 5,
    successRateRequestVolume: od.success_rate_request_volume ?? 100,
    successRateStdevFactor: od.success_rate_stdev_factor ?? 1900,
    failurePercentageThreshold: od.failure_percentage_threshold ?? 85,
    failurePercentageMinimumHosts: od.failure_percentage_minimum_hosts ?? 5,
    failurePercentageRequestVolume: od.failure_percentage_request_volume ?? 50,
    enforcing: {
      CONSECUTIVE_5XX: od.enforcing_consecutive_5xx ?? 100,
      CONSECUTIVE_GATEWAY_FAILURE: od.enforcing_consecutive_gateway_failure ?? 0,
      SUCCESS_RATE: od.enforcing_success_rate ?? 100,
      CONSECUTIVE_LOCAL_ORIGIN_FAILURE: od.enforcing_consecutive_local_origin_failure ?? 100,
      SUCCESS_RATE_LOCAL_ORIGIN: od.enforcing_local_origin_success_rate ?? 100,
      FAILURE_PERCENTAGE: od.enforcing_failure_percentage ?? 0,
      FAILURE_PERCENTAGE_LOCAL_ORIGIN: od.enforcing_failure_percentage_local_origin ?? 0,
    },
    successfulActiveHealthCheckUnejectHost: od.successful_active_health_check_uneject_host ?? true,
  }
}

/** Problems Envoy reports when it builds the detector. */
export function checkOutlierDetection(od: OutlierDetection | undefined, path: string): string[] {
  if (od === undefined) return []
  const c = detectorConfig(od)
  return c.maxEjectionTimeMs < c.baseEjectionTimeMs
    ? [`${path}.outlier_detection: outlier detector's max_ejection_time cannot be smaller than base_ejection_time`]
    : []
}

/** Ejection type → its `ejections_*` stat suffix. */
const STAT_SUFFIX: Record<OutlierEjectionType, string> = {
  CONSECUTIVE_5XX: 'consecutive_5xx', CONSECUTIVE_GATEWAY_FAILURE: 'consecutive_gateway_failure', SUCCESS_RATE: 'success_rate',
  CONSECUTIVE_LOCAL_ORIGIN_FAILURE: 'consecutive_local_origin_failure', SUCCESS_RATE_LOCAL_ORIGIN: 'local_origin_success_rate',
  FAILURE_PERCENTAGE: 'failure_percentage', FAILURE_PERCENTAGE_LOCAL_ORIGIN: 'local_origin_failure_percentage',
}

const CONSECUTIVE: ReadonlyArray<readonly [number, OutlierEjectionType, number]> = [
  [MonitorEvent.CONSECUTIVE_5XX, 'CONSECUTIVE_5XX', Field.CONSECUTIVE_5XX],
  [MonitorEvent.CONSECUTIVE_GATEWAY_FAILURE, 'CONSECUTIVE_GATEWAY_FAILURE', Field.CONSECUTIVE_GATEWAY_FAILURE],
  [MonitorEvent.CONSECUTIVE_LOCAL_ORIGIN_FAILURE, 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE', Field.CONSECUTIVE_LOCAL_ORIGIN_FAILURE],
]

/** Per-host detector state (the main-thread half of Envoy's DetectorHostMonitorImpl). */
interface MonitorState {
  numEjections: number
  ejectTimeBackoff: number
  lastEjectionMs: number | undefined
  lastUnejectionMs: number | undefined
  jitterMs: number
  successRate: Record<SuccessRateMonitorType, number>
  bucket: { ext: [number, number]; local: [number, number] }
}

export interface DetectorContext {
  readonly clusterName: string
  /** The cluster's scope; stats go under `outlier_detection.`. */
  readonly scope: Scope
  readonly scheduler: Scheduler
  readonly random: () => number
  readonly log: Logger
  readonly eventLogger?: OutlierEventLogger
  /** The cluster's current monitor memory (slots of `ClusterHost.monitorSlot`). */
  readonly memory: () => HostMonitorMemory | undefined
  /** A host was ejected or brought back: republish. */
  readonly onChange: (host: ClusterHost) => void
}

export class DetectorImpl {
  readonly config: DetectorConfig
  private readonly ctx: DetectorContext
  private readonly monitors = new Map<ClusterHost, MonitorState>()
  private readonly counters = new Map<string, Counter>()
  private readonly ejectionsActive: Gauge
  private readonly srNums: Record<SuccessRateMonitorType, { average: number; threshold: number }> = {
    ExternalOrigin: { average: -1, threshold: -1 }, LocalOrigin: { average: -1, threshold: -1 },
  }
  private timer: TimerHandle | undefined

  constructor(config: OutlierDetection, ctx: DetectorContext) {
    this.config = detectorConfig(config)
    this.ctx = ctx
    const names = ['ejections_enforced_total', 'ejections_overflow', 'ejections_total', 'ejections_consecutive_5xx', 'ejections_success_rate']
    for (const s of Object.values(STAT_SUFFIX)) names.push(`ejections_enforced_${s}`, `ejections_detected_${s}`)
    for (const n of names) this.counters.set(n, ctx.scope.counter(`outlier_detection.${n}`))
    this.ejectionsActive = ctx.scope.gauge('outlier_detection.ejections_active', 'Accumulate')
  }

  start(): void {
    this.timer ??= this.ctx.scheduler.setTimeout(() => this.onIntervalTimer(), this.config.intervalMs)
  }

  stop(): void {
    this.timer?.cancel()
    this.timer = undefined
  }

  addHost(host: ClusterHost): void {
    if (this.monitors.has(host)) return
    this.monitors.set(host, {
      numEjections: 0, ejectTimeBackoff: 0, lastEjectionMs: undefined, lastUnejectionMs: undefined, jitterMs: 0,
      successRate: { ExternalOrigin: -1, LocalOrigin: -1 }, bucket: { ext: [0, 0], local: [0, 0] },
    })
  }

  removeHost(host: ClusterHost): void {
    if (!this.monitors.delete(host)) return
    if (host.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK)) this.ejectionsActive.dec()
  }

  /** Success rate of `host` in the last interval (-1 when unknown), for `/clusters`. */
  successRate(host: ClusterHost, type: SuccessRateMonitorType): number {
    return this.monitors.get(host)?.successRate[type] ?? -1
  }

  successRateAverage(type: SuccessRateMonitorType): number {
    return this.srNums[type].average
  }

  successRateEjectionThreshold(type: SuccessRateMonitorType): number {
    return this.srNums[type].threshold
  }

  /** Event bits a worker raised for `host` (Envoy's onConsecutiveErrorWorker, per type). */
  onConsecutiveEvents(host: ClusterHost, bits: number): void {
    for (const [bit, type, field] of CONSECUTIVE) {
      if ((bits & bit) === 0) continue
      // The host may have left, or be ejected already.
      if (!this.monitors.has(host) || host.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK)) continue
      this.inc(`ejections_detected_${STAT_SUFFIX[type]}`)
      this.ejectHost(host, type)
      if (type === 'CONSECUTIVE_5XX') this.inc('ejections_consecutive_5xx')
      // Let the next streak be counted even without a success in between.
      if (host.monitorSlot >= 0) this.ctx.memory()?.store(host.monitorSlot, field, 0)
    }
  }

  /** An active health check passed: an ejected host comes back (`successful_active_health_check_uneject_host`). */
  onHealthCheckSuccess(host: ClusterHost): void {
    if (!this.config.successfulActiveHealthCheckUnejectHost || !this.monitors.has(host)) return
    if (host.healthFlagGet(HealthFlag.FAILED_ACTIVE_HC) || !host.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK)) return
    this.unejectHost(host)
  }

  /** Every `interval`: un-eject, take the buckets, run success-rate and failure-percentage ejection. */
  onIntervalTimer(): void {
    this.timer = undefined
    const now = this.ctx.scheduler.now()
    const memory = this.ctx.memory()
    for (const [host, m] of this.monitors) {
      this.checkHostForUneject(host, m, now)
      const b = memory !== undefined && host.monitorSlot >= 0 ? memory.takeBucket(host.monitorSlot) : undefined
      m.bucket = { ext: [b?.extSuccess ?? 0, b?.extTotal ?? 0], local: [b?.localSuccess ?? 0, b?.localTotal ?? 0] }
      m.successRate = { ExternalOrigin: -1, LocalOrigin: -1 }
    }
    this.processSuccessRateEjections('ExternalOrigin')
    this.processSuccessRateEjections('LocalOrigin')
    for (const [host, m] of this.monitors) {
      if (host.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK)) continue
      if (m.lastUnejectionMs !== undefined && now - m.lastUnejectionMs >= this.config.intervalMs && m.ejectTimeBackoff > 0) m.ejectTimeBackoff--
    }
    this.start()
  }

  private checkHostForUneject(host: ClusterHost, m: MonitorState, now: number): void {
    if (!host.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK) || m.lastEjectionMs === undefined) return
    const c = this.config
    const ejectFor = Math.min(c.baseEjectionTimeMs * m.ejectTimeBackoff, c.maxEjectionTimeMs) + m.jitterMs
    if (ejectFor <= now - m.lastEjectionMs) this.unejectHost(host)
  }

  private unejectHost(host: ClusterHost): void {
    const m = this.monitors.get(host)!
    this.ejectionsActive.dec()
    host.healthFlagClear(HealthFlag.FAILED_OUTLIER_CHECK)
    const memory = this.ctx.memory()
    if (memory !== undefined && host.monitorSlot >= 0) {
      // Near-threshold streaks must not re-eject the host after a couple of errors.
      for (const [, , field] of CONSECUTIVE) memory.store(host.monitorSlot, field, 0)
    }
    m.lastUnejectionMs = this.ctx.scheduler.now()
    this.ctx.log.debug({ cluster: this.ctx.clusterName, host: host.address }, 'outlier detection: host unejected')
    this.ctx.onChange(host)
    this.ctx.eventLogger?.logUneject(this.ctx.clusterName, { host, numEjections: m.numEjections, lastActionMs: m.lastEjectionMs })
  }

  private ejectHost(host: ClusterHost, type: OutlierEjectionType, details: EjectDetails = {}): void {
    const c = this.config
    const active = this.ejectionsActive.value()
    const ejectedPercent = (100 * (active + 1)) / this.monitors.size
    const shouldEject = ejectedPercent <= c.maxEjectionPercent || (c.alwaysEjectOneHost && active === 0)
    if (!shouldEject) {
      this.inc('ejections_overflow')
      return
    }
    // Deprecated, kept with its old meaning.
    if (type === 'CONSECUTIVE_5XX' || type === 'SUCCESS_RATE') this.inc('ejections_total')
    const m = this.monitors.get(host)!
    const enforced = this.ctx.random() * 100 < c.enforcing[type]
    if (enforced) {
      this.ejectionsActive.inc()
      this.inc('ejections_enforced_total')
      this.inc(`ejections_enforced_${STAT_SUFFIX[type]}`)
      host.healthFlagSet(HealthFlag.FAILED_OUTLIER_CHECK)
      m.numEjections++
      m.lastEjectionMs = this.ctx.scheduler.now()
      m.jitterMs = Math.floor(this.ctx.random() * (c.maxEjectionTimeJitterMs + 1))
      if (m.ejectTimeBackoff * c.baseEjectionTimeMs < c.maxEjectionTimeMs + c.baseEjectionTimeMs) m.ejectTimeBackoff++
      this.ctx.log.debug({ cluster: this.ctx.clusterName, host: host.address, type }, 'outlier detection: host ejected')
      this.ctx.onChange(host)
    }
    this.ctx.eventLogger?.logEject(this.ctx.clusterName, { host, numEjections: m.numEjections, lastActionMs: m.lastUnejectionMs }, type, enforced, details)
  }

  private processSuccessRateEjections(type: SuccessRateMonitorType): void {
    const c = this.config
    this.srNums[type] = { average: -1, threshold: -1 }
    if (this.monitors.size < c.successRateMinimumHosts && this.monitors.size < c.failurePercentageMinimumHosts) return
    const validSr: Array<[ClusterHost, number]> = []
    const validFp: Array<[ClusterHost, number]> = []
    let sum = 0
    for (const [host, m] of this.monitors) {
      if (host.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK)) continue
      const [success, total] = type === 'ExternalOrigin' ? m.bucket.ext : m.bucket.local
      if (total === 0) continue
      const rate = Math.min(100, (success * 100) / total)
      if (total >= Math.min(c.successRateRequestVolume, c.failurePercentageRequestVolume)) m.successRate[type] = rate
      if (total >= c.successRateRequestVolume) {
        validSr.push([host, rate])
        sum += rate
      }
      if (total >= c.failurePercentageRequestVolume) validFp.push([host, rate])
    }
    const local = type === 'LocalOrigin'
    if (validSr.length > 0 && validSr.length >= c.successRateMinimumHosts) {
      const { average, threshold } = successRateEjectionThreshold(sum, validSr.map(([, r]) => r), c.successRateStdevFactor / 1000)
      this.srNums[type] = { average, threshold }
      for (const [host, rate] of validSr) {
        if (rate >= threshold) continue
        this.inc('ejections_success_rate')
        const t: OutlierEjectionType = local ? 'SUCCESS_RATE_LOCAL_ORIGIN' : 'SUCCESS_RATE'
        this.inc(`ejections_detected_${STAT_SUFFIX[t]}`)
        this.ejectHost(host, t, { hostSuccessRate: rate, clusterAverageSuccessRate: average, clusterSuccessRateEjectionThreshold: threshold })
      }
    }
    if (validFp.length > 0 && validFp.length >= c.failurePercentageMinimumHosts) {
      for (const [host, rate] of validFp) {
        if (100 - rate < c.failurePercentageThreshold || host.healthFlagGet(HealthFlag.FAILED_OUTLIER_CHECK)) continue
        const t: OutlierEjectionType = local ? 'FAILURE_PERCENTAGE_LOCAL_ORIGIN' : 'FAILURE_PERCENTAGE'
        this.inc(`ejections_detected_${STAT_SUFFIX[t]}`)
        this.ejectHost(host, t, { hostSuccessRate: rate })
      }
    }
  }

  private inc(name: string): void {
    this.counters.get(name)!.inc()
  }
}

/**
 * Envoy's success-rate threshold: mean − factor × population standard deviation of the hosts'
 * success rates. {50, 100, 100, 100, 100} with factor 1.9 → mean 90, stdev 20, threshold 52.
 */
export function successRateEjectionThreshold(sum: number, rates: readonly number[], factor: number): { average: number; threshold: number } {
  const mean = sum / rates.length
  let variance = 0
  for (const r of rates) variance += (r - mean) ** 2
  variance /= rates.length
  return { average: mean, threshold: mean - factor * Math.sqrt(variance) }
}
