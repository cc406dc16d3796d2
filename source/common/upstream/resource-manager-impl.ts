/**
 * Circuit breakers held across threads (Envoy's ResourceManagerImpl). The counts live in the
 * cluster snapshot's `resources` SharedArrayBuffer, so every worker's ResourceManagerImpl of a
 * cluster acquires from the same budget; each thread keeps its own gauges (see ResourceImpl).
 */
import type { Gauge, Scope } from '../../envoy/stats/stats.js'
import type { Resource, ResourceManager, ResourcePriority } from '../../envoy/upstream/cluster-info.js'
import type { Cluster, CircuitBreakers_Thresholds } from '../protobuf/generated/envoy/config/cluster/v3.js'

/** The resources of one priority, in their order inside the shared buffer. */
export const RESOURCE_NAMES = ['connections', 'pendingRequests', 'requests', 'retries', 'connectionPools'] as const
export type ResourceName = (typeof RESOURCE_NAMES)[number]

export const RESOURCE_PRIORITIES: readonly ResourcePriority[] = ['default', 'high']

/** Envoy's "unlimited" for `max_connection_pools` (the uint32 range of the config field). */
export const UNLIMITED = 0xffffffff

/** Bytes of a cluster's `resources` buffer: one Int32 count per resource and priority. */
export const RESOURCES_BYTES = RESOURCE_PRIORITIES.length * RESOURCE_NAMES.length * 4

/** A zeroed buffer for a new cluster; main creates it once per cluster and never replaces it. */
export function createResourcesBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(RESOURCES_BYTES)
}

export interface ResourceLimits {
  readonly max_connections: number
  readonly max_pending_requests: number
  readonly max_requests: number
  readonly max_retries: number
  readonly max_connection_pools: number
  readonly track_remaining: boolean
}

/** `circuit_breakers.thresholds` for a priority: the first entry with that priority, else Envoy's defaults. */
export function resourceLimits(config: Cluster, priority: ResourcePriority): ResourceLimits {
  const want = priority === 'high' ? 'HIGH' : 'DEFAULT'
  const t: CircuitBreakers_Thresholds | undefined = config.circuit_breakers?.thresholds.find((x) => x.priority === want)
  return {
    max_connections: t?.max_connections ?? 1024,
    max_pending_requests: t?.max_pending_requests ?? 1024,
    max_requests: t?.max_requests ?? 1024,
    max_retries: t?.max_retries ?? 3,
    max_connection_pools: t?.max_connection_pools ?? UNLIMITED,
    track_remaining: t?.track_remaining ?? false,
  }
}

/** Per resource: the config field of its max and the names of its `circuit_breakers.<priority>.*` gauges. */
const RESOURCE_STATS: Record<ResourceName, { max: keyof Omit<ResourceLimits, 'track_remaining'>; open: string; remaining: string }> = {
  connections: { max: 'max_connections', open: 'cx_open', remaining: 'remaining_cx' },
  pendingRequests: { max: 'max_pending_requests', open: 'rq_pending_open', remaining: 'remaining_pending' },
  requests: { max: 'max_requests', open: 'rq_open', remaining: 'remaining_rq' },
  retries: { max: 'max_retries', open: 'rq_retry_open', remaining: 'remaining_retries' },
  connectionPools: { max: 'max_connection_pools', open: 'cx_pool_open', remaining: 'remaining_cx_pools' },
}

/**
 * One budget. `tryAcquire` is an `Atomics.add` that is undone when it went over the max, so two
 * threads racing for the last unit cannot both win.
 *
 * Gauges: `<open>` is 1 while count ≥ max, `<remaining>` is max − min(count, max). Every thread
 * writes only its own stat shard, so each thread adds the *change* its own atomic step caused
 * (decided from the value that step returned); the steps are totally ordered, so the sum over
 * shards is exact. The starting values (0 or 1 open, max remaining) are set once, by main.
 */
export class ResourceImpl implements Resource {
  private readonly counts: Int32Array
  private readonly index: number
  private readonly limit: number
  private readonly open: Gauge | undefined
  private readonly remaining: Gauge | undefined

  constructor(counts: Int32Array, index: number, limit: number, open?: Gauge, remaining?: Gauge) {
    this.counts = counts
    this.index = index
    this.limit = limit
    this.open = open
    this.remaining = remaining
  }

  tryAcquire(): boolean {
    const before = Atomics.add(this.counts, this.index, 1)
    this.stepped(before, 1)
    if (before < this.limit) return true
    this.stepped(Atomics.sub(this.counts, this.index, 1), -1)
    return false
  }

  release(): void {
    this.stepped(Atomics.sub(this.counts, this.index, 1), -1)
  }

  count(): number {
    return Atomics.load(this.counts, this.index)
  }

  max(): number {
    return this.limit
  }

  /** Sets the starting gauge values; main thread only, once per cluster. */
  initializeGauges(): void {
    this.open?.set(this.count() >= this.limit ? 1 : 0)
    this.remaining?.set(this.limit - Math.min(this.count(), this.limit))
  }

  private stepped(before: number, delta: 1 | -1): void {
    const max = this.limit
    if (delta === 1) {
      if (before === max - 1) this.open?.inc()
      if (before < max) this.remaining?.dec()
    } else {
      if (before === max) this.open?.dec()
      if (before <= max) this.remaining?.inc()
    }
  }
}

export interface ResourceManagerOptions {
  /** The cluster snapshot's `resources` buffer. */
  buffer: SharedArrayBuffer
  priority: ResourcePriority
  limits: ResourceLimits
  /** The cluster's scope (`cluster.<name>.`); gauges go under `circuit_breakers.<priority>.`. */
  scope?: Scope
}

export class ResourceManagerImpl implements ResourceManager {
  readonly priority: ResourcePriority
  readonly limits: ResourceLimits
  readonly connections: ResourceImpl
  readonly pendingRequests: ResourceImpl
  readonly requests: ResourceImpl
  readonly retries: ResourceImpl
  readonly connectionPools: ResourceImpl

  constructor(o: ResourceManagerOptions) {
    this.priority = o.priority
    this.limits = o.limits
    const p = RESOURCE_PRIORITIES.indexOf(o.priority)
    const counts = new Int32Array(o.buffer, p * RESOURCE_NAMES.length * 4, RESOURCE_NAMES.length)
    const cb = o.scope?.createScope(`circuit_breakers.${o.priority}`)
    const make = (name: ResourceName): ResourceImpl => {
      const s = RESOURCE_STATS[name]
      const open = cb?.gauge(s.open)
      const remaining = o.limits.track_remaining ? cb?.gauge(s.remaining) : undefined
      return new ResourceImpl(counts, RESOURCE_NAMES.indexOf(name), o.limits[s.max], open, remaining)
    }
    this.connections = make('connections')
    this.pendingRequests = make('pendingRequests')
    this.requests = make('requests')
    this.retries = make('retries')
    this.connectionPools = make('connectionPools')
  }

  /** See ResourceImpl.initializeGauges. */
  initializeGauges(): void {
    for (const name of RESOURCE_NAMES) this[name].initializeGauges()
  }
}
