import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { InMemoryLockStore } from './in-memory.js'

/** `lock.in-memory`: no metadata; one lock table on main shared by every worker. */
export const inMemoryLockFactory: RuntimeComponentFactory<'lock'> = {
  name: 'lock.in-memory',
  configType: 'lock.in-memory',
  kind: 'lock',
  type: 'in-memory',
  embedded: true,
  create() {
    return new InMemoryLockStore()
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(inMemoryLockFactory)
}
