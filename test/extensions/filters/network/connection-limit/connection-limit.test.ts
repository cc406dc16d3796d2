import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import type { ConnectionLimit } from '../../../../../source/common/protobuf/generated/envoy/extensions/filters/network/connection_limit/v3.js'
import {
  clearSharedCounters, exportSharedCounters, hasSharedCounter, importSharedCounters, sharedInt32,
} from '../../../../../source/common/shared/shared-counters.js'
import { NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../../source/envoy/network/filter.js'
import {
  connectionLimitFilterFactory, connectionLimitKey, setup,
} from '../../../../../source/extensions/filters/network/connection-limit/config.js'
import {
  ConnectionLimitConfig, ConnectionLimitFilter, OVER_CONNECTION_LIMIT, connectionLimitStats, type TimerFactory,
} from '../../../../../source/extensions/filters/network/connection-limit/connection-limit.js'
import { FakeRuntime, fakeFactoryContext, newStatMemory } from '../../../../mocks/network/factory-context.js'
import { FakeConnection } from '../../../../mocks/network/fake-connection.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit'
let pathSeq = 0
const uniquePath = (): string => `listeners[0].filter_chains[${pathSeq++}].filters[0].typed_config`

function expectInvalid(config: unknown, re: RegExp): void {
  assert.throws(() => connectionLimitFilterFactory.createFilterFactory(config, fakeFactoryContext(), 'f.typed_config'), (err: { code?: string; message: string }) => {
    assert.equal(err.code, ErrorCode.CONFIG_INVALID)
    assert.match(err.message, re)
    return true
  })
}

function open(install: (fm: FakeConnection, c: FakeConnection) => void): FakeConnection {
  const conn = new FakeConnection()
  install(conn, conn)
  conn.initializeReadFilters()
  return conn
}

describe('connection_limit config', () => {
  it('registers by name and by @type, not terminal', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS)
    assert.equal(category.lookup('envoy.filters.network.connection_limit', undefined), connectionLimitFilterFactory)
    assert.equal(category.lookup('x', TYPE), connectionLimitFilterFactory)
    assert.equal(connectionLimitFilterFactory.isTerminalFilter, false)
  })

  it('accepts a valid config and creates the shared counter by path', () => {
    const path = uniquePath()
    connectionLimitFilterFactory.createFilterFactory({ stat_prefix: 'a', max_connections: 3, delay: '0.5s' }, fakeFactoryContext({ workerIndex: -1 }), path)
    assert.equal(hasSharedCounter(connectionLimitKey(path)), true)
  })

  it('rejects missing or bad fields with ETS_ERR_CONFIG_INVALID naming the path', () => {
    expectInvalid({ stat_prefix: '', max_connections: 1 }, /^f\.typed_config\.stat_prefix: /)
    expectInvalid({ stat_prefix: 'a' }, /^f\.typed_config\.max_connections: value is required/)
    expectInvalid({ stat_prefix: 'a', max_connections: 0 }, /^f\.typed_config\.max_connections: /)
    expectInvalid({ stat_prefix: 'a', max_connections: 1, runtime_enabled: { runtime_key: '' } }, /runtime_enabled\.runtime_key/)
  })
})

