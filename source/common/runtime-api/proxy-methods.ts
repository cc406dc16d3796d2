import type { ComponentKind } from '../../envoy/runtime-api/components.js'

/**
 * The component methods a worker may call on an embedded component on main (`runtime.call`),
 * by kind. Subscriptions are not here: they go through the RuntimeHost's subscribe calls,
 * since callbacks cannot cross threads.
 */
export const PROXY_METHODS: Readonly<Record<ComponentKind, readonly string[]>> = {
  state: ['features', 'get', 'bulkGet', 'set', 'delete', 'bulkDelete', 'transaction'],
  pubsub: ['features', 'publish'],
  lock: ['tryLock', 'unlock', 'keepAlive'],
  sequencer: ['nextId'],
  configuration: ['get', 'save', 'delete'],
  secretstores: ['get', 'bulkGet'],
  file: ['get', 'put', 'list', 'del', 'stat'],
  bindings: ['operations', 'invoke'],
}
