import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import type { LocalRateLimit } from '../../../../../source/common/protobuf/generated/envoy/extensions/filters/network/local_ratelimit/v3.js'
import { NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../../source/envoy/network/filter.js'
import { ResponseFlag } from '../../../../../source/envoy/stream-info/stream-info.js'
import {
  createLocalRateLimitConfig, localRateLimitFilterFactory, setup,
} from '../../../../../source/extensions/filters/network/local-ratelimit/config.js'
import { LocalRateLimitFilter } from '../../../../../source/extensions/filters/network/local-ratelimit/local-ratelimit.js'
import {
  SHARED_TOKEN_BUCKET_SLOTS, SharedTokenBucket,
} from '../../../../../source/extensions/filters/network/local-ratelimit/shared-token-bucket.js'
import { FakeRuntime, fakeFactoryContext, newStatMemory } from '../../../../mocks/network/factory-context.js'
import { FakeConnection } from '../../../../mocks/network/fake-connection.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit'
let pathSeq = 0
const uniquePath = (): string => `listeners[1].filter_chains[${pathSeq++}].filters[0].typed_config`

function config(overrides: Partial<LocalRateLimit> = {}): LocalRateLimit {
  return { stat_prefix: 'rl', share_key: '', token_bucket: { max_tokens: 2, fill_interval: '1s' }, ...overrides }
}

function expectInvalid(c: unknown, re: RegExp): void {
  assert.throws(() => localRateLimitFilterFactory.createFilterFactory(c, fakeFactoryContext(), 'f.typed_config'), (err: { code?: string; message: string }) => {
    assert.equal(err.code, ErrorCode.CONFIG_INVALID)
    assert.match(err.message, re)
    return true
  })
}

function memory(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(SHARED_TOKEN_BUCKET_SLOTS * 4))
}

describe('local_ratelimit config', () => {
  it('registers by name and by @type, not terminal', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS)
    assert.equal(category.lookup('envoy.filters.network.local_ratelimit', undefined), localRateLimitFilterFactory)
    assert.equal(category.lookup('x', TYPE), localRateLimitFilterFactory)
    assert.equal(localRateLimitFilterFactory.isTerminalFilter, false)
  })

  it('accepts a valid config', () => {
    assert.equal(typeof localRateLimitFilterFactory.createFilterFactory(config(), fakeFactoryContext(), uniquePath()), 'function')
  })

  it('rejects bad configs with ETS_ERR_CONFIG_INVALID naming the path', () => {
    expectInvalid(config({ share_key: 'k' }), /^f\.typed_config\.share_key: not supported/)
    expectInvalid(config({ stat_prefix: '' }), /^f\.typed_config\.stat_prefix: /)
    expectInvalid({ stat_prefix: 'rl', share_key: '' }, /^f\.typed_config\.token_bucket: value is required/)
    expectInvalid(config({ token_bucket: { max_tokens: 1, fill_interval: '0.010s' } }), /fill_interval: .*>= 50ms/)
    expectInvalid(config({ token_bucket: { max_tokens: 1 } }), /fill_interval: value is required/)
    expectInvalid(config({ token_bucket: { max_tokens: 0, fill_interval: '1s' } }), /max_tokens/)
  })
})

describe('SharedTokenBucket', () => {
  it('starts full, then adds tokens_per_fill per whole fill interval up to max', () => {
    let now = 1_000_000
    const b = new SharedTokenBucket({ memory: memory(), maxTokens: 3, tokensPerFill: 2, fillIntervalMs: 100, now: () => now })
    assert.equal(b.consume(), true)
    assert.equal(b.consume(), true)
    assert.equal(b.consume(), true)
    assert.equal(b.consume(), false)
    now += 99
    assert.equal(b.consume(), false)
    now += 1
    assert.equal(b.remainingTokens(), 2)
    assert.equal(b.consume(), true)
    now += 1000
    assert.equal(b.remainingTokens(), 3)
  })

  it('is one bucket for every thread that maps the same memory', () => {
    let now = 5_000
    const shared = memory()
    const a = new SharedTokenBucket({ memory: shared, maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 50, now: () => now })
    const b = new SharedTokenBucket({ memory: new Int32Array(shared.buffer), maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 50, now: () => now })
    assert.equal(a.consume(), true)
    assert.equal(b.consume(), true)
    assert.equal(a.consume(), false)
    assert.equal(b.consume(), false)
    now += 50
    assert.equal(b.consume(), true)
    assert.equal(a.consume(), false)
  })

  it('ignores a clock that runs a little behind the last update', () => {
    let now = 10_000
    const shared = memory()
    const ahead = new SharedTokenBucket({ memory: shared, maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 100, now: () => now })
    const behind = new SharedTokenBucket({ memory: shared, maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 100, now: () => now - 150 })
    assert.equal(ahead.consume(), true)
    now += 200
    assert.equal(ahead.consume(), true)
    assert.equal(behind.consume(), false)
  })
})

describe('local_ratelimit filter', () => {
  it('lets max_tokens connections through, closes the rest NoFlush, refills over time', () => {
    let now = 0
    const ctx = fakeFactoryContext({ memory: newStatMemory() })
    const shared = createLocalRateLimitConfig(config({ token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: '0.2s' } }), ctx, uniquePath(), () => now)
    const open = (): FakeConnection => {
      const c = new FakeConnection()
      c.addReadFilter(new LocalRateLimitFilter(shared))
      c.initializeReadFilters()
      return c
    }
    assert.equal(open().closes.length, 0)
    assert.equal(open().closes.length, 0)
    const limited = open()
    assert.deepEqual(limited.closes, [{ type: 'NoFlush', details: 'local_ratelimit_close_over_limit' }])
    assert.equal(limited.streamInfo.hasResponseFlag(ResponseFlag.UpstreamRetryLimitExceeded), true)
    assert.equal(ctx.store.counter('local_rate_limit.rl.rate_limited').value(), 1)
    now += 200
    assert.equal(open().closes.length, 0)
    assert.equal(open().closes.length, 1)
    assert.equal(ctx.store.counter('local_rate_limit.rl.rate_limited').value(), 2)
  })

  it('shares the bucket between two workers built from the same config path', () => {
    const path = uniquePath()
    const statMemory = newStatMemory()
    const c = config({ token_bucket: { max_tokens: 3, fill_interval: '60s' } })
    const installs = [0, 1].map((w) => localRateLimitFilterFactory.createFilterFactory(c, fakeFactoryContext({ memory: statMemory, workerIndex: w }), path))
    const closed = [0, 1, 0, 1, 0].map((w) => {
      const conn = new FakeConnection()
      installs[w]!(conn, conn)
      conn.initializeReadFilters()
      return conn.closes.length
    })
    assert.deepEqual(closed, [0, 0, 0, 1, 1])
  })

  it('is bypassed when runtime_enabled is false', () => {
    const runtime = new FakeRuntime()
    const ctx = fakeFactoryContext({ runtime })
    const install = localRateLimitFilterFactory.createFilterFactory(
      config({ token_bucket: { max_tokens: 1, fill_interval: '60s' }, runtime_enabled: { default_value: false, runtime_key: 'rl.on' } }), ctx, uniquePath())
    const open = (): number => {
      const conn = new FakeConnection()
      install(conn, conn)
      conn.initializeReadFilters()
      return conn.closes.length
    }
    assert.deepEqual([open(), open(), open()], [0, 0, 0])
    runtime.values.set('rl.on', 'true')
    assert.deepEqual([open(), open()], [0, 1])
  })
})
