/**
 * MAGLEV (Envoy's MaglevLoadBalancer; Eisenbud et al., "Maglev: A Fast and Reliable Software
 * Network Load Balancer", NSDI 2016, pseudocode listing 1, with weights).
 *
 * Every host has a permutation of the table slots: `(offset + skip × j) mod M` for j = 0, 1, …,
 * with offset = xxHash64(key) mod M and skip = xxHash64(key, seed 1) mod (M − 1) + 1, where key
 * is the host's address (or hostname) and M the prime table size. Hosts take turns claiming the
 * next free slot of their permutation until the table is full; a host of normalized weight w
 * takes a turn in round r only once r × w has caught up with its claims so far (in units of the
 * largest weight), so slots end up proportional to weight. Lookup is `table[key mod M]`.
 *
 * The per-priority choice, panic and retries come from ThreadAwareLoadBalancerBase.
 */
import type { Host } from '../../../envoy/upstream/host.js'
import type { LoadBalancerFactoryParams } from '../../../envoy/upstream/load-balancer.js'
import type { Cluster } from '../../protobuf/generated/envoy/config/cluster/v3.js'
import { ErrorCode } from '../../errors/codes.js'
import { EnvoyTsError } from '../../errors/envoy-ts-error.js'
import { modParts, xxHash64Into } from './hash.js'
import type { Hash64Parts } from './hash.js'
import { ThreadAwareLoadBalancerBase, hostHashKey } from './ring-hash.js'
import type { HashTable, NormalizedHostWeights } from './ring-hash.js'

export const DEFAULT_TABLE_SIZE = 65537

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

/** `maglev_lb_config.table_size`, checked to be prime as Envoy requires. */
export function maglevTableSize(config: Cluster): number {
  const size = config.maglev_lb_config?.table_size ?? DEFAULT_TABLE_SIZE
  if (!isPrime(size)) {
    throw new EnvoyTsError(ErrorCode.CONFIG_INVALID, `cluster '${config.name}': the table size of maglev must be a prime number (got ${size})`)
  }
  return size
}

interface BuildEntry {
  readonly offset: number
  readonly skip: number
  readonly weight: number
  targetWeight: number
  next: number
}

export class MaglevTable implements HashTable {
  /** Host index per slot. */
  private readonly table: Uint32Array
  private readonly hosts: Host[]
  readonly tableSize: number

  constructor(weights: NormalizedHostWeights, tableSize: number, useHostname: boolean) {
    this.tableSize = tableSize
    this.hosts = weights.hosts
    const n = weights.hosts.length
    if (n === 0) {
      this.table = new Uint32Array(0)
      return
    }
    const out: Hash64Parts = { hi: 0, lo: 0 }
    const entries: BuildEntry[] = []
    for (let h = 0; h < n; h++) {
      const key = Buffer.from(hostHashKey(weights.hosts[h]!, useHostname), 'utf8')
      xxHash64Into(key, 0, 0, out)
      const offset = modParts(out.hi, out.lo, tableSize)
      xxHash64Into(key, 0, 1, out)
      const skip = modParts(out.hi, out.lo, tableSize - 1) + 1
      entries.push({ offset, skip, weight: weights.weights[h]!, targetWeight: 0, next: 0 })
    }
    // Slot owner + 1, so that 0 means free while building.
    const owner = new Uint32Array(tableSize)
    const max = weights.max
    let filled = 0
    for (let round = 1; filled < tableSize; round++) {
      for (let h = 0; h < n && filled < tableSize; h++) {
        const e = entries[h]!
        if (round * e.weight < e.targetWeight) continue
        e.targetWeight += max
        let slot = (e.offset + e.skip * e.next) % tableSize
        while (owner[slot] !== 0) {
          e.next++
          slot = (e.offset + e.skip * e.next) % tableSize
        }
        owner[slot] = h + 1
        e.next++
        filled++
      }
    }
    for (let i = 0; i < tableSize; i++) owner[i]! -= 1
    this.table = owner
  }

  get size(): number {
    return this.table.length
  }

  /** How many slots each host owns; for stats and tests. */
  slotsPerHost(): Map<Host, number> {
    const m = new Map<Host, number>()
    for (const i of this.table) m.set(this.hosts[i]!, (m.get(this.hosts[i]!) ?? 0) + 1)
    return m
  }

  chooseHost(hi: number, lo: number, attempt: number): Host | undefined {
    if (this.table.length === 0) return undefined
    if (attempt > 0) {
      // On a retry, flip most bits of the key (xor with 2^64 − attempt) to land far away.
      hi = (hi ^ 0xffffffff) >>> 0
      lo = (lo ^ (0x1_0000_0000 - attempt)) >>> 0
    }
    return this.hosts[this.table[modParts(hi, lo, this.tableSize)]!]
  }
}

export class MaglevLoadBalancer extends ThreadAwareLoadBalancerBase {
  constructor(params: LoadBalancerFactoryParams) {
    const tableSize = maglevTableSize(params.config)
    super(params, (weights, useHostname) => new MaglevTable(weights, tableSize, useHostname))
  }
}
