import type { HeaderMap } from '../../envoy/http/header-map.js'
import { RetryOn, type RetryPolicy } from '../../envoy/router/router.js'
import { durationToMs } from '../protobuf/duration.js'
import type { RetryPolicy as RetryPolicyConfig } from '../protobuf/generated/envoy/config/route/v3.js'
import type { ConfigErrors } from './config-utility.js'
import { compileHeaderMatchers, type HeaderDataMatcher } from './matchers.js'

/**
 * gRPC retry conditions (Envoy's RetryPolicy::RETRY_ON_GRPC_*), valid in the same `retry_on`
 * list as the HTTP ones. The contract's RetryOn has no bits for them yet, so they live above
 * RetryOn's bits in the same `retryOn` set.
 */
export const GrpcRetryOn = {
  cancelled: 1 << 16,
  'deadline-exceeded': 1 << 17,
  'resource-exhausted': 1 << 18,
  unavailable: 1 << 19,
  internal: 1 << 20,
} as const

const TOKENS: ReadonlyMap<string, number> = new Map<string, number>([
  ...Object.entries(RetryOn),
  ...Object.entries(GrpcRetryOn),
])

/** Envoy's defaults when `retry_back_off` is absent (25 ms base, 10× max). */
export const DEFAULT_BASE_INTERVAL_MS = 25

/**
 * Parses a `retry_on` list ("5xx,reset, connect-failure") into bits; unknown tokens are
 * returned in `unknown` (Envoy ignores them; envoy-ts rejects them at config time).
 */
export function parseRetryOn(text: string): { bits: number; unknown: string[] } {
  let bits = 0
  const unknown: string[] = []
  for (const raw of text.split(',')) {
    const token = raw.trim()
    if (token === '') continue
    const bit = TOKENS.get(token)
    if (bit === undefined) unknown.push(token)
    else bits |= bit
  }
  return { bits, unknown }
}

/** A route's (or its virtual host's) retry policy (Envoy's RetryPolicyImpl). */
export class RetryPolicyImpl implements RetryPolicy {
  readonly retryOn: number
  readonly numRetries: number
  readonly perTryTimeoutMs: number
  readonly perTryIdleTimeoutMs: number
  readonly retriableStatusCodes: readonly number[]
  readonly baseIntervalMs: number
  readonly maxIntervalMs: number
  readonly hostSelectionRetryMaxAttempts: number
  private readonly retriableHeaders: readonly HeaderDataMatcher[]

  constructor(c: RetryPolicyConfig, path: string, errors: ConfigErrors) {
    const { bits, unknown } = parseRetryOn(c.retry_on)
    if (unknown.length > 0) errors.add(`${path}.retry_on`, `unknown retry condition(s): ${unknown.join(', ')}`)
    this.retryOn = bits
    this.numRetries = c.num_retries ?? 1
    this.perTryTimeoutMs = durationToMs(c.per_try_timeout, 0)
    this.perTryIdleTimeoutMs = durationToMs(c.per_try_idle_timeout, 0)
    this.retriableStatusCodes = [...c.retriable_status_codes]
    this.hostSelectionRetryMaxAttempts = c.host_selection_retry_max_attempts > 0 ? c.host_selection_retry_max_attempts : 1
    let base = DEFAULT_BASE_INTERVAL_MS
    let max = base * 10
    if (c.retry_back_off !== undefined) {
      // Sub-millisecond intervals round up to 1 ms, as in Envoy.
      base = Math.max(1, durationToMs(c.retry_back_off.base_interval, DEFAULT_BASE_INTERVAL_MS))
      const m = durationToMs(c.retry_back_off.max_interval)
      max = m === undefined ? base * 10 : Math.max(1, m)
      if (max < base) errors.add(`${path}.retry_back_off.max_interval`, 'retry_policy.max_interval must greater than or equal to the base_interval')
    }
    this.baseIntervalMs = base
    this.maxIntervalMs = max
    this.retriableHeaders = compileHeaderMatchers(c.retriable_headers, `${path}.retriable_headers`, errors)

    if (c.retry_priority !== undefined) errors.notSupported(`${path}.retry_priority`, 'retry priority extensions are not supported yet')
    if (c.retry_host_predicate.length > 0) errors.notSupported(`${path}.retry_host_predicate`, 'retry host predicates are not supported yet')
    if (c.retry_options_predicates.length > 0) errors.notSupported(`${path}.retry_options_predicates`, 'retry options predicates are not supported yet')
    if (c.rate_limited_retry_back_off !== undefined) {
      errors.notSupported(`${path}.rate_limited_retry_back_off`, 'rate-limited retry back-off is not supported yet')
    }
    if (c.retriable_request_headers.length > 0) {
      errors.notSupported(`${path}.retriable_request_headers`, 'retriable_request_headers is not supported yet')
    }
  }

  retriableHeadersMatch(headers: HeaderMap): boolean {
    for (const m of this.retriableHeaders) if (m.matches(headers)) return true
    return false
  }
}
