import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import { NETWORK_FILTERS, type NamedNetworkFilterConfigFactory } from '../../../../../source/envoy/network/filter.js'
import { setupAllExtensions } from '../../../../../source/extensions/all-extensions.js'
import { runtimeApiFilterFactory, setup } from '../../../../../source/extensions/filters/network/runtime-api/config.js'
import { fakeFactoryContext } from '../../../../mocks/network/factory-context.js'

const TYPE = 'type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi'

function ctx(): ReturnType<typeof fakeFactoryContext> {
  const c = fakeFactoryContext({ workerIndex: -1 })
  setupAllExtensions(c.registry)
  return c
}

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stat_prefix: 'rt', apis: [], state: { statestore: { type: 'in-memory' } }, pub_subs: {}, lock: {}, sequencer: {},
    config_store: {}, secret_store: { env: { type: 'local.env' } }, file: {}, bindings: {}, rpcs: {}, api_token: '', ...extra,
  }
}

describe('runtime_api config', () => {
  it('registers by name and by @type, terminal', () => {
    const r = new RegistryImpl()
    setup(r)
    const c = r.category<NamedNetworkFilterConfigFactory>(NETWORK_FILTERS)
    assert.equal(c.lookup('envoy_ts.filters.network.runtime_api', undefined), runtimeApiFilterFactory)
    assert.equal(c.lookup('whatever', TYPE), runtimeApiFilterFactory)
    assert.equal(runtimeApiFilterFactory.isTerminalFilter, true)
  })

  it('accepts a valid config and builds its components on main', () => {
    const c = ctx()
    const cb = runtimeApiFilterFactory.createFilterFactory(config(), c, 'l.typed_config')
    assert.equal(typeof cb, 'function')
    // A second config with the same component is the same instance.
    runtimeApiFilterFactory.createFilterFactory(config({ stat_prefix: 'other' }), c, 'm.typed_config')
  })

  it('rejects unknown component types and missing metadata with the field path', () => {
    assert.throws(() => runtimeApiFilterFactory.createFilterFactory(config({
      lock: { l: { type: 'zookeeper' } },
      secret_store: { f: { type: 'local.file' } },
    }), ctx(), 'l.typed_config'), (err: { code?: string; errors: string[] }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.errors.join('\n'), /l\.typed_config\.lock\.l\.type: unknown lock component type 'zookeeper'/)
      assert.match(err.errors.join('\n'), /l\.typed_config\.secret_store\.f\.metadata\.secretsFile: is required/)
      return true
    })
  })
})
