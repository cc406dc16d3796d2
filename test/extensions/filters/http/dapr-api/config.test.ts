import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../../source/envoy/http/filter.js'
import { setupAllExtensions } from '../../../../../source/extensions/all-extensions.js'
import { daprApiFilterFactory, setup } from '../../../../../source/extensions/filters/http/dapr-api/config.js'
import { fakeHttpFactoryContext } from '../../../../mocks/http/fake-filter-callbacks.js'

const TYPE = 'type.googleapis.com/envoy_ts.extensions.filters.http.dapr_api.v1.DaprApi'

function runtimeConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stat_prefix: 'dapr_http', apis: [], state: { statestore: { type: 'in-memory' } }, pub_subs: { pubsub: { type: 'in-memory' } },
    lock: { lockstore: { type: 'in-memory' } }, sequencer: {}, config_store: { configstore: { type: 'in-memory', metadata: { items: { a: '1' } } } },
    secret_store: {}, file: {}, bindings: {}, rpcs: {}, api_token: '', app: { app_id: 'app', app_host: '', app_port: 0, app_protocol: 'HTTP' }, ...extra,
  }
}

function ctx(): ReturnType<typeof fakeHttpFactoryContext> {
  const c = fakeHttpFactoryContext({ workerIndex: -1 })
  setupAllExtensions(c.registry)
  return c
}

describe('dapr_api config', () => {
  it('registers by name and by @type; not terminal', () => {
    const r = new RegistryImpl()
    setup(r)
    const c = r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS)
    assert.equal(c.lookup('envoy_ts.filters.http.dapr_api', undefined), daprApiFilterFactory)
    assert.equal(c.lookup('whatever', TYPE), daprApiFilterFactory)
    assert.equal(daprApiFilterFactory.isTerminalFilter, false)
  })

  it('accepts a valid config; components are shared with other runtime configs of the same name', () => {
    const c = ctx()
    assert.equal(typeof daprApiFilterFactory.createFilterFactory({ runtime: runtimeConfig() }, c, 'a.typed_config'), 'function')
    assert.equal(typeof daprApiFilterFactory.createFilterFactory({ runtime: runtimeConfig({ stat_prefix: 'other' }) }, c, 'b.typed_config'), 'function')
  })

  it('rejects a missing runtime and bad components with the field path', () => {
    assert.throws(() => daprApiFilterFactory.createFilterFactory({}, ctx(), 'f.typed_config'), (err: { code?: string; message: string }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.message, /f\.typed_config\.runtime: value is required/)
      return true
    })
    assert.throws(() => daprApiFilterFactory.createFilterFactory({ runtime: runtimeConfig({ state: { s: { type: 'nosuch' } } }) }, ctx(), 'f.typed_config'),
      (err: { code?: string; message: string }) => {
        assert.equal(err.code, ErrorCode.CONFIG_INVALID)
        assert.match(err.message, /f\.typed_config\.runtime\.state\.s\.type: unknown state component type 'nosuch'/)
        return true
      })
  })

  it('rejects a component name declared again with other settings', () => {
    const c = ctx()
    daprApiFilterFactory.createFilterFactory({ runtime: runtimeConfig() }, c, 'a.typed_config')
    assert.throws(() => daprApiFilterFactory.createFilterFactory({
      runtime: runtimeConfig({ config_store: { configstore: { type: 'in-memory', metadata: { items: { a: '2' } } } } }),
    }, c, 'b.typed_config'), (err: { code?: string; message: string }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.message, /configuration component 'configstore' is already declared/)
      return true
    })
  })
})
