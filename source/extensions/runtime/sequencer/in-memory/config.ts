import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { ComponentMetadata } from '../../../../common/runtime-api/component-metadata.js'
import { InMemorySequencer } from './in-memory.js'

/**
 * `sequencer.in-memory`. Metadata: optional `biggerThan`, an object `{ key: n }` (or its JSON
 * text): the first id of `key` is n + 1.
 */
export const inMemorySequencerFactory: RuntimeComponentFactory<'sequencer'> = {
  name: 'sequencer.in-memory',
  configType: 'sequencer.in-memory',
  kind: 'sequencer',
  type: 'in-memory',
  embedded: true,
  create(_name, metadata, _ctx, path) {
    const md = new ComponentMetadata(metadata, path)
    const biggerThan: Record<string, bigint> = {}
    for (const [key, v] of Object.entries(md.object('biggerThan') ?? {})) {
      const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : ''
      if (!/^\d+$/.test(text)) throw md.invalid(`biggerThan.${key}`, `must be a non-negative integer, got ${JSON.stringify(v)}`)
      biggerThan[key] = BigInt(text)
    }
    return new InMemorySequencer(biggerThan)
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(inMemorySequencerFactory)
}