describe('connection_limit filter', () => {
  it('holds the limit across two workers sharing one counter, and frees slots on close', () => {
    const path = uniquePath()
    const memory = newStatMemory()
    const config: ConnectionLimit = { stat_prefix: 'cl', max_connections: 2 }
    // Main validates first (creating the buffer), then hands it to the workers.
    connectionLimitFilterFactory.createFilterFactory(config, fakeFactoryContext({ memory, workerIndex: -1 }), path)
    const exported = exportSharedCounters()
    clearSharedCounters()
    importSharedCounters(exported)
    const w0 = fakeFactoryContext({ memory, workerIndex: 0 })
    const w1 = fakeFactoryContext({ memory, workerIndex: 1 })
    const install0 = connectionLimitFilterFactory.createFilterFactory(config, w0, path)
    const install1 = connectionLimitFilterFactory.createFilterFactory(config, w1, path)

    const a = open(install0)
    const b = open(install1)
    assert.equal(a.closes.length + b.closes.length, 0)
    const c = open(install1)
    assert.deepEqual(c.closes, [{ type: 'NoFlush', details: OVER_CONNECTION_LIMIT }])
    assert.equal(c.streamInfo.connectionTerminationDetails, 'over_connection_limit')
    const d = open(install0)
    assert.equal(d.closes.length, 1)

    assert.equal(w0.store.counter('connection_limit.cl.limited_connections').value(), 2)
    // Rejected connections were counted and given back on close: two still active.
    assert.equal(w0.store.gauge('connection_limit.cl.active_connections').value(), 2)
    assert.equal(sharedInt32(connectionLimitKey(path), 1)[0], 2)

    a.raiseEvent('RemoteClose')
    const e = open(install1)
    assert.equal(e.closes.length, 0)
    assert.equal(w1.store.gauge('connection_limit.cl.active_connections').value(), 2)
  })

  it('stops the chain, disables reading and closes after the delay', () => {
    const memory = newStatMemory()
    const ctx = fakeFactoryContext({ memory })
    const timers: Array<{ ms: number; fire: () => void; cancelled: boolean }> = []
    const timer: TimerFactory = (ms, fire) => {
      const t = { ms, fire, cancelled: false }
      timers.push(t)
      return () => { t.cancelled = true }
    }
    const config = new ConnectionLimitConfig({
      counts: new Int32Array(new SharedArrayBuffer(4)),
      stats: connectionLimitStats(ctx.scope, 'slow'),
      maxConnections: 1,
      delayMs: 250,
      runtime: ctx.runtime,
      timer,
    })
    const seen: string[] = []
    const install = (fm: FakeConnection): void => {
      fm.addReadFilter(new ConnectionLimitFilter(config))
      fm.addReadFilter({ initializeReadFilterCallbacks: () => {}, onNewConnection: () => 'Continue', onData: (d) => { seen.push(d.toString()); d.drain(d.length); return 'Continue' } })
    }
    open(install).receive('ok')
    const rejected = open(install)
    rejected.receive('dropped')
    assert.deepEqual(seen, ['ok'])
    assert.equal(rejected.readEnabled(), false)
    assert.equal(rejected.closes.length, 0)
    assert.equal(timers.length, 1)
    assert.equal(timers[0]!.ms, 250)
    timers[0]!.fire()
    assert.deepEqual(rejected.closes, [{ type: 'NoFlush', details: 'over_connection_limit' }])
    assert.equal(config.connections(), 1)

    // A peer that leaves during the delay cancels the timer.
    const third = open(install)
    third.raiseEvent('RemoteClose')
    assert.equal(timers[1]!.cancelled, true)
    assert.equal(config.connections(), 1)
  })

  it('does nothing when runtime_enabled turns it off', () => {
    const runtime = new FakeRuntime()
    runtime.values.set('cl.enabled', 'false')
    const ctx = fakeFactoryContext({ runtime })
    const install = connectionLimitFilterFactory.createFilterFactory(
      { stat_prefix: 'off', max_connections: 1, runtime_enabled: { default_value: true, runtime_key: 'cl.enabled' } }, ctx, uniquePath())
    const conns = [open(install), open(install), open(install)]
    assert.equal(conns.every((c) => c.closes.length === 0), true)
    assert.equal(ctx.store.gauge('connection_limit.off.active_connections').value(), 0)
    for (const c of conns) c.raiseEvent('RemoteClose')
    assert.equal(ctx.store.gauge('connection_limit.off.active_connections').value(), 0)
    runtime.values.set('cl.enabled', 'true')
    open(install)
    assert.equal(open(install).closes.length, 1)
  })
})
