/**
 * RING_HASH (Envoy's RingHashLoadBalancer, a Ketama-style consistent hash), plus the base it
 * shares with MAGLEV (Envoy's ThreadAwareLoadBalancerBase).
 *
 * Shared base: one table per priority, built from that level's healthy hosts (all hosts when the
 * level panics), host weights normalized to sum to 1 (times the locality share when
 * locality-weighted). A pick uses the request's 64-bit hash key (a random one when there is
 * none) both to choose the priority (`key % 100` against the priority load) and to look up the
 * table; on a retry the table is asked for an alternative (`attempt` > 0).
 *
 * Ring: each host gets about `scale × normalized weight` points, where `scale` gives the lightest
 * host ⌈min_weight × minimum_ring_size⌉ points, capped at maximum_ring_size in total; point j of
 * a host is the hash of `"<address>_<j>"`. A key maps to the first point at or after it on the
 * ring, wrapping around. Removing a host only remaps the keys that landed on its points.
 *
 * TODO: consistent_hashing_lb_config.hash_balance_factor (bounded loads) is not implemented.
 */
import type { Host, HostSet } from '../../../envoy/upstream/host.js'
import type { LoadBalancer, LoadBalancerContext, LoadBalancerFactoryParams } from '../../../envoy/upstream/load-balancer.js'
import type { Cluster, Cluster_RingHashLbConfig_HashFunction } from '../../protobuf/generated/envoy/config/cluster/v3.js'
import { ErrorCode } from '../../errors/codes.js'
import { EnvoyTsError } from '../../errors/envoy-ts-error.js'
import { bigIntToParts, modParts, murmurHash2Into, xxHash64Into } from './hash.js'
import type { Hash64Parts } from './hash.js'
import { PriorityLoad, priorityLoadOptions } from './priority-load.js'

export const DEFAULT_MIN_RING_SIZE = 1024
export const DEFAULT_MAX_RING_SIZE = 8 * 1024 * 1024

/** Hosts with weights normalized to sum to 1, and the extremes. */
export interface NormalizedHostWeights {
  readonly hosts: Host[]
  readonly weights: number[]
  min: number
  max: number
}

function addNormalized(out: NormalizedHostWeights, hosts: readonly Host[], share: number): void {
  let sum = 0
  for (const h of hosts) sum += h.weight
  if (sum === 0) return
  for (const h of hosts) {
    const w = (h.weight * share) / sum
    out.hosts.push(h)
    out.weights.push(w)
    out.min = Math.min(out.min, w)
    out.max = Math.max(out.max, w)
  }
}

/**
 * The level's hosts to hash over (healthy, or all in panic) with normalized weights. With
 * locality weighting each locality's share is its `load_balancing_weight` over the sum; localities
 * of weight 0 are left out.
 */
export function normalizeHostWeights(set: HostSet, panic: boolean, localityWeighted: boolean): NormalizedHostWeights {
  const out: NormalizedHostWeights = { hosts: [], weights: [], min: 1, max: 0 }
  if (!localityWeighted || set.localityWeights.length === 0) {
    addNormalized(out, panic ? set.hosts : set.healthyHosts, 1)
    return out
  }
  const perLocality = panic ? set.hostsPerLocality : set.healthyHostsPerLocality
  let sum = 0
  for (const w of set.localityWeights) sum += w
  if (sum === 0) return out
  for (let i = 0; i < set.localityWeights.length; i++) {
    const w = set.localityWeights[i]!
    if (w !== 0) addNormalized(out, perLocality[i] ?? [], w / sum)
  }
  return out
}

/** The key a host is hashed by: its hostname or its address string. */
export function hostHashKey(host: Host, useHostname: boolean): string {
  return useHostname && host.hostname !== '' ? host.hostname : host.addressString
}

/** A built lookup table for one priority. */
export interface HashTable {
  readonly size: number
  /** The host for key `hi:lo`; `attempt` > 0 asks for an alternative on a retry. */
  chooseHost(hi: number, lo: number, attempt: number): Host | undefined
}

export type HashTableFactory = (weights: NormalizedHostWeights, useHostname: boolean) => HashTable

export abstract class ThreadAwareLoadBalancerBase implements LoadBalancer {
  readonly priorityLoad: PriorityLoad
  /** One table per priority level. */
  readonly tables: HashTable[] = []
  private readonly random: () => number
  private readonly key: Hash64Parts = { hi: 0, lo: 0 }
  private readonly onPanic: (() => void) | undefined

  constructor(params: LoadBalancerFactoryParams, createTable: HashTableFactory) {
    this.random = params.random ?? Math.random
    this.onPanic = params.onPanic
    const options = priorityLoadOptions(params.config)
    this.priorityLoad = new PriorityLoad(params.prioritySet, options, this.random)
    const useHostname = params.config.common_lb_config?.consistent_hashing_lb_config?.use_hostname_for_hashing === true
    const sets = params.prioritySet.hostSetsPerPriority
    for (let p = 0; p < sets.length; p++) {
      const weights = normalizeHostWeights(sets[p]!, this.priorityLoad.perPriorityPanic[p]!, options.localityWeighted)
      this.tables.push(createTable(weights, useHostname))
    }
  }

