import { keyPrefixFor, MetadataReader, parseRedisSettings } from '../../../../common/runtime-api/redis/metadata.js'
import { RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { RedisSequencer } from './redis-sequencer.js'

/** `biggerThan`: a map of key → integer (a Struct), as Layotto's sequencer config has it. */
function parseBiggerThan(md: MetadataReader): Map<string, bigint> {
  const out = new Map<string, bigint>()
  const raw = md.metadata['biggerThan']
  if (raw === undefined || raw === null || raw === '') return out
  if (typeof raw !== 'object' || Array.isArray(raw)) throw md.invalid('biggerThan', 'value must be a map of key to integer')
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    const s = typeof v === 'number' || typeof v === 'string' ? String(v).trim() : ''
    if (!/^-?\d+$/.test(s)) throw md.invalid(`biggerThan.${key}`, 'value must be an integer')
    out.set(key, BigInt(s))
  }
  return out
}

export const redisSequencerFactory: RuntimeComponentFactory<'sequencer'> = {
  name: 'sequencer.redis',
  configType: 'sequencer.redis',
  kind: 'sequencer',
  type: 'redis',
  embedded: false,
  create(name, metadata, ctx, path) {
    const md = new MetadataReader(metadata, path)
    const settings = parseRedisSettings(md)
    const keyPrefix = keyPrefixFor(md, name, ctx.appId)
    const biggerThan = parseBiggerThan(md)
    const conn = new RedisConnection(settings, ctx.log, { label: `sequencer:${name}`, stringNumbers: true })
    return new RedisSequencer(conn, { name, keyPrefix, biggerThan })
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(redisSequencerFactory)
}
