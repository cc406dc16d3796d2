import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../../source/envoy/network/filter.js'
import { echoFilterFactory, setup } from '../../../../../source/extensions/filters/network/echo/config.js'
import { fakeFactoryContext } from '../../../../mocks/network/factory-context.js'
import { FakeConnection } from '../../../../mocks/network/fake-connection.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.network.echo.v3.Echo'

function connectionWithEcho(): FakeConnection {
  const conn = new FakeConnection()
  echoFilterFactory.createFilterFactory({}, fakeFactoryContext(), 'filters[0].typed_config')(conn, conn)
  conn.initializeReadFilters()
  return conn
}

describe('echo config', () => {
  it('registers by name and by @type, as a terminal filter', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS)
    assert.equal(category.lookup('envoy.filters.network.echo', undefined), echoFilterFactory)
    assert.equal(category.lookup('whatever', TYPE), echoFilterFactory)
    assert.equal(echoFilterFactory.isTerminalFilter, true)
  })

  it('installs one read filter per connection', () => {
    const conn = connectionWithEcho()
    assert.equal(conn.readFilters.length, 1)
  })
})

describe('echo filter', () => {
  it('writes back what it reads and drains the read buffer', () => {
    const conn = connectionWithEcho()
    conn.receive('hello ')
    conn.receive('world')
    assert.equal(conn.written().toString(), 'hello world')
    assert.equal(conn.readBuffer.length, 0)
    assert.equal(conn.wroteEnd(), false)
  })

  it('enables half-close and echoes the peer\'s FIN after the data', () => {
    const conn = connectionWithEcho()
    assert.equal(conn.isHalfCloseEnabled(), true)
    conn.receive('bye', true)
    assert.deepEqual(conn.writes.map((w) => [w.data.toString(), w.endStream]), [['bye', true]])
    assert.equal(conn.closes.length, 0)
  })

  it('echoes a bare FIN', () => {
    const conn = connectionWithEcho()
    conn.receive('x')
    conn.receive('', true)
    assert.deepEqual(conn.writes.map((w) => [w.data.toString(), w.endStream]), [['x', false], ['', true]])
  })
})
