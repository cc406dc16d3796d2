import type { DrainDecision } from '../envoy/network/drain-decision.js'

/**
 * Drain state that main writes and every worker reads, without messages: health-check failed,
 * draining, when the drain started and how long it lasts (Envoy's DrainManager, split across
 * threads). Slots of a Float64Array over a SharedArrayBuffer.
 */
const HC_FAILED = 0
const DRAINING = 1
const STARTED_AT = 2
const DURATION_MS = 3
const GRADUAL = 4
const SLOTS = 5

export class DrainState {
  readonly buffer: SharedArrayBuffer
  private readonly v: Float64Array

  static create(): DrainState {
    return new DrainState(new SharedArrayBuffer(SLOTS * 8))
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer
    this.v = new Float64Array(buffer)
  }

  /** Main thread: `/healthcheck/fail` and `/healthcheck/ok`. */
  setHealthCheckFailed(failed: boolean): void {
    this.v[HC_FAILED] = failed ? 1 : 0
  }

  /** Main thread: a drain starts now and lasts `durationMs`. */
  startDrain(durationMs: number, strategy: 'gradual' | 'immediate'): void {
    this.v[STARTED_AT] = Date.now()
    this.v[DURATION_MS] = durationMs
    this.v[GRADUAL] = strategy === 'gradual' ? 1 : 0
    this.v[DRAINING] = 1
  }

  draining(): boolean {
    return this.v[DRAINING] === 1
  }

  healthCheckFailed(): boolean {
    return this.v[HC_FAILED] === 1
  }

  /**
   * Envoy's rule: close when health checks fail; while draining, always with the immediate
   * strategy, and with a probability growing from 0 to 1 over the drain time with gradual.
   */
  drainClose(random: number = Math.random()): boolean {
    const v = this.v
    if (v[HC_FAILED] === 1) return true
    if (v[DRAINING] !== 1) return false
    if (v[GRADUAL] !== 1) return true
    const duration = v[DURATION_MS]!
    if (duration <= 0) return true
    return random < (Date.now() - v[STARTED_AT]!) / duration
  }
}

/** A worker's DrainDecision: the shared state plus the drain-start callbacks of this thread. */
export class DrainDecisionImpl implements DrainDecision {
  private readonly state: DrainState
  private readonly callbacks = new Set<() => void>()
  private started = false

  constructor(state: DrainState) {
    this.state = state
  }

  drainClose(): boolean {
    return this.state.drainClose()
  }

  onDrain(cb: () => void): () => void {
    if (this.started || this.state.draining()) {
      cb()
      return () => {}
    }
    this.callbacks.add(cb)
    return () => this.callbacks.delete(cb)
  }

  /** Called on the worker when main announces a drain. */
  notifyDrainStarted(): void {
    if (this.started) return
    this.started = true
    const cbs = [...this.callbacks]
    this.callbacks.clear()
    for (const cb of cbs) cb()
  }
}
