import { keyPrefixFor, MetadataReader, parseRedisSettings } from '../../../../common/runtime-api/redis/metadata.js'
import { RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { RedisStateStore } from './redis-state-store.js'

export const redisStateFactory: RuntimeComponentFactory<'state'> = {
  name: 'state.redis',
  configType: 'state.redis',
  kind: 'state',
  type: 'redis',
  embedded: false,
  create(name, metadata, ctx, path) {
    const md = new MetadataReader(metadata, path)
    const settings = parseRedisSettings(md)
    const ttl = md.int('ttlInSeconds', 0, -1)
    const keyPrefix = keyPrefixFor(md, name, ctx.appId)
    if (md.bool('actorStateStore', false)) throw md.invalid('actorStateStore', 'actors are not supported')
    if (md.has('queryIndexes')) throw md.invalid('queryIndexes', 'the query API (RedisJSON/RediSearch) is not supported')
    const conn = new RedisConnection(settings, ctx.log, { label: `state:${name}` })
    return new RedisStateStore(conn, { name, keyPrefix, defaultTtlSeconds: ttl > 0 ? ttl : undefined })
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(redisStateFactory)
}
