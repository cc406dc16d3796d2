/**
 * Picks a listener's filter chain for a new connection by `filter_chain_match`, the way Envoy's
 * FilterChainManagerImpl does.
 *
 * At config time the chains are arranged in a tree with one level per criterion, in Envoy's order:
 * destination port → destination IP → (server name, transport protocol, application protocols:
 * not implemented, every chain sits on their "unset" branch) → direct source IP → source type →
 * source IP → source port. A lookup walks the tree once and never backtracks: at each level it takes
 * the most specific branch that matches (exact port, longest prefix, LOCAL/EXTERNAL) and falls back
 * to the branch of chains that leave the criterion unset only when no specific branch matches. If
 * the chosen branch then fails further down, there is no match and the default filter chain (if
 * any) is used.
 */
import { EnvoyTsError } from '../common/errors/envoy-ts-error.js'
import { ErrorCode } from '../common/errors/codes.js'
import {
  CidrRange, CidrRangeMatcher, ipEquals, isLoopbackIp, parsePeerIp, type IpAddress,
} from '../common/network/cidr.js'
import type { CidrRange as CidrRangeConfig } from '../common/protobuf/generated/envoy/config/core/v3.js'
import type {
  FilterChain, FilterChainMatch, FilterChainMatch_ConnectionSourceType,
} from '../common/protobuf/generated/envoy/config/listener/v3.js'

/** What filter chain matching reads from an accepted connection (after listener filters). */
export interface FilterChainMatchInfo {
  /** Local port; the original destination when a listener filter restored it. */
  destinationPort: number
  /** Local IP as Node reports it (`::ffff:` IPv4-mapped forms are treated as IPv4). */
  destinationIp: string
  /** Remote IP; may be overridden by a listener filter such as proxy_protocol. */
  sourceIp: string
  sourcePort: number
  /** The IP of the directly connected peer, whatever a listener filter says. */
  directSourceIp: string
}

/** A filter chain's config and what the caller built from it (e.g. its filter factories). */
export interface FilterChainEntry<T> {
  config: FilterChain
  payload: T
}

export interface FilterChainManagerOptions<T> {
  /** For error messages. */
  listenerName: string
  filterChains: readonly FilterChainEntry<T>[]
  /** Used when no chain matches; its filter_chain_match is ignored. */
  defaultFilterChain?: { payload: T }
}

/** A compiled tree level: returns the index of the matching chain, or undefined. */
type Lookup = (c: MatchContext) => number | undefined

// Envoy matches a connection without an IP address (a pipe, an internal listener) against this.
const NON_IP: IpAddress = { family: 4, value: 0xffffffff }

/** Per-connection inputs, parsed only when a level of the tree needs them (null: not an IP). */
class MatchContext {
  readonly info: FilterChainMatchInfo
  private dst: IpAddress | null | undefined
  private src: IpAddress | null | undefined
  private direct: IpAddress | null | undefined

  constructor(info: FilterChainMatchInfo) { this.info = info }

  private parsedDestination(): IpAddress | null {
    if (this.dst === undefined) this.dst = parsePeerIp(this.info.destinationIp) ?? null
    return this.dst
  }

  private parsedSource(): IpAddress | null {
    if (this.src === undefined) this.src = parsePeerIp(this.info.sourceIp) ?? null
    return this.src
  }

  destination(): IpAddress { return this.parsedDestination() ?? NON_IP }
  source(): IpAddress { return this.parsedSource() ?? NON_IP }

  directSource(): IpAddress {
    if (this.direct === undefined) this.direct = parsePeerIp(this.info.directSourceIp) ?? null
    return this.direct ?? NON_IP
  }

  /** Envoy's isSameIpOrLoopback: a non-IP peer, a loopback peer, or peer IP == local IP. */
  isLocal(): boolean {
    const src = this.parsedSource()
    if (src === null) return true
    const dst = this.parsedDestination()
    return isLoopbackIp(src) || (dst !== null && ipEquals(src, dst))
  }
}

// Build-time tree; '' / 0 keys hold chains that leave the criterion unset.
type SourcePorts = Map<number, number>
type SourceIps = Map<string, SourcePorts>
type SourceTypes = Map<FilterChainMatch_ConnectionSourceType, SourceIps>
type DirectSourceIps = Map<string, SourceTypes>
type DestinationIps = Map<string, DirectSourceIps>
type DestinationPorts = Map<number, DestinationIps>

