import type { Logger } from 'pino'
import { durationToMs } from '../../protobuf/duration.js'
import type { RuntimeApi } from '../../protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { ServiceInvoker } from '../../../envoy/runtime-api/invoker.js'
import type { RuntimeComponents, RuntimeHostApi } from '../../../envoy/runtime-api/runtime-host.js'

/** Envoy's default route timeout, used for invocations whose channel sets none. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 15_000

/**
 * What the API-neutral handlers work with: one runtime config's components on one thread, the
 * RuntimeHost, and the service invoker. Built once per filter config per thread and shared by
 * every connection, so handlers allocate nothing per call for it.
 */
export interface RuntimeApiContext {
  readonly config: RuntimeApi
  readonly components: RuntimeComponents
  readonly host: RuntimeHostApi
  /** This worker's ServiceInvoker; undefined on main or before the invoker is wired. */
  readonly invoker: ServiceInvoker | undefined
  /** The channel InvokeService uses (`rpcs`: the one named "default", else the first). */
  readonly invokeChannel: { listener: string; timeoutMs: number } | undefined
  /** `app.app_id`, or '' without an app section. */
  readonly appId: string
  readonly log: Logger
  /** Component capabilities by `<kind>/<name>`, learned once (GetMetadata). */
  readonly capabilities: Map<string, string[]>
}

export function createRuntimeApiContext(o: {
  config: RuntimeApi
  components: RuntimeComponents
  host: RuntimeHostApi
  invoker: ServiceInvoker | undefined
  log: Logger
}): RuntimeApiContext {
  const rpcs = Object.entries(o.config.rpcs ?? {})
  const channel = o.config.rpcs?.['default'] ?? rpcs[0]?.[1]
  return {
    config: o.config,
    components: o.components,
    host: o.host,
    invoker: o.invoker,
    invokeChannel: channel === undefined ? undefined : { listener: channel.listener, timeoutMs: durationToMs(channel.timeout, DEFAULT_INVOKE_TIMEOUT_MS) },
    appId: o.config.app?.app_id ?? '',
    log: o.log,
    capabilities: new Map(),
  }
}