  // LoadBalancer
  chooseHost(context: LoadBalancerContext | undefined): Host | undefined {
    const hash = context?.computeHashKey?.()
    const key = this.key
    if (hash === undefined) {
      key.hi = Math.floor(this.random() * 0x1_0000_0000)
      key.lo = Math.floor(this.random() * 0x1_0000_0000)
    } else {
      bigIntToParts(hash, key)
    }
    const source = this.priorityLoad.sourceForBucket(modParts(key.hi, key.lo, 100))
    if (source === undefined) return undefined
    if (source.panic) this.onPanic?.()
    const table = this.tables[source.priority]!
    const attempts = context?.shouldSelectAnotherHost === undefined ? 1 : (context.hostSelectionRetryCount ?? 0) + 1
    let host: Host | undefined
    for (let i = 0; i < attempts; i++) {
      host = table.chooseHost(key.hi, key.lo, i)
      if (host === undefined || context?.shouldSelectAnotherHost?.(host) !== true) return host
    }
    return host
  }
}

export class Ring implements HashTable {
  private readonly hashHi: Uint32Array
  private readonly hashLo: Uint32Array
  private readonly hostIndex: Uint32Array
  private readonly hosts: Host[]

  constructor(weights: NormalizedHostWeights, minRingSize: number, maxRingSize: number, hashFunction: Cluster_RingHashLbConfig_HashFunction, useHostname: boolean) {
    this.hosts = weights.hosts
    const n = weights.hosts.length
    if (n === 0) {
      this.hashHi = this.hashLo = this.hostIndex = new Uint32Array(0)
      return
    }
    const scale = Math.min(Math.ceil(weights.min * minRingSize) / weights.min, maxRingSize)
    const capacity = Math.ceil(scale) + n
    const his = new Uint32Array(capacity)
    const los = new Uint32Array(capacity)
    const owners = new Uint32Array(capacity)
    const out: Hash64Parts = { hi: 0, lo: 0 }
    const murmur = hashFunction === 'MURMUR_HASH_2'
    // Running sums keep the total close to `scale` when per-host counts are fractional.
    let current = 0
    let target = 0
    let size = 0
    for (let h = 0; h < n; h++) {
      const prefix = `${hostHashKey(weights.hosts[h]!, useHostname)}_`
      target += scale * weights.weights[h]!
      for (let j = 0; current < target && size < capacity; j++, current++) {
        const bytes = Buffer.from(prefix + j, 'utf8')
        if (murmur) murmurHash2Into(bytes, 0, 0xc70f6907, out)
        else xxHash64Into(bytes, 0, 0, out)
        his[size] = out.hi
        los[size] = out.lo
        owners[size] = h
        size++
      }
    }
    const order = new Uint32Array(size)
    for (let i = 0; i < size; i++) order[i] = i
    order.sort((a, b) => his[a]! - his[b]! || los[a]! - los[b]!)
    this.hashHi = new Uint32Array(size)
    this.hashLo = new Uint32Array(size)
    this.hostIndex = new Uint32Array(size)
    for (let i = 0; i < size; i++) {
      const from = order[i]!
      this.hashHi[i] = his[from]!
      this.hashLo[i] = los[from]!
      this.hostIndex[i] = owners[from]!
    }
  }

  get size(): number {
    return this.hashHi.length
  }

  /** How many ring points each host got, by host; for stats and tests. */
  pointsPerHost(): Map<Host, number> {
    const m = new Map<Host, number>()
    for (const i of this.hostIndex) m.set(this.hosts[i]!, (m.get(this.hosts[i]!) ?? 0) + 1)
    return m
  }

  chooseHost(hi: number, lo: number, attempt: number): Host | undefined {
    const size = this.hashHi.length
    if (size === 0) return undefined
    // First point with hash >= key.
    let first = 0
    let last = size
    while (first < last) {
      const mid = (first + last) >>> 1
      const mh = this.hashHi[mid]!
      if (mh < hi || (mh === hi && this.hashLo[mid]! < lo)) first = mid + 1
      else last = mid
    }
    let index = first === size ? 0 : first
    // A retry behaves as if the chosen point were not on the ring by stepping past it; this does
    // not guarantee a different host.
    if (attempt > 0) index = (index + attempt) % size
    return this.hosts[this.hostIndex[index]!]
  }
}

/** Ring sizes from `ring_hash_lb_config`, checked the way Envoy checks them. */
export function ringHashSettings(config: Cluster): { minRingSize: number; maxRingSize: number; hashFunction: Cluster_RingHashLbConfig_HashFunction } {
  const cfg = config.ring_hash_lb_config
  const minRingSize = cfg?.minimum_ring_size ?? DEFAULT_MIN_RING_SIZE
  const maxRingSize = cfg?.maximum_ring_size ?? DEFAULT_MAX_RING_SIZE
  if (minRingSize > maxRingSize) {
    throw new EnvoyTsError(ErrorCode.CONFIG_INVALID, `cluster '${config.name}': ring hash: minimum_ring_size (${minRingSize}) > maximum_ring_size (${maxRingSize})`)
  }
  if (minRingSize < 1) {
    throw new EnvoyTsError(ErrorCode.CONFIG_INVALID, `cluster '${config.name}': ring hash: minimum_ring_size must be at least 1`)
  }
  return { minRingSize, maxRingSize, hashFunction: cfg?.hash_function ?? 'XX_HASH' }
}

export class RingHashLoadBalancer extends ThreadAwareLoadBalancerBase {
  constructor(params: LoadBalancerFactoryParams) {
    const s = ringHashSettings(params.config)
    super(params, (weights, useHostname) => new Ring(weights, s.minRingSize, s.maxRingSize, s.hashFunction, useHostname))
  }
}
