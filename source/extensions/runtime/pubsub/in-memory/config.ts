import { ComponentMetadata } from '../../../../common/runtime-api/component-metadata.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { DEFAULT_IN_MEMORY_PUBSUB_OPTIONS, InMemoryPubSub, type InMemoryPubSubOptions } from './in-memory.js'

/** Checks the metadata of a `pubsub.in-memory` component (`maxQueueLength`, optional). */
export function inMemoryPubSubOptions(metadata: Record<string, unknown>, path: string): InMemoryPubSubOptions {
  const md = new ComponentMetadata(metadata, path)
  return { ...DEFAULT_IN_MEMORY_PUBSUB_OPTIONS, maxQueueLength: md.int('maxQueueLength', DEFAULT_IN_MEMORY_PUBSUB_OPTIONS.maxQueueLength, 1) }
}

/**
 * Dapr's `pubsub.in-memory`: embedded, so one bus lives on main and every worker publishes
 * into it through the RuntimeHost.
 */
export const inMemoryPubSubFactory: RuntimeComponentFactory<'pubsub'> = {
  name: 'pubsub.in-memory',
  configType: 'pubsub.in-memory',
  kind: 'pubsub',
  type: 'in-memory',
  embedded: true,
  create(name, metadata, ctx, path) {
    return new InMemoryPubSub(name, inMemoryPubSubOptions(metadata, path), ctx.log)
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(inMemoryPubSubFactory)
}
