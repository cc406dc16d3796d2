/**
 * Per-host outlier-detection and passive health-check state shared by every thread of one
 * cluster: the worker → main observation path.
 *
 * Envoy keeps these counters in atomics on the Host, written by every worker, and posts to the
 * main dispatcher when a streak reaches its threshold. Here the same counters live in one
 * SharedArrayBuffer per cluster (created by main, sent in the ClusterSnapshot), one slot per
 * host (`HostSnapshot.monitorSlot`):
 *
 *   consecutive_5xx, consecutive_gateway_failure, consecutive_local_origin_failure,
 *   events (bits main has not handled yet), and the current success-rate bucket
 *   (external success/total, local-origin success/total).
 *
 * Workers update them with Atomics on the data path. When a streak reaches its threshold
 * exactly (Envoy's `++n == threshold`), or a response carries
 * `x-envoy-immediate-health-check-fail`, the worker sets an event bit and rings the doorbell
 * (Atomics.add + Atomics.notify on word 0). Main waits on the doorbell with Atomics.waitAsync,
 * so it reacts within a turn of its event loop, without polling and without a message per
 * request. Every `interval` main takes (and zeroes) each slot's bucket for success-rate
 * ejection, which is Envoy's bucket swap.
 */
import type { Cluster } from '../protobuf/generated/envoy/config/cluster/v3.js'
import {
  type DetectorHostMonitor, type HealthCheckHostMonitor, OutlierResult, type OutlierResultValue,
} from '../../envoy/upstream/outlier-detection.js'

const DOORBELL = 0
const HEADER = 4
const STRIDE = 8

/** Field offsets inside a slot. */
export const Field = {
  CONSECUTIVE_5XX: 0,
  CONSECUTIVE_GATEWAY_FAILURE: 1,
  CONSECUTIVE_LOCAL_ORIGIN_FAILURE: 2,
  EVENTS: 3,
  EXT_SUCCESS: 4,
  EXT_TOTAL: 5,
  LOCAL_SUCCESS: 6,
  LOCAL_TOTAL: 7,
} as const

/** Event bits a worker raises for main. */
export const MonitorEvent = {
  CONSECUTIVE_5XX: 1,
  CONSECUTIVE_GATEWAY_FAILURE: 2,
  CONSECUTIVE_LOCAL_ORIGIN_FAILURE: 4,
  IMMEDIATE_HEALTH_CHECK_FAIL: 8,
} as const

/** One interval's request counts of a host (Envoy's success-rate accumulator bucket). */
export interface SuccessRateBucket {
  extSuccess: number
  extTotal: number
  localSuccess: number
  localTotal: number
}

type WaitAsync = (a: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string }

export class HostMonitorMemory {
  readonly buffer: SharedArrayBuffer
  readonly capacity: number
  private readonly i32: Int32Array

  /** Main thread: fresh memory for `capacity` hosts. */
  static create(capacity: number): HostMonitorMemory {
    return new HostMonitorMemory(new SharedArrayBuffer((HEADER + capacity * STRIDE) * 4))
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer
    this.i32 = new Int32Array(buffer)
    this.capacity = (this.i32.length - HEADER) / STRIDE
  }

  index(slot: number, field: number): number {
    return HEADER + slot * STRIDE + field
  }

  add(slot: number, field: number, n = 1): number {
    return Atomics.add(this.i32, this.index(slot, field), n) + n
  }

  load(slot: number, field: number): number {
    return Atomics.load(this.i32, this.index(slot, field))
  }

  /** Reads and zeroes one field. */
  take(slot: number, field: number): number {
    return Atomics.exchange(this.i32, this.index(slot, field), 0)
  }

  store(slot: number, field: number, value: number): void {
    Atomics.store(this.i32, this.index(slot, field), value)
  }

  /** Worker: raises `bit` for main and wakes it. */
  raise(slot: number, bit: number): void {
    Atomics.or(this.i32, this.index(slot, Field.EVENTS), bit)
    Atomics.add(this.i32, DOORBELL, 1)
    Atomics.notify(this.i32, DOORBELL)
  }

  /** Main: the interval's counts, zeroed for the next one (successes first, so rates stay ≤ 100%). */
  takeBucket(slot: number): SuccessRateBucket {
    const extSuccess = this.take(slot, Field.EXT_SUCCESS)
    const extTotal = this.take(slot, Field.EXT_TOTAL)
    const localSuccess = this.take(slot, Field.LOCAL_SUCCESS)
    const localTotal = this.take(slot, Field.LOCAL_TOTAL)
    return { extSuccess, extTotal, localSuccess, localTotal }
  }

  clearSlot(slot: number): void {
    for (let f = 0; f < STRIDE; f++) this.store(slot, f, 0)
  }

  doorbell(): number {
    return Atomics.load(this.i32, DOORBELL)
  }

  /** Wakes a main-thread waiter (shutdown, memory replaced). */
  wake(): void {
    Atomics.add(this.i32, DOORBELL, 1)
    Atomics.notify(this.i32, DOORBELL)
  }

  /**
   * Main: resolves once the doorbell moves past `seen` (at once if it already has). Does not
   * keep the event loop alive, so an idle cluster costs nothing.
   */
  waitForDoorbell(seen: number): Promise<void> {
    // Atomics.waitAsync is in Node ≥ 16 but not in the ES2023 lib typings this build uses.
    const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync
    const r = waitAsync(this.i32, DOORBELL, seen)
    return r.async ? (r.value as Promise<string>).then(() => undefined) : Promise.resolve()
  }
}

