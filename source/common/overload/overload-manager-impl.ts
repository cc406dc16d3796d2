import type { Logger } from 'pino'
import type { OverloadManager, Trigger } from '../protobuf/generated/envoy/config/overload/v3.js'
import type { Registry } from '../../envoy/registry/registry.js'
import {
  type OverloadActionState, OverloadActionNames, type ProactiveResource, RESOURCE_MONITORS, type ResourceMonitor,
  type ResourceMonitorFactory, type ThreadLocalOverloadState,
} from '../../envoy/server/overload.js'
import type { Counter, Gauge, Scope } from '../../envoy/stats/stats.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { durationToMs } from '../protobuf/duration.js'
import { sharedInt32 } from '../shared/shared-counters.js'

/** Envoy's default refresh_interval. */
const DEFAULT_REFRESH_MS = 1000
/** Action values are kept in shared int32 slots as parts per million. */
const SCALE = 1_000_000
const ACTIONS_KEY = 'overload_manager/actions'
const IMPLEMENTED_ACTIONS: ReadonlySet<string> = new Set(Object.values(OverloadActionNames))
const INACTIVE: OverloadActionState = { value: 0, saturated: false }

interface BuiltAction {
  name: string
  triggers: Trigger[]
}

/** The validated overload_manager config with its monitors built on this thread. */
interface BuiltOverload {
  refreshMs: number
  monitors: Map<string, ResourceMonitor>
  actions: BuiltAction[]
}

/**
 * Validates `overload_manager` and builds its monitors through the registry, collecting every
 * problem with its field path (Envoy: unknown monitor, duplicate names, trigger naming an
 * unknown resource; envoy-ts also refuses actions it does not implement).
 */
function buildOverload(config: OverloadManager | undefined, registry: Registry, path = 'overload_manager'): BuiltOverload {
  const out: BuiltOverload = { refreshMs: DEFAULT_REFRESH_MS, monitors: new Map(), actions: [] }
  if (config === undefined) return out
  const errors: string[] = []
  let code: string | undefined
  const fail = (c: string, m: string): void => {
    code ??= c
    errors.push(m)
  }
  out.refreshMs = durationToMs(config.refresh_interval, DEFAULT_REFRESH_MS)
  if (config.refresh_interval !== undefined && out.refreshMs <= 0) fail(ErrorCode.CONFIG_INVALID, `${path}.refresh_interval: must be greater than 0`)
  const category = registry.category<ResourceMonitorFactory>(RESOURCE_MONITORS)
  const ctx = { sharedInt32 }
  const proactive = new Set<string>()
  config.resource_monitors.forEach((m, i) => {
    const at = `${path}.resource_monitors[${i}]`
    if (out.monitors.has(m.name)) return fail(ErrorCode.CONFIG_INVALID, `${at}.name: duplicate resource monitor '${m.name}'`)
    const typeUrl = m.typed_config?.['@type']
    const factory = category.lookup(m.name, typeUrl)
    if (factory === undefined) {
      const type = typeUrl === undefined ? '' : ` with type URL: '${typeUrl}'`
      return fail(ErrorCode.EXTENSION_UNKNOWN, `${at}: Didn't find a registered implementation for name: '${m.name}'${type}`)
    }
    try {
      const monitor = factory.createResourceMonitor(m.typed_config ?? {}, ctx)
      if (monitor.proactiveResource !== undefined) {
        if (proactive.has(monitor.proactiveResource)) return fail(ErrorCode.CONFIG_INVALID, `${at}: a second monitor for ${monitor.proactiveResource}`)
        proactive.add(monitor.proactiveResource)
      }
      out.monitors.set(m.name, monitor)
    } catch (err) {
      const list = (err as { errors?: unknown }).errors
      const messages = Array.isArray(list) ? (list as string[]) : [(err as Error).message]
      for (const msg of messages) fail((err as { code?: string }).code ?? ErrorCode.CONFIG_INVALID, `${at}.typed_config.${msg}`)
    }
  })
  const actionNames = new Set<string>()
  config.actions.forEach((a, i) => {
    const at = `${path}.actions[${i}]`
    if (!IMPLEMENTED_ACTIONS.has(a.name)) {
      return fail(ErrorCode.CONFIG_INVALID, `${at}.name: unsupported overload action '${a.name}' (envoy-ts implements ${[...IMPLEMENTED_ACTIONS].join(', ')})`)
    }
    if (actionNames.has(a.name)) return fail(ErrorCode.CONFIG_INVALID, `${at}.name: duplicate overload action '${a.name}'`)
    actionNames.add(a.name)
    if (a.typed_config !== undefined) fail(ErrorCode.CONFIG_INVALID, `${at}.typed_config: '${a.name}' takes no typed_config`)
    const seen = new Set<string>()
    a.triggers.forEach((t, j) => {
      const tat = `${at}.triggers[${j}]`
      if (!config.resource_monitors.some((m) => m.name === t.name)) fail(ErrorCode.CONFIG_INVALID, `${tat}.name: unknown trigger resource '${t.name}'`)
      if (seen.has(t.name)) fail(ErrorCode.CONFIG_INVALID, `${tat}.name: duplicate trigger resource '${t.name}'`)
      seen.add(t.name)
      if (t.scaled !== undefined && t.scaled.scaling_threshold >= t.scaled.saturation_threshold) {
        fail(ErrorCode.CONFIG_INVALID, `${tat}.scaled: scaling_threshold must be less than saturation_threshold`)
      }
    })
    out.actions.push({ name: a.name, triggers: a.triggers })
  })
  if (errors.length > 0) throw new ConfigError(code ?? ErrorCode.CONFIG_INVALID, errors)
  return out
}

