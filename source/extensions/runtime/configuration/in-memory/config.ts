import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import type { ConfigurationItem } from '../../../../envoy/runtime-api/components.js'
import { ComponentMetadata } from '../../../../common/runtime-api/component-metadata.js'
import { InMemoryConfigurationStore } from './in-memory.js'

function stringMap(md: ComponentMetadata, field: string, v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'object' || Array.isArray(v)) throw md.invalid(field, 'must be an object of strings')
  const out: Record<string, string> = {}
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string' && typeof s !== 'number' && typeof s !== 'boolean') throw md.invalid(`${field}.${k}`, 'must be a string')
    out[k] = String(s)
  }
  return out
}

/** Reads `items`: `{ key: "value" }` or `{ key: { value, group, label, tags, metadata } }`. */
export function configurationItems(md: ComponentMetadata): ConfigurationItem[] {
  const out: ConfigurationItem[] = []
  for (const [key, v] of Object.entries(md.object('items') ?? {})) {
    const field = `items.${key}`
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      out.push({ key, value: String(v), version: '' })
      continue
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw md.invalid(field, 'must be a string or an object with a value')
    const o = v as Record<string, unknown>
    const value = o['value'] ?? o['content']
    if (typeof value !== 'string') throw md.invalid(`${field}.value`, 'is required and must be a string')
    const item: ConfigurationItem = { key, value, version: '' }
    for (const f of ['group', 'label'] as const) {
      if (o[f] === undefined) continue
      if (typeof o[f] !== 'string') throw md.invalid(`${field}.${f}`, 'must be a string')
      item[f] = o[f]
    }
    const tags = stringMap(md, `${field}.tags`, o['tags'])
    if (tags !== undefined) item.tags = tags
    const metadata = stringMap(md, `${field}.metadata`, o['metadata'])
    if (metadata !== undefined) item.metadata = metadata
    out.push(item)
  }
  return out
}

/**
 * `configuration.in-memory`. Metadata: optional `items` (initial values); writable with
 * Layotto's SaveConfiguration / DeleteConfiguration.
 */
export const inMemoryConfigurationFactory: RuntimeComponentFactory<'configuration'> = {
  name: 'configuration.in-memory',
  configType: 'configuration.in-memory',
  kind: 'configuration',
  type: 'in-memory',
  embedded: true,
  create(_name, metadata, _ctx, path) {
    return new InMemoryConfigurationStore(configurationItems(new ComponentMetadata(metadata, path)))
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(inMemoryConfigurationFactory)
}