function child<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k)
  if (v === undefined) { v = make(); m.set(k, v) }
  return v
}

/** canonicalMatch of a FilterChainMatch with nothing set. */
const EMPTY_MATCH = JSON.stringify([null, [], '', null, [], 'ANY', [], [], [], '', []])

function hasCriteria(m: FilterChainMatch | undefined): boolean {
  return m !== undefined && canonicalMatch(m) !== EMPTY_MATCH
}

/** Equal for equal messages (Envoy compares the FilterChainMatch protos field by field). */
function canonicalMatch(m: FilterChainMatch | undefined): string {
  if (m === undefined) return EMPTY_MATCH
  const ranges = (rs: CidrRangeConfig[]): unknown[] => rs.map((r) => [r.address_prefix, r.prefix_len ?? null])
  return JSON.stringify([
    m.destination_port ?? null, ranges(m.prefix_ranges), m.address_suffix, m.suffix_len ?? null,
    ranges(m.direct_source_prefix_ranges), m.source_type, ranges(m.source_prefix_ranges), m.source_ports,
    m.server_names, m.transport_protocol, m.application_protocols,
  ])
}

/** Port level: the exact port, else the chains without a port (Envoy's port 0). */
function compilePorts<V>(m: Map<number, V>, next: (v: V) => Lookup, port: (c: MatchContext) => number): Lookup {
  const any = m.get(0)
  const anyLookup = any === undefined ? undefined : next(any)
  if (m.size === 1 && anyLookup !== undefined) return anyLookup // nothing to read from the connection
  const exact = new Map<number, Lookup>()
  for (const [p, v] of m) if (p !== 0) exact.set(p, next(v))
  return (c) => {
    const hit = exact.get(port(c))
    if (hit !== undefined) return hit(c)
    return anyLookup?.(c)
  }
}

/** IP level: the longest matching prefix, else the chains without prefixes. */
function compileIps<V>(m: Map<string, V>, next: (v: V) => Lookup, ip: (c: MatchContext) => IpAddress): Lookup {
  const any = m.get('')
  const anyLookup = any === undefined ? undefined : next(any)
  if (m.size === 1 && anyLookup !== undefined) return anyLookup
  const entries: [CidrRange, Lookup][] = []
  for (const [k, v] of m) if (k !== '') entries.push([CidrRange.parse(k), next(v)])
  const ranges = new CidrRangeMatcher(entries)
  return (c) => {
    const hit = ranges.lookup(ip(c))
    if (hit !== undefined) return hit(c)
    return anyLookup?.(c)
  }
}

/** Source type level: SAME_IP_OR_LOOPBACK or EXTERNAL when configured for the connection's kind, else ANY. */
function compileSourceTypes(m: SourceTypes): Lookup {
  const lookupOf = (t: FilterChainMatch_ConnectionSourceType): Lookup | undefined => {
    const v = m.get(t)
    return v === undefined ? undefined : compileSourceIps(v)
  }
  const any = lookupOf('ANY')
  const local = lookupOf('SAME_IP_OR_LOOPBACK')
  const external = lookupOf('EXTERNAL')
  if (local === undefined && external === undefined) return any ?? (() => undefined)
  return (c) => {
    const chosen = c.isLocal() ? local : external
    return (chosen ?? any)?.(c)
  }
}

function compileSourceIps(m: SourceIps): Lookup {
  return compileIps(m, compileSourcePorts, (c) => c.source())
}

function compileSourcePorts(m: SourcePorts): Lookup {
  return compilePorts(m, (index) => () => index, (c) => c.info.sourcePort)
}

function compileDirectSourceIps(m: DirectSourceIps): Lookup {
  return compileIps(m, compileSourceTypes, (c) => c.directSource())
}

function compileDestinationIps(m: DestinationIps): Lookup {
  return compileIps(m, compileDirectSourceIps, (c) => c.destination())
}

/**
 * One listener's filter chains, ready for per-connection lookup. Built on the main thread at
 * config time (construction throws EnvoyTsError ETS_ERR_CONFIG_INVALID); immutable afterwards, so
 * each worker can build or share one.
 */