/** A trigger's output for a pressure: Envoy's ThresholdTriggerImpl / ScaledTriggerImpl. */
function triggerValue(t: Trigger, pressure: number): number {
  if (t.threshold !== undefined) return pressure >= t.threshold.value ? 1 : 0
  const s = t.scaled!
  if (pressure < s.scaling_threshold) return 0
  if (pressure >= s.saturation_threshold) return 1
  return (pressure - s.scaling_threshold) / (s.saturation_threshold - s.scaling_threshold)
}

/** Reads action states and proactive resources; the same on every thread. */
export class ThreadLocalOverloadStateImpl implements ThreadLocalOverloadState {
  protected readonly built: BuiltOverload
  protected readonly values: Int32Array
  private readonly actionIndex = new Map<string, number>()
  private readonly proactive = new Map<string, ResourceMonitor>()

  /** Builds (validates) `config`; throws ConfigError naming the bad fields. */
  constructor(config: OverloadManager | undefined, registry: Registry) {
    this.built = buildOverload(config, registry)
    this.values = sharedInt32(ACTIONS_KEY, Math.max(1, this.built.actions.length))
    this.built.actions.forEach((a, i) => this.actionIndex.set(a.name, i))
    for (const m of this.built.monitors.values()) if (m.proactiveResource !== undefined) this.proactive.set(m.proactiveResource, m)
  }

  // Server.ThreadLocalOverloadState
  getState(action: string): OverloadActionState {
    const i = this.actionIndex.get(action)
    if (i === undefined) return INACTIVE
    const v = Atomics.load(this.values, i)
    return v <= 0 ? INACTIVE : { value: v / SCALE, saturated: v >= SCALE }
  }

  tryAllocateResource(resource: ProactiveResource, n: number): boolean {
    const m = this.proactive.get(resource)
    return m?.tryAllocate === undefined ? true : m.tryAllocate(n)
  }

  deallocateResource(resource: ProactiveResource, n: number): void {
    this.proactive.get(resource)?.deallocate?.(n)
  }

  isResourceMonitorEnabled(resource: ProactiveResource): boolean {
    return this.proactive.has(resource)
  }

  /** How often main re-evaluates (workers apply listener actions at the same pace). */
  refreshIntervalMs(): number {
    return this.built.refreshMs
  }
}

interface MonitorStats { pressure: Gauge; failedUpdates: Counter }
interface ActionStats { active: Gauge; scalePercent: Gauge }

/**
 * The overload manager on main (Envoy's OverloadManagerImpl): every refresh_interval it reads
 * each monitor's pressure, evaluates the triggers (an action's value is its largest trigger's)
 * and publishes the values. Stats: `overload.<monitor>.pressure` (percent) and
 * `failed_updates`; `overload.<action>.active` (1 while saturated) and `scale_percent`.
 */
export class OverloadManagerImpl extends ThreadLocalOverloadStateImpl {
  private timer: NodeJS.Timeout | undefined

  /** Starts refreshing; main thread only. */
  start(scope: Scope, log: Logger): void {
    if (this.built.monitors.size === 0) return
    const monitors = [...this.built.monitors].map(([name, m]) => ({
      name, m, stats: { pressure: scope.gauge(`overload.${name}.pressure`), failedUpdates: scope.counter(`overload.${name}.failed_updates`) } as MonitorStats,
      last: 0,
    }))
    const actions = this.built.actions.map((a) => ({
      a, stats: { active: scope.gauge(`overload.${a.name}.active`), scalePercent: scope.gauge(`overload.${a.name}.scale_percent`) } as ActionStats,
    }))
    const refresh = (): void => {
      const pressures = new Map<string, number>()
      for (const mon of monitors) {
        try {
          const p = mon.m.pressure()
          mon.last = Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : mon.last
        } catch (err) {
          mon.stats.failedUpdates.inc()
          log.debug({ monitor: mon.name, err }, 'resource monitor update failed')
        }
        mon.stats.pressure.set(Math.round(mon.last * 100))
        pressures.set(mon.name, mon.last)
      }
      actions.forEach(({ a, stats }, i) => {
        let v = 0
        for (const t of a.triggers) v = Math.max(v, triggerValue(t, pressures.get(t.name) ?? 0))
        const before = Atomics.exchange(this.values, i, Math.round(v * SCALE))
        stats.active.set(v >= 1 ? 1 : 0)
        stats.scalePercent.set(v >= 1 ? 100 : Math.floor(v * 100))
        if ((before >= SCALE) !== (v >= 1)) log.info({ action: a.name, active: v >= 1 }, 'overload action state changed')
      })
    }
    refresh()
    this.timer = setInterval(refresh, this.built.refreshMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
