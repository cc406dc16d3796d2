import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { InMemoryStateStore } from './in-memory.js'

/** Dapr's `state.in-memory`: no metadata; one store on main shared by every worker. */
export const inMemoryStateFactory: RuntimeComponentFactory<'state'> = {
  name: 'state.in-memory',
  configType: 'state.in-memory',
  kind: 'state',
  type: 'in-memory',
  embedded: true,
  create() {
    return new InMemoryStateStore()
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(inMemoryStateFactory)
}
