import { VERSION } from '../../version.js'
import type { RuntimeAppSubscription } from '../../../envoy/runtime-api/host-rpc.js'
import type { RuntimeApiContext } from './context.js'
import { invalid } from './errors.js'

export interface MetadataView {
  id: string
  runtimeVersion: string
  components: Array<{ name: string; type: string; version: string; capabilities: string[] }>
  extended: Record<string, string>
  subscriptions: RuntimeAppSubscription[]
  appConnection: { port: number; protocol: string; channelAddress: string }
}

async function capabilities(ctx: RuntimeApiContext, kind: string, name: string): Promise<string[]> {
  const key = `${kind}/${name}`
  const known = ctx.capabilities.get(key)
  if (known !== undefined) return known
  const c = kind === 'state' || kind === 'pubsub' ? ctx.components.get(kind, name) : undefined
  if (c === undefined) return []
  try {
    const features = await c.features()
    ctx.capabilities.set(key, features)
    return features
  } catch {
    return []
  }
}

/**
 * Dapr's GetMetadata: the app id, the components with their capabilities, the extended
 * metadata (SetMetadata's keys plus `app-port` and `daprRuntimeVersion`), the app's pub/sub
 * subscriptions and its connection. No actors.
 */
export async function getMetadata(ctx: RuntimeApiContext): Promise<MetadataView> {
  const list = ctx.components.list()
  const [extended, subscriptions, caps] = await Promise.all([
    ctx.host.getMetadata(),
    ctx.host.subscriptions(ctx.appId),
    Promise.all(list.map((c) => capabilities(ctx, c.kind, c.name))),
  ])
  const app = ctx.config.app
  const protocol = app?.app_protocol === 'GRPC' ? 'grpc' : 'http'
  const runtimeVersion = `envoy-ts-${VERSION}`
  return {
    id: ctx.appId,
    runtimeVersion,
    components: list.map((c, i) => ({ name: c.name, type: c.type, version: 'v1', capabilities: caps[i]! })),
    extended: { daprRuntimeVersion: runtimeVersion, 'app-port': String(app?.app_port ?? 0), ...extended },
    subscriptions,
    appConnection: { port: app?.app_port ?? 0, protocol, channelAddress: app?.app_host !== undefined && app.app_host !== '' ? app.app_host : '127.0.0.1' },
  }
}

/** Dapr's SetMetadata: one extended metadata key, shared by every thread. */
export async function setMetadata(ctx: RuntimeApiContext, key: string, value: string): Promise<void> {
  if (key === '') throw invalid('ERR_MALFORMED_REQUEST', 'metadata key is empty')
  await ctx.host.setMetadata(key, value)
}

/** Dapr's Shutdown: a graceful shutdown of the whole process (it answers first). */
export function shutdown(ctx: RuntimeApiContext): void {
  setImmediate(() => ctx.host.shutdown())
}
