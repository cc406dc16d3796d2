import { keyPrefixFor, MetadataReader, parseRedisSettings } from '../../../../common/runtime-api/redis/metadata.js'
import { RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { RedisLockStore } from './redis-lock-store.js'

export const redisLockFactory: RuntimeComponentFactory<'lock'> = {
  name: 'lock.redis',
  configType: 'lock.redis',
  kind: 'lock',
  type: 'redis',
  embedded: false,
  create(name, metadata, ctx, path) {
    const md = new MetadataReader(metadata, path)
    const settings = parseRedisSettings(md)
    // Dapr's lock keys: `lock||<prefix>||<resource id>`, `<resource id>` with keyPrefix none.
    const prefix = keyPrefixFor(md, name, ctx.appId)
    const keyPrefix = prefix === '' ? '' : `lock||${prefix}`
    const conn = new RedisConnection(settings, ctx.log, { label: `lock:${name}` })
    return new RedisLockStore(conn, { name, keyPrefix })
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(redisLockFactory)
}