export class FilterChainManagerImpl<T> {
  private readonly payloads: T[]
  private readonly defaultPayload: T | undefined
  private readonly lookup: Lookup | undefined
  /** Set when the answer never depends on the connection (no chains, or one without criteria). */
  private readonly fixed: { payload: T | undefined } | undefined

  constructor(options: FilterChainManagerOptions<T>) {
    const { listenerName, filterChains } = options
    const fail = (what: string): never => {
      throw new EnvoyTsError(ErrorCode.CONFIG_INVALID, `error adding listener '${listenerName}': ${what}`)
    }
    const label = (i: number): string => {
      const name = filterChains[i]!.config.name
      return name === '' ? `filter_chains[${i}]` : `filter_chains[${i}] '${name}'`
    }
    this.payloads = filterChains.map((e) => e.payload)
    this.defaultPayload = options.defaultFilterChain?.payload

    const seen = new Map<string, number>()
    const tree: DestinationPorts = new Map()
    filterChains.forEach((entry, i) => {
      const m = entry.config.filter_chain_match
      if (m !== undefined && (m.address_suffix !== '' || m.suffix_len !== undefined)) {
        fail(`${label(i)} contains unimplemented fields (address_suffix, suffix_len)`)
      }
      const key = canonicalMatch(m)
      const prev = seen.get(key)
      if (prev !== undefined) {
        fail(`multiple filter chains with the same matching rules are defined (${label(prev)} and ${label(i)})`)
      }
      seen.set(key, i)
      this.insert(tree, m, i, fail, label)
    })

    if (filterChains.length === 0) {
      this.fixed = { payload: this.defaultPayload }
    } else if (filterChains.length === 1 && !hasCriteria(filterChains[0]!.config.filter_chain_match)) {
      this.fixed = { payload: this.payloads[0] }
    } else {
      this.lookup = compilePorts(tree, compileDestinationIps, (c) => c.info.destinationPort)
    }
  }

  /**
   * The payload of the chain that matches the connection, the default chain's when none does, or
   * undefined (the caller closes the connection). Worker thread, once per accepted connection.
   */
  findFilterChain(info: FilterChainMatchInfo): T | undefined {
    if (this.fixed !== undefined) return this.fixed.payload
    const index = this.lookup!(new MatchContext(info))
    return index === undefined ? this.defaultPayload : this.payloads[index]
  }

  /** Adds chain `index` under every combination of its criteria values; a taken leaf is an overlap. */
  private insert(tree: DestinationPorts, m: FilterChainMatch | undefined, index: number,
    fail: (what: string) => never, label: (i: number) => string): void {
    const cidrs = (field: 'prefix_ranges' | 'direct_source_prefix_ranges' | 'source_prefix_ranges'): string[] => {
      const list = m?.[field] ?? []
      if (list.length === 0) return ['']
      return list.map((r, j) => {
        try {
          return CidrRange.fromConfig(r).toString()
        } catch (err) {
          return fail(`filter_chains[${index}].filter_chain_match.${field}[${j}]: ${(err as Error).message}`)
        }
      })
    }
    const dstIps = cidrs('prefix_ranges')
    const directIps = cidrs('direct_source_prefix_ranges')
    const srcIps = cidrs('source_prefix_ranges')
    const srcPorts = m === undefined || m.source_ports.length === 0 ? [0] : m.source_ports
    const dstPort = m?.destination_port ?? 0
    const sourceType = m?.source_type ?? 'ANY'

    const byDstIp = child(tree, dstPort, () => new Map() as DestinationIps)
    for (const dstIp of dstIps) {
      const byDirect = child(byDstIp, dstIp, () => new Map() as DirectSourceIps)
      for (const directIp of directIps) {
        const byType = child(byDirect, directIp, () => new Map() as SourceTypes)
        const bySrcIp = child(byType, sourceType, () => new Map() as SourceIps)
        for (const srcIp of srcIps) {
          const byPort = child(bySrcIp, srcIp, () => new Map() as SourcePorts)
          for (const port of srcPorts) {
            const taken = byPort.get(port)
            if (taken !== undefined) {
              const where = taken === index ? `within ${label(index)}` : `${label(taken)} and ${label(index)}`
              fail(`multiple filter chains with overlapping matching rules are defined (${where})`)
            }
            byPort.set(port, index)
          }
        }
      }
    }
  }
}
