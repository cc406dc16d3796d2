import { MetadataReader, parseRedisSettings } from '../../../../common/runtime-api/redis/metadata.js'
import { RedisConnection } from '../../../../common/runtime-api/redis/redis-connection.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { RedisPubSub } from './redis-pubsub.js'

export const redisPubSubFactory: RuntimeComponentFactory<'pubsub'> = {
  name: 'pubsub.redis',
  configType: 'pubsub.redis',
  kind: 'pubsub',
  type: 'redis',
  embedded: false,
  create(name, metadata, ctx, path) {
    const md = new MetadataReader(metadata, path)
    const settings = parseRedisSettings(md)
    const consumerID = md.string('consumerID')?.trim() ?? ''
    const group = consumerID !== '' ? consumerID : ctx.appId
    if (group === '') throw md.invalid('consumerID', 'value is required when the runtime has no app id')
    const maxLen = md.int('maxLenApprox', 0, 0)
    const processingTimeoutMs = md.durationMs('processingTimeout', 15_000)
    const redeliverIntervalMs = md.durationMs('redeliverInterval', 60_000)
    const conn = new RedisConnection(settings, ctx.log, { label: `pubsub:${name}` })
    return new RedisPubSub(conn, settings, ctx.log, {
      name,
      consumerGroup: group,
      maxLenApprox: maxLen > 0 ? maxLen : undefined,
      processingTimeoutMs: Math.max(0, processingTimeoutMs),
      redeliverIntervalMs: Math.max(0, redeliverIntervalMs),
      queueDepth: md.int('queueDepth', 100, 1, 100_000),
      concurrency: md.int('concurrency', 10, 1, 10_000),
    })
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(redisPubSubFactory)
}
