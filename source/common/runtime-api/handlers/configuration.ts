import { RuntimeStatus } from '../../../envoy/runtime-api/errors.js'
import type { ConfigurationItem, ConfigurationStore } from '../../../envoy/runtime-api/components.js'
import type { RuntimeApiContext } from './context.js'
import { apiError, componentError, invalid, missingComponent } from './errors.js'

/**
 * Configuration API. Dapr (Get/Subscribe/Unsubscribe, keyed map of {value, version, metadata})
 * and Layotto (Get/Save/Delete/Subscribe, list of {key, content, group, label, tags}) map onto
 * ConfigurationItem in their services.
 */

function configurationStore(ctx: RuntimeApiContext, store: string): ConfigurationStore {
  const s = ctx.components.get('configuration', store)
  if (s === undefined) throw missingComponent(ctx, 'configuration', store)
  return s
}

export interface ConfigurationOptions {
  group?: string
  label?: string
  metadata?: Record<string, string>
}

export async function getConfiguration(ctx: RuntimeApiContext, store: string, keys: string[], options: ConfigurationOptions = {}): Promise<ConfigurationItem[]> {
  const s = configurationStore(ctx, store)
  try {
    return await s.get(keys, options)
  } catch (err) {
    throw componentError(err, 'ERR_CONFIGURATION_GET', `failed to get [${keys.join(' ')}] from Configuration store ${store}`)
  }
}

export async function saveConfiguration(ctx: RuntimeApiContext, store: string, items: ConfigurationItem[], metadata?: Record<string, string>): Promise<void> {
  const s = configurationStore(ctx, store)
  if (s.save === undefined) throw apiError(RuntimeStatus.UNIMPLEMENTED, 'ERR_CONFIGURATION_SAVE', `configuration store ${store} is read-only`)
  for (const i of items) if (i.key === '') throw invalid('ERR_MALFORMED_REQUEST', `configuration key is empty in configuration store ${store}`)
  if (items.length === 0) return
  try {
    await s.save(items, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_CONFIGURATION_SAVE', `failed to save configuration in Configuration store ${store}`)
  }
}

export async function deleteConfiguration(ctx: RuntimeApiContext, store: string, keys: string[], options: { group?: string; label?: string } = {}): Promise<void> {
  const s = configurationStore(ctx, store)
  if (s.delete === undefined) throw apiError(RuntimeStatus.UNIMPLEMENTED, 'ERR_CONFIGURATION_DELETE', `configuration store ${store} is read-only`)
  if (keys.length === 0) return
  try {
    await s.delete(keys, options)
  } catch (err) {
    throw componentError(err, 'ERR_CONFIGURATION_DELETE', `failed to delete [${keys.join(' ')}] from Configuration store ${store}`)
  }
}

/**
 * Watches `keys` (all when empty) of a store; the subscription runs on main. `onEnd` runs when
 * someone unsubscribes it by id (Dapr's UnsubscribeConfiguration).
 */
export async function subscribeConfiguration(ctx: RuntimeApiContext, store: string, keys: string[], onChange: (items: ConfigurationItem[]) => void, onEnd?: () => void): Promise<{ id: string; stop(): Promise<void> }> {
  configurationStore(ctx, store)
  try {
    return await ctx.host.subscribeConfiguration(store, ctx.config, keys, onChange, onEnd)
  } catch (err) {
    throw componentError(err, 'ERR_CONFIGURATION_SUBSCRIBE', `failed to subscribe [${keys.join(' ')}] from Configuration store ${store}`)
  }
}

export async function unsubscribeConfiguration(ctx: RuntimeApiContext, store: string, id: string): Promise<boolean> {
  configurationStore(ctx, store)
  if (id === '') throw invalid('ERR_MALFORMED_REQUEST', 'subscription id is empty')
  try {
    return await ctx.host.unsubscribe(id)
  } catch (err) {
    throw componentError(err, 'ERR_CONFIGURATION_UNSUBSCRIBE', `failed to unsubscribe to configuration request ${id}`)
  }
}
