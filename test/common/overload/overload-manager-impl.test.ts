import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pino from 'pino'
import { RegistryImpl } from '../../../source/common/config/registry-impl.js'
import { OverloadManagerImpl } from '../../../source/common/overload/overload-manager-impl.js'
import type { Bootstrap } from '../../../source/common/protobuf/generated/envoy/config/bootstrap/v3.js'
import { MessageValidator } from '../../../source/common/protobuf/message-validator.js'
import { loadSchema } from '../../../source/common/protobuf/schema.js'
import { clearSharedCounters } from '../../../source/common/shared/shared-counters.js'
import { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import { OverloadActionNames, ProactiveResources } from '../../../source/envoy/server/overload.js'
import { setupAllExtensions } from '../../../source/extensions/all-extensions.js'

const silent = pino({ level: 'silent' })
const validator = new MessageValidator(loadSchema())
const MONITOR = 'envoy.resource_monitors.global_downstream_max_connections'

function manager(max: number, trigger: Record<string, unknown>): OverloadManagerImpl {
  clearSharedCounters()
  const r = validator.validate<Bootstrap>('envoy.config.bootstrap.v3.Bootstrap', {
    overload_manager: {
      refresh_interval: '3600s',
      resource_monitors: [{
        name: MONITOR,
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig', max_active_downstream_connections: max },
      }],
      actions: [{ name: OverloadActionNames.DisableHttpKeepAlive, triggers: [{ name: MONITOR, ...trigger }] }],
    },
  })
  assert.deepEqual(r.errors, [])
  const registry = new RegistryImpl()
  setupAllExtensions(registry)
  return new OverloadManagerImpl(r.value.overload_manager, registry)
}

describe('OverloadManagerImpl', () => {
  it('a scaled trigger scales between its thresholds and saturates at the upper one', () => {
    const om = manager(10, { scaled: { scaling_threshold: 0.2, saturation_threshold: 0.6 } })
    const store = new ThreadLocalStoreImpl(StatMemory.create(256, 2), 0)
    for (let i = 0; i < 4; i++) assert.ok(om.tryAllocateResource(ProactiveResources.DownstreamConnections, 1))
    om.start(store, silent)
    const s = om.getState(OverloadActionNames.DisableHttpKeepAlive)
    assert.ok(Math.abs(s.value - 0.5) < 1e-6, `value ${s.value}`)
    assert.equal(s.saturated, false)
    assert.equal(store.gauge(`overload.${OverloadActionNames.DisableHttpKeepAlive}.scale_percent`).value(), 50)
    assert.equal(store.gauge(`overload.${MONITOR}.pressure`).value(), 40)
    om.stop()
  })

  it('the connection limit is exact: allocation fails at the limit and succeeds after a release', () => {
    const om = manager(2, { threshold: { value: 1 } })
    assert.ok(om.tryAllocateResource(ProactiveResources.DownstreamConnections, 1))
    assert.ok(om.tryAllocateResource(ProactiveResources.DownstreamConnections, 1))
    assert.equal(om.tryAllocateResource(ProactiveResources.DownstreamConnections, 1), false)
    om.deallocateResource(ProactiveResources.DownstreamConnections, 1)
    assert.ok(om.tryAllocateResource(ProactiveResources.DownstreamConnections, 1))
    const store = new ThreadLocalStoreImpl(StatMemory.create(256, 2), 0)
    om.start(store, silent)
    assert.equal(om.getState(OverloadActionNames.DisableHttpKeepAlive).saturated, true)
    assert.equal(store.gauge(`overload.${OverloadActionNames.DisableHttpKeepAlive}.active`).value(), 1)
    om.stop()
  })

  it('an action that is not configured is inactive', () => {
    const om = manager(2, { threshold: { value: 1 } })
    assert.deepEqual(om.getState(OverloadActionNames.StopAcceptingConnections), { value: 0, saturated: false })
  })
})
