import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { StreamResetReason } from '../../envoy/http/codec.js'
import { RetryOn, type RetryPolicy } from '../../envoy/router/router.js'
import type { Resource } from '../../envoy/upstream/cluster-info.js'

const RETRY_ON_NAMES = Object.keys(RetryOn) as Array<keyof typeof RetryOn>

/** Parses a `retry_on` / `x-envoy-retry-on` list into RetryOn bits; unknown tokens are ignored here. */
export function parseRetryOn(list: string): number {
  let bits = 0
  for (const t of list.split(',')) {
    const name = t.trim() as keyof typeof RetryOn
    if (RETRY_ON_NAMES.includes(name)) bits |= RetryOn[name]
  }
  return bits
}

/** What a retry decision needs to know about the attempt that just failed. */
export type AttemptOutcome =
  | { kind: 'headers'; code: number; headers: HeaderMap }
  | { kind: 'reset'; reason: StreamResetReason }
  | { kind: 'connect-failure' }
  | { kind: 'per-try-timeout' }

/**
 * One request's retry budget (Envoy's RetryStateImpl): which outcomes are retriable under the
 * route's policy (plus `x-envoy-retry-on` / `x-envoy-max-retries` from trusted clients), the
 * number of retries left, `max_retries` across workers, and jittered exponential back-off.
 */
export class RetryState {
  readonly retryOn: number
  private remaining: number
  private readonly policy: RetryPolicy | undefined
  private readonly retriableCodes: ReadonlySet<number>
  private readonly budget: Resource
  private attempts = 0
  private holding = false

  constructor(policy: RetryPolicy | undefined, requestHeaders: HeaderMap, budget: Resource) {
    this.policy = policy
    this.budget = budget
    let on = policy?.retryOn ?? 0
    let retries = policy?.numRetries ?? 0
    const headerOn = requestHeaders.get('x-envoy-retry-on')
    if (headerOn !== undefined) {
      on |= parseRetryOn(headerOn)
      if (policy === undefined) retries = 1
    }
    const headerMax = requestHeaders.get('x-envoy-max-retries')
    if (headerMax !== undefined && /^\d+$/.test(headerMax)) retries = Number(headerMax)
    const codes = new Set(policy?.retriableStatusCodes ?? [])
    const headerCodes = requestHeaders.get('x-envoy-retriable-status-codes')
    if (headerCodes !== undefined) for (const c of headerCodes.split(',')) if (/^\d+$/.test(c.trim())) codes.add(Number(c.trim()))
    this.retriableCodes = codes
    this.retryOn = retries > 0 ? on : 0
    this.remaining = retries
  }

  enabled(): boolean {
    return this.retryOn !== 0 && this.remaining > 0
  }

  /** Is this outcome one the policy retries? (Whether a retry is left is `tryRetry`'s business.) */
  retriable(o: AttemptOutcome): boolean {
    const on = this.retryOn
    if (on === 0) return false
    switch (o.kind) {
      case 'headers': {
        const c = o.code
        if ((on & RetryOn['5xx']) !== 0 && c >= 500) return true
        if ((on & RetryOn['gateway-error']) !== 0 && (c === 502 || c === 503 || c === 504)) return true
        if ((on & RetryOn['retriable-4xx']) !== 0 && c === 409) return true
        if ((on & RetryOn['retriable-status-codes']) !== 0 && this.retriableCodes.has(c)) return true
        if ((on & RetryOn['envoy-ratelimited']) !== 0 && o.headers.has('x-envoy-ratelimited')) return true
        if ((on & RetryOn['retriable-headers']) !== 0 && this.policy?.retriableHeadersMatch(o.headers) === true) return true
        return false
      }
      case 'connect-failure':
        return (on & (RetryOn['connect-failure'] | RetryOn['5xx'] | RetryOn['gateway-error'] | RetryOn.reset | RetryOn['reset-before-request'])) !== 0
      case 'reset':
        if (o.reason === 'RemoteRefusedStreamReset' && (on & RetryOn['refused-stream']) !== 0) return true
        return (on & (RetryOn.reset | RetryOn['5xx'] | RetryOn['gateway-error'])) !== 0
      case 'per-try-timeout':
        return (on & (RetryOn['5xx'] | RetryOn['gateway-error'] | RetryOn.reset)) !== 0
    }
  }

  /**
   * Takes a retry if one is left and `max_retries` allows it. Returns the back-off in ms, or
   * 'exhausted' / 'overflow'.
   */
  tryRetry(): number | 'exhausted' | 'overflow' {
    if (this.remaining <= 0) return 'exhausted'
    if (!this.holding) {
      if (!this.budget.tryAcquire()) return 'overflow'
      this.holding = true
    }
    this.remaining--
    this.attempts++
    const base = this.policy?.baseIntervalMs ?? 25
    const max = this.policy?.maxIntervalMs ?? base * 10
    // Fully jittered exponential back-off, as Envoy's JitteredExponentialBackOffStrategy.
    return Math.random() * Math.min(max, base * 2 ** (this.attempts - 1))
  }

  /** The request is over: give back the `max_retries` unit. */
  release(): void {
    if (this.holding) {
      this.holding = false
      this.budget.release()
    }
  }
}

/** Envoy's text for a reset reason in `upstream connect error or disconnect/reset before headers. reset reason: ...`. */
export function resetReasonText(r: StreamResetReason | 'ConnectionTimeout'): string {
  switch (r) {
    case 'ConnectionFailure': return 'connection failure'
    case 'ConnectionTimeout': return 'connection timeout'
    case 'ConnectionTermination': return 'connection termination'
    case 'LocalReset': return 'local reset'
    case 'LocalRefusedStreamReset': return 'local refused stream reset'
    case 'Overflow': return 'overflow'
    case 'RemoteReset': return 'remote reset'
    case 'RemoteRefusedStreamReset': return 'remote refused stream reset'
    case 'ProtocolError': return 'protocol error'
  }
}
