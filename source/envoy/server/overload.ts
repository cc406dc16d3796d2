/**
 * The overload manager's contracts (Envoy's envoy/server/overload/overload_manager.h and
 * resource_monitor.h). Main polls each resource monitor every `refresh_interval`, feeds the
 * pressures through each action's triggers and publishes the action states in shared memory;
 * every thread reads them through a ThreadLocalOverloadState without messages.
 */
import type { TypedFactory } from '../registry/registry.js'

/** Registry category of resource monitor factories. */
export const RESOURCE_MONITORS = 'resource monitor'

/** The overload actions envoy-ts implements; any other name is rejected at load time. */
export const OverloadActionNames = {
  /** Listeners stop accepting while the action is saturated (the kernel queues connections). */
  StopAcceptingConnections: 'envoy.overload_actions.stop_accepting_connections',
  /** The HCM answers with `connection: close`: always when saturated, by the scale when scaling. */
  DisableHttpKeepAlive: 'envoy.overload_actions.disable_http_keepalive',
} as const

/**
 * Resources a monitor can guard proactively: the core asks to allocate one before using it and
 * releases it after (Envoy's OverloadProactiveResourceName). The core names the resource, never
 * the monitor that implements it.
 */
export const ProactiveResources = {
  /** One open downstream connection on any listener that does not set ignore_global_conn_limit. */
  DownstreamConnections: 'downstream_connections',
} as const
export type ProactiveResource = (typeof ProactiveResources)[keyof typeof ProactiveResources]

/** A resource monitor built from one `overload_manager.resource_monitors` entry, on every thread. */
export interface ResourceMonitor {
  /** Main thread, every refresh_interval: the pressure in [0, 1]. Throwing counts failed_updates. */
  pressure(): number
  /** Set when the monitor guards a proactive resource (then the two methods below exist). */
  readonly proactiveResource?: ProactiveResource
  /** Any thread: takes `n` units if that keeps the resource within its limit (atomically). */
  tryAllocate?(n: number): boolean
  /** Any thread: gives back `n` units taken with tryAllocate. */
  deallocate?(n: number): void
}

/** What a monitor factory gets. */
export interface ResourceMonitorContext {
  /**
   * Process-wide int32 slots named by `key`, the same memory on main and every worker (main
   * creates them at load time and hands them to the workers it starts).
   */
  sharedInt32(key: string, length: number): Int32Array
}

/** A resource monitor extension (Envoy's ResourceMonitorFactory). */
export interface ResourceMonitorFactory<C = unknown> extends TypedFactory {
  /**
   * Builds the monitor from its validated `typed_config`. Called on main at load time and again
   * on each worker; throws ConfigError with field paths relative to typed_config.
   */
  createResourceMonitor(config: C, ctx: ResourceMonitorContext): ResourceMonitor
}

/** The state of one action: `value` in [0, 1]; saturated at 1 (Envoy's OverloadActionState). */
export interface OverloadActionState {
  readonly value: number
  readonly saturated: boolean
}

/** What a thread sees of the overload manager (Envoy's ThreadLocalOverloadState). */
export interface ThreadLocalOverloadState {
  /** The action's current state; inactive (0) when the action is not configured. */
  getState(action: string): OverloadActionState
  /** True (always) when no monitor guards `resource`; else whether one unit was taken. */
  tryAllocateResource(resource: ProactiveResource, n: number): boolean
  /** Gives back units taken with tryAllocateResource (a no-op when no monitor guards it). */
  deallocateResource(resource: ProactiveResource, n: number): void
  /** Whether a monitor guards `resource` (callers skip the bookkeeping otherwise). */
  isResourceMonitorEnabled(resource: ProactiveResource): boolean
}
