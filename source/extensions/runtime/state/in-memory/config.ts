import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { ComponentMetadata } from '../../../../common/runtime-api/component-metadata.js'
import { DEFAULT_STATE_LIMITS, InMemoryStateStore } from './in-memory.js'

/** The metadata fields `state.in-memory` takes (its limits); any other is a config error. */
const FIELDS = ['maxKeys', 'maxBytes', 'maxValueBytes'] as const

/**
 * Dapr's `state.in-memory`: one store on main shared by every worker. Metadata: the limits
 * `maxKeys`, `maxBytes`, `maxValueBytes` (integers >= 0; 0: no limit).
 */
export const inMemoryStateFactory: RuntimeComponentFactory<'state'> = {
  name: 'state.in-memory',
  configType: 'state.in-memory',
  kind: 'state',
  type: 'in-memory',
  embedded: true,
  create(_name, metadata, _ctx, path) {
    const md = new ComponentMetadata(metadata, path)
    for (const field of Object.keys(md.values)) {
      if (!(FIELDS as readonly string[]).includes(field)) throw md.invalid(field, `unknown field (state.in-memory takes ${FIELDS.join(', ')})`)
    }
    return new InMemoryStateStore(Date.now, {
      maxKeys: md.int('maxKeys', DEFAULT_STATE_LIMITS.maxKeys, 0),
      maxBytes: md.int('maxBytes', DEFAULT_STATE_LIMITS.maxBytes, 0),
      maxValueBytes: md.int('maxValueBytes', DEFAULT_STATE_LIMITS.maxValueBytes, 0),
    })
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(inMemoryStateFactory)
}
