import type { Logger } from 'pino'
import type { TypedFactory } from '../registry/registry.js'
import type { ComponentKind, ComponentTypes } from './components.js'

/**
 * A runtime component implementation (Layotto/Dapr "component type"), registered by name
 * `<kind>.<type>` (e.g. `state.in-memory`, `lock.redis`, `secretstores.local.file`) in the
 * registry category RUNTIME_COMPONENTS. `configType` repeats the name (components have no typed
 * config of their own: their settings are the Struct `metadata`).
 */
export interface RuntimeComponentFactory<K extends ComponentKind = ComponentKind> extends TypedFactory {
  readonly kind: K
  /** The type as written in config (`in-memory`); `<kind>.<type>` is accepted too. */
  readonly type: string
  /**
   * True: one instance for the whole process, on main (in-memory stores, local files), reached
   * from workers through the RuntimeHost. False: one instance per thread that uses it (network
   * clients such as Redis).
   */
  readonly embedded: boolean
  /**
   * Checks `metadata` and builds the component. Throws ConfigError naming `path` for missing or
   * bad metadata. Must not do I/O synchronously; connections open lazily or in the background.
   */
  create(name: string, metadata: Record<string, unknown>, ctx: RuntimeComponentContext, path: string): ComponentTypes[K]
}

export interface RuntimeComponentContext {
  readonly log: Logger
  /** The app this runtime serves, for components that call it (input bindings). */
  readonly appId: string
}

/** Registry category name for runtime components. */
export const RUNTIME_COMPONENTS = 'runtime component'
