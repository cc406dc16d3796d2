/**
 * STRICT_DNS clusters (Envoy's StrictDnsClusterImpl): every endpoint's hostname is resolved
 * through the system resolver (getaddrinfo, so /etc/hosts applies) and every address it returns
 * becomes a host. Each endpoint is re-resolved on its own timer. The DNS pieces here are shared
 * with LOGICAL_DNS.
 */
import dns from 'node:dns'
import type { Logger } from 'pino'
import type { HostSnapshot } from '../../../envoy/upstream/cluster-snapshot.js'
import type {
  ClusterDiscovery, DiscoveryContext, DnsLookup, ResolvedAddress,
} from '../../../common/upstream/cluster-manager-impl.js'
import { endpointHostSnapshot } from '../../../common/upstream/host-impl.js'
import { durationToMs } from '../../../common/protobuf/duration.js'
import type { Cluster, Cluster_DnsLookupFamily } from '../../../common/protobuf/generated/envoy/config/cluster/v3.js'
import type { LbEndpoint, LocalityLbEndpoints } from '../../../common/protobuf/generated/envoy/config/endpoint/v3.js'
import { startTimer } from '../../../common/event/timer-impl.js'
import type { Timer } from '../../../envoy/event/timer.js'

/** Envoy's default `dns_refresh_rate`. */
export const DEFAULT_DNS_REFRESH_MS = 5000

/** `dns.lookup(name, { all: true, family })`: the system resolver, in the order it answers. */
export const systemLookup: DnsLookup = async (hostname, family) => {
  const answers = await dns.promises.lookup(hostname, { all: true, family, verbatim: true })
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))
}

/** The family to ask getaddrinfo for; the preference rules are applied to its answer. */
function queryFamily(f: Cluster_DnsLookupFamily): 0 | 4 | 6 {
  return f === 'V4_ONLY' ? 4 : f === 'V6_ONLY' ? 6 : 0
}

/**
 * Applies `dns_lookup_family` to an answer: V4_ONLY/V6_ONLY keep that family; AUTO keeps the
 * IPv6 addresses if there are any, else the IPv4 ones (so a name with both resolves to IPv6);
 * V4_PREFERRED the other way round; ALL keeps both.
 */
export function selectAddresses(f: Cluster_DnsLookupFamily, answers: readonly ResolvedAddress[]): ResolvedAddress[] {
  const v4 = answers.filter((a) => a.family === 4)
  const v6 = answers.filter((a) => a.family === 6)
  switch (f) {
    case 'V4_ONLY': return v4
    case 'V6_ONLY': return v6
    case 'AUTO': return v6.length > 0 ? v6 : v4
    case 'V4_PREFERRED': return v4.length > 0 ? v4 : v6
    default: return [...answers]
  }
}

/** True for "the name has no addresses" answers, which Envoy treats as a successful, empty resolution. */
function isNoData(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOTFOUND' || code === 'ENODATA'
}

/** Resolves `hostname` under `dns_lookup_family`; rejects only on resolver failures. */
export async function resolveAddresses(lookup: DnsLookup, hostname: string, f: Cluster_DnsLookupFamily): Promise<ResolvedAddress[]> {
  try {
    return selectAddresses(f, await lookup(hostname, queryFamily(f)))
  } catch (err) {
    if (isNoData(err)) return []
    throw err
  }
}

/** Checks shared by STRICT_DNS and LOGICAL_DNS (no DNS is done). */
export function checkDnsCluster(config: Cluster, path: string): string[] {
  const errors: string[] = []
  const type = config.type ?? 'STATIC'
  if (config.respect_dns_ttl) {
    errors.push(`${path}.respect_dns_ttl: not supported: envoy-ts resolves through getaddrinfo, which does not report TTLs; remove it and set dns_refresh_rate instead`)
  }
  config.load_assignment?.endpoints.forEach((group, g) => {
    group.lb_endpoints.forEach((lb, e) => {
      const p = `${path}.load_assignment.endpoints[${g}].lb_endpoints[${e}].endpoint.address`
      const sa = lb.endpoint?.address?.socket_address
      if (lb.endpoint?.address === undefined) errors.push(`${p}: value is required`)
      else if (sa === undefined) errors.push(`${p}: ${type} clusters need a socket_address (a hostname and port_value)`)
      else {
        if (sa.address === '') errors.push(`${p}.socket_address.address: value must not be empty`)
        if (sa.resolver_name !== '') errors.push(`${p}.socket_address.resolver_name: custom resolvers are not supported ("${sa.resolver_name}")`)
        if (sa.named_port !== undefined) errors.push(`${p}.socket_address.named_port: named ports are not supported; use port_value`)
      }
    })
  })
  return errors
}

/** Delay before the next try after a failed resolution (`dns_failure_refresh_rate`). */
export class FailureBackoff {
  private readonly baseMs: number
  private readonly maxMs: number
  private readonly exponential: boolean
  private attempt = 0

