import type { Logger } from 'pino'
import type { BufferInstance } from '../buffer/buffer.js'
import type { Registry, TypedFactory } from '../registry/registry.js'
import type { Scope } from '../stats/stats.js'
import type { Address } from './address.js'
import type { FilterStatusValue } from './filter.js'

/** The accepted socket as listener filters see it (Envoy's ListenerFilterCallbacks). */
export interface ListenerFilterCallbacks {
  readonly localAddress: Address
  remoteAddress: Address
  readonly directRemoteAddress: Address
  /** Rewrites the addresses (PROXY protocol). */
  restoreLocalAddress(a: Address): void
  setRemoteAddress(a: Address): void
  /** Stores data for later filters and access logs (`%DYNAMIC_METADATA%`). */
  setDynamicMetadata(namespace: string, value: Record<string, unknown>): void
  /** Resumes the chain after StopIteration. */
  continueFilterChain(success: boolean): void
}

/**
 * Runs between accept and filter-chain match (Envoy's Network::ListenerFilter). `onData` sees
 * the bytes read so far; it drains what it consumes (a PROXY header) and the rest goes to the
 * network filters.
 */
export interface ListenerFilter {
  onAccept(cb: ListenerFilterCallbacks): FilterStatusValue
  onData(data: BufferInstance): FilterStatusValue
  /** How many bytes `onData` needs at most; 0 means the filter does not read. */
  maxReadBytes(): number
  /** Called when the peer closes before the filter finished. */
  onClose?(): void
}

export interface ListenerFilterFactoryContext {
  /** The thread's root scope (Envoy puts e.g. `proxy_proto.*` at the root). */
  readonly scope: Scope
  readonly listenerScope: Scope
  readonly log: Logger
  readonly registry: Registry
}

export type ListenerFilterFactoryCb = () => ListenerFilter

export interface NamedListenerFilterConfigFactory extends TypedFactory {
  createListenerFilterFactory(config: unknown, ctx: ListenerFilterFactoryContext, path: string): ListenerFilterFactoryCb
}

/** Registry category name for listener filters. */
export const LISTENER_FILTERS = 'listener filter'
