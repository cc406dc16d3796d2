import { MetadataReader, parseRedisSettings } from '../../../../common/runtime-api/redis/metadata.js'
import { RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { RedisConfigurationStore } from './redis-configuration-store.js'

export const redisConfigurationFactory: RuntimeComponentFactory<'configuration'> = {
  name: 'configuration.redis',
  configType: 'configuration.redis',
  kind: 'configuration',
  type: 'redis',
  embedded: false,
  create(name, metadata, ctx, path) {
    const md = new MetadataReader(metadata, path)
    const settings = parseRedisSettings(md)
    const pollIntervalMs = md.durationMs('pollInterval', 1000)
    if (pollIntervalMs <= 0) throw md.invalid('pollInterval', 'value must be a positive duration')
    const conn = new RedisConnection(settings, ctx.log, { label: `configuration:${name}` })
    return new RedisConfigurationStore(conn, settings, ctx.log, { name, pollIntervalMs })
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(redisConfigurationFactory)
}