  constructor(config: Cluster, refreshMs: number) {
    const rate = config.dns_failure_refresh_rate
    this.exponential = rate?.base_interval !== undefined
    this.baseMs = durationToMs(rate?.base_interval, refreshMs)
    this.maxMs = durationToMs(rate?.max_interval, this.baseMs * 10)
  }

  /**
   * Without `dns_failure_refresh_rate`, the refresh rate (Envoy's fixed back-off); with it,
   * base × 2^n capped at max_interval. TODO: Envoy jitters this; add it when many clusters
   * resolving in lockstep becomes a problem.
   */
  next(): number {
    if (!this.exponential) return this.baseMs
    const ms = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt)
    this.attempt = Math.min(this.attempt + 1, 30)
    return ms
  }

  reset(): void {
    this.attempt = 0
  }
}

export type ResolveOutcome = { ok: true; addresses: ResolvedAddress[] } | { ok: false; error: string }

/**
 * One name resolved on a timer (Envoy's ResolveTarget): `dns_refresh_rate` after a success, the
 * failure back-off after a failure. Counts `update_attempt`; the owner counts the outcome.
 */
export class DnsResolveTarget {
  readonly hostname: string
  private readonly ctx: DiscoveryContext
  private readonly refreshMs: number
  private readonly backoff: FailureBackoff
  private readonly onResult: (r: ResolveOutcome) => void
  private timer: Timer | undefined
  private stopped = false

  constructor(ctx: DiscoveryContext, hostname: string, onResult: (r: ResolveOutcome) => void) {
    this.ctx = ctx
    this.hostname = hostname
    this.refreshMs = durationToMs(ctx.config.dns_refresh_rate, DEFAULT_DNS_REFRESH_MS)
    this.backoff = new FailureBackoff(ctx.config, this.refreshMs)
    this.onResult = onResult
  }

  /** Resolves once now; the returned promise settles after the first outcome was handed over. */
  start(): Promise<void> {
    return this.resolve()
  }

  stop(): void {
    this.stopped = true
    this.timer?.disableTimer()
    this.timer = undefined
  }

  private async resolve(): Promise<void> {
    this.timer = undefined
    if (this.stopped) return
    this.ctx.stats.update_attempt.inc()
    let outcome: ResolveOutcome
    try {
      outcome = { ok: true, addresses: await resolveAddresses(this.ctx.lookup, this.hostname, this.ctx.config.dns_lookup_family) }
    } catch (err) {
      outcome = { ok: false, error: (err as Error).message }
    }
    if (this.stopped) return
    if (outcome.ok) this.backoff.reset()
    const delay = outcome.ok ? this.refreshMs : this.backoff.next()
    this.onResult(outcome)
    if (this.stopped) return
    // Ref'd on purpose: the cluster manager owns its timers until shutdown().
    this.timer = startTimer(delay, () => void this.resolve())
  }
}

export function logResolveFailure(log: Logger, cluster: string, hostname: string, error: string): void {
  log.warn({ cluster, hostname, error }, 'DNS resolution failed')
}

interface Target {
  group: LocalityLbEndpoints
  lb: LbEndpoint
  port: number
  resolver: DnsResolveTarget
  hosts: HostSnapshot[]
}

export class StrictDnsCluster implements ClusterDiscovery {
  private readonly ctx: DiscoveryContext
  private readonly targets: Target[] = []

  constructor(ctx: DiscoveryContext) {
    this.ctx = ctx
    for (const group of ctx.config.load_assignment?.endpoints ?? []) {
      for (const lb of group.lb_endpoints) {
        const sa = lb.endpoint?.address?.socket_address
        if (sa === undefined) continue
        const index = this.targets.length
        const resolver = new DnsResolveTarget(ctx, sa.address, (r) => this.onResolved(this.targets[index]!, r))
        this.targets.push({ group, lb, port: sa.port_value ?? 0, hosts: [], resolver })
      }
    }
  }

  /** Done once every name has been resolved (or failed) once; a cluster without endpoints at once. */
  async initialize(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.resolver.start()))
  }

  shutdown(): void {
    for (const t of this.targets) t.resolver.stop()
  }

  private onResolved(t: Target, r: ResolveOutcome): void {
    const stats = this.ctx.stats
    if (!r.ok) {
      // Keep what the name resolved to last time (nothing, before the first success).
      stats.update_failure.inc()
      logResolveFailure(this.ctx.log, this.ctx.config.name, t.resolver.hostname, r.error)
      return
    }
    stats.update_success.inc()
    const hostname = t.resolver.hostname
    t.hosts = r.addresses.map((a) => endpointHostSnapshot(t.group, t.lb, { ip: a.address, port: t.port, family: a.family }, hostname))
    this.ctx.setHosts(this.allHosts())
  }

  private allHosts(): HostSnapshot[] {
    return this.targets.flatMap((t) => t.hosts)
  }
}
