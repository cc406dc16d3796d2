import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HeaderMapImpl } from '../../../source/common/http/header-map-impl.js'
import type { RetryPolicy } from '../../../source/common/protobuf/generated/envoy/config/route/v3.js'
import { ConfigErrors } from '../../../source/common/router/config-utility.js'
import { GrpcRetryOn, parseRetryOn, RetryPolicyImpl } from '../../../source/common/router/retry-policy-impl.js'
import { RetryOn } from '../../../source/envoy/router/router.js'

function policy(c: Partial<RetryPolicy>): { p: RetryPolicyImpl; errors: string[] } {
  const errors = new ConfigErrors()
  const p = new RetryPolicyImpl({
    retry_on: '', retry_host_predicate: [], retry_options_predicates: [], host_selection_retry_max_attempts: 0,
    retriable_status_codes: [], retriable_headers: [], retriable_request_headers: [], ...c,
  }, 'rp', errors)
  return { p, errors: errors.list }
}

describe('retry_on', () => {
  it('parses a comma list into bits, trimming spaces', () => {
    const { bits, unknown } = parseRetryOn('5xx, gateway-error,reset,connect-failure,retriable-4xx,refused-stream,retriable-status-codes,retriable-headers,envoy-ratelimited,http3-post-connect-failure,reset-before-request')
    assert.deepEqual(unknown, [])
    assert.equal(bits, Object.values(RetryOn).reduce((a, b) => a | b, 0))
  })

  it('accepts the gRPC conditions', () => {
    const { bits, unknown } = parseRetryOn('cancelled,deadline-exceeded,internal,resource-exhausted,unavailable')
    assert.deepEqual(unknown, [])
    assert.equal(bits, Object.values(GrpcRetryOn).reduce((a, b) => a | b, 0))
    assert.equal(bits & RetryOn['5xx'], 0)
  })

  it('an unknown condition is a config error', () => {
    assert.deepEqual(policy({ retry_on: '5xx,5XX,nope' }).errors, ['rp.retry_on: unknown retry condition(s): 5XX, nope'])
  })
})

describe('RetryPolicyImpl', () => {
  it("Envoy's defaults", () => {
    const { p, errors } = policy({ retry_on: '5xx' })
    assert.deepEqual(errors, [])
    assert.equal(p.retryOn, RetryOn['5xx'])
    assert.equal(p.numRetries, 1)
    assert.equal(p.perTryTimeoutMs, 0)
    assert.equal(p.perTryIdleTimeoutMs, 0)
    assert.equal(p.baseIntervalMs, 25)
    assert.equal(p.maxIntervalMs, 250)
    assert.equal(p.hostSelectionRetryMaxAttempts, 1)
    assert.deepEqual(p.retriableStatusCodes, [])
    assert.equal(p.retriableHeadersMatch(new HeaderMapImpl({ ':status': '503' })), false)
  })

  it('explicit values', () => {
    const { p, errors } = policy({
      retry_on: 'retriable-status-codes,retriable-headers', num_retries: 0, per_try_timeout: '0.5s', per_try_idle_timeout: '2s',
      retriable_status_codes: [409, 503], host_selection_retry_max_attempts: 3,
      retry_back_off: { base_interval: '0.1s' },
      retriable_headers: [{ name: 'x-retry', exact_match: 'yes', invert_match: false, treat_missing_header_as_empty: false }],
    })
    assert.deepEqual(errors, [])
    assert.equal(p.numRetries, 0)
    assert.equal(p.perTryTimeoutMs, 500)
    assert.equal(p.perTryIdleTimeoutMs, 2000)
    assert.deepEqual(p.retriableStatusCodes, [409, 503])
    assert.equal(p.hostSelectionRetryMaxAttempts, 3)
    assert.equal(p.baseIntervalMs, 100)
    assert.equal(p.maxIntervalMs, 1000)
    assert.equal(p.retriableHeadersMatch(new HeaderMapImpl({ 'x-retry': 'yes' })), true)
    assert.equal(p.retriableHeadersMatch(new HeaderMapImpl({ 'x-retry': 'no' })), false)
  })

  it('back-off bounds', () => {
    assert.equal(policy({ retry_back_off: { base_interval: '0.0001s', max_interval: '0.0001s' } }).p.baseIntervalMs, 1)
    assert.equal(policy({ retry_back_off: { base_interval: '1s', max_interval: '3s' } }).p.maxIntervalMs, 3000)
    assert.deepEqual(policy({ retry_back_off: { base_interval: '1s', max_interval: '0.5s' } }).errors, [
      'rp.retry_back_off.max_interval: retry_policy.max_interval must greater than or equal to the base_interval',
    ])
  })

  it('rejects the extension points it does not implement', () => {
    const { errors } = policy({ retry_priority: { name: 'x' }, rate_limited_retry_back_off: { reset_headers: [] } })
    assert.equal(errors.length, 2)
    assert.ok(errors.every((e) => e.includes('not supported by envoy-ts yet')))
  })
})