/** The worker-side part of `outlier_detection`: the consecutive-failure thresholds. */
export interface OutlierThresholds {
  readonly consecutive5xx: number
  readonly consecutiveGatewayFailure: number
  readonly consecutiveLocalOriginFailure: number
  readonly splitExternalLocalOriginErrors: boolean
}

/** Envoy's defaults for the consecutive detectors. */
export const DEFAULT_CONSECUTIVE = 5

/** The thresholds workers apply, or undefined when the cluster has no `outlier_detection`. */
export function outlierThresholds(config: Cluster): OutlierThresholds | undefined {
  const od = config.outlier_detection
  if (od === undefined) return undefined
  return {
    consecutive5xx: od.consecutive_5xx ?? DEFAULT_CONSECUTIVE,
    consecutiveGatewayFailure: od.consecutive_gateway_failure ?? DEFAULT_CONSECUTIVE,
    consecutiveLocalOriginFailure: od.consecutive_local_origin_failure ?? DEFAULT_CONSECUTIVE,
    splitExternalLocalOriginErrors: od.split_external_local_origin_errors,
  }
}

function isGatewayError(code: number): boolean {
  return code === 502 || code === 503 || code === 504
}

/** The HTTP status a result stands for when local and external errors are not split. */
function resultToHttpCode(result: OutlierResultValue): number | undefined {
  switch (result) {
    case OutlierResult.ExtOriginRequestSuccess:
    case OutlierResult.LocalOriginConnectSuccessFinal:
      return 200
    case OutlierResult.LocalOriginTimeout: return 504
    case OutlierResult.LocalOriginConnectFailed: return 503
    case OutlierResult.ExtOriginRequestFailed: return 500
    // A connect success on a two-layer protocol: the HTTP status follows and counts instead.
    default: return undefined
  }
}

/**
 * One host's monitor on a worker (Envoy's DetectorHostMonitorImpl, the counting half): counts
 * into the host's slot and raises events; main decides. `thresholds` undefined means the
 * cluster has no outlier detection; `activeHealthChecks` whether immediate-fail reports matter.
 */
export class HostMonitor implements DetectorHostMonitor, HealthCheckHostMonitor {
  private readonly memory: HostMonitorMemory
  private readonly slot: number
  private readonly t: OutlierThresholds | undefined
  private readonly activeHealthChecks: boolean

  constructor(memory: HostMonitorMemory, slot: number, thresholds: OutlierThresholds | undefined, activeHealthChecks: boolean) {
    this.memory = memory
    this.slot = slot
    this.t = thresholds
    this.activeHealthChecks = activeHealthChecks
  }

  // Outlier.DetectorHostMonitor
  putHttpResponseCode(code: number): void {
    const t = this.t
    if (t === undefined) return
    const m = this.memory
    const s = this.slot
    m.add(s, Field.EXT_TOTAL)
    if (code >= 500 && code < 600) {
      if (isGatewayError(code)) {
        if (m.add(s, Field.CONSECUTIVE_GATEWAY_FAILURE) === t.consecutiveGatewayFailure) m.raise(s, MonitorEvent.CONSECUTIVE_GATEWAY_FAILURE)
      } else {
        m.store(s, Field.CONSECUTIVE_GATEWAY_FAILURE, 0)
      }
      if (m.add(s, Field.CONSECUTIVE_5XX) === t.consecutive5xx) m.raise(s, MonitorEvent.CONSECUTIVE_5XX)
    } else {
      m.add(s, Field.EXT_SUCCESS)
      m.store(s, Field.CONSECUTIVE_5XX, 0)
      m.store(s, Field.CONSECUTIVE_GATEWAY_FAILURE, 0)
    }
  }

  putResult(result: OutlierResultValue, code?: number): void {
    const t = this.t
    if (t === undefined) return
    if (!t.splitExternalLocalOriginErrors) {
      const c = code ?? resultToHttpCode(result)
      if (c !== undefined) this.putHttpResponseCode(c)
      return
    }
    switch (result) {
      case OutlierResult.LocalOriginConnectSuccess:
      case OutlierResult.LocalOriginConnectSuccessFinal:
        this.localOriginNoFailure()
        return
      case OutlierResult.LocalOriginTimeout:
      case OutlierResult.LocalOriginConnectFailed:
        this.localOriginFailure()
        return
      case OutlierResult.ExtOriginRequestFailed:
        this.putHttpResponseCode(503)
        return
      case OutlierResult.ExtOriginRequestSuccess:
        this.putHttpResponseCode(200)
        this.localOriginNoFailure()
    }
  }

  // HealthCheckHostMonitor
  setUnhealthy(): void {
    if (this.activeHealthChecks) this.memory.raise(this.slot, MonitorEvent.IMMEDIATE_HEALTH_CHECK_FAIL)
  }

  private localOriginFailure(): void {
    const m = this.memory
    m.add(this.slot, Field.LOCAL_TOTAL)
    if (m.add(this.slot, Field.CONSECUTIVE_LOCAL_ORIGIN_FAILURE) === this.t!.consecutiveLocalOriginFailure) {
      m.raise(this.slot, MonitorEvent.CONSECUTIVE_LOCAL_ORIGIN_FAILURE)
    }
  }

  private localOriginNoFailure(): void {
    const m = this.memory
    m.add(this.slot, Field.LOCAL_TOTAL)
    m.add(this.slot, Field.LOCAL_SUCCESS)
    m.store(this.slot, Field.CONSECUTIVE_LOCAL_ORIGIN_FAILURE, 0)
  }
}

/** The monitor of a host in a cluster with neither outlier detection nor health checks. */
export const NULL_HOST_MONITOR: DetectorHostMonitor & HealthCheckHostMonitor = {
  putHttpResponseCode() {},
  putResult() {},
  setUnhealthy() {},
}
