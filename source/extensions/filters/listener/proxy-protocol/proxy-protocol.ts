import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import type { Address } from '../../../../envoy/network/address.js'
import { FilterStatus, type FilterStatusValue } from '../../../../envoy/network/filter.js'
import type { ListenerFilter, ListenerFilterCallbacks } from '../../../../envoy/network/listener-filter.js'
import type { Counter, Scope } from '../../../../envoy/stats/stats.js'
import {
  V2_DEFAULT_MAX_LEN, parseProxyHeader, type ParseOptions, type ProxyProtocolVersion, type Tlv,
} from './proxy-protocol-header.js'

/** Where TLVs go in dynamic metadata when a rule names no namespace, and pass-through TLVs. */
export const PROXY_PROTOCOL_METADATA_NAMESPACE = 'envoy.filters.listener.proxy_protocol'
/** Key of the pass-through TLV list (`[{ type, value: base64 }]`) in that namespace. */
export const PASS_THROUGH_TLVS_KEY = 'pass_through_tlvs'

export interface VersionedProxyProtocolStats {
  found: Counter
  disallowed: Counter
  error: Counter
}

/** `proxy_proto.[<stat_prefix>.]*` plus Envoy's legacy error counter. */
export interface ProxyProtocolStats {
  not_found_allowed: Counter
  not_found_disallowed: Counter
  v1: VersionedProxyProtocolStats
  v2: VersionedProxyProtocolStats
  downstream_cx_proxy_proto_error: Counter
}

export function proxyProtocolStats(scope: Scope, statPrefix: string): ProxyProtocolStats {
  const root = scope.createScope(statPrefix === '' ? 'proxy_proto' : `proxy_proto.${statPrefix}`)
  const versioned = (v: string): VersionedProxyProtocolStats => {
    const s = root.createScope(`versions.${v}`)
    return { found: s.counter('found'), disallowed: s.counter('disallowed'), error: s.counter('error') }
  }
  return {
    not_found_allowed: root.counter('not_found_allowed'),
    not_found_disallowed: root.counter('not_found_disallowed'),
    v1: versioned('v1'),
    v2: versioned('v2'),
    downstream_cx_proxy_proto_error: scope.counter('downstream_cx_proxy_proto_error'),
  }
}

/** One filter config, shared by the connections of a listener on this thread. */
export interface ProxyProtocolConfig {
  readonly stats: ProxyProtocolStats
  readonly parse: ParseOptions
  /** `rules`: TLV type → where to put its value in dynamic metadata. */
  readonly rules: ReadonlyMap<number, { namespace: string; key: string }>
  /** `pass_through_tlvs`: keep every TLV (`'all'`), the listed types, or none. */
  readonly passThrough: 'all' | ReadonlySet<number> | undefined
}

function addressesEqual(a: Address, b: Address): boolean {
  return a.kind === 'ip' && b.kind === 'ip' && a.ip === b.ip && a.port === b.port
}

/**
 * Envoy's proxy_protocol listener filter: reads the PROXY header that a load balancer puts in
 * front of the stream, drains it, and makes its addresses the connection's. Malformed or
 * disallowed headers end the connection (`continueFilterChain(false)`).
 */
export class ProxyProtocolFilter implements ListenerFilter {
  private readonly config: ProxyProtocolConfig
  private cb: ListenerFilterCallbacks | undefined
  private maxLen = V2_DEFAULT_MAX_LEN
  private finished = false

  constructor(config: ProxyProtocolConfig) {
    this.config = config
  }

  // Network.ListenerFilter
  onAccept(cb: ListenerFilterCallbacks): FilterStatusValue {
    this.cb = cb
    // Nothing to decide before data arrives.
    return FilterStatus.StopIteration
  }

  maxReadBytes(): number {
    return this.maxLen
  }

  onData(data: BufferInstance): FilterStatusValue {
    if (this.finished) return FilterStatus.Continue
    const stats = this.config.stats
    const r = parseProxyHeader(data.peek(Math.min(data.length, this.maxLen)), this.config.parse)
    switch (r.state) {
      case 'need-more':
        // A version 2 header with TLVs may be longer than the default read size.
        if (r.wanted !== undefined && r.wanted > this.maxLen) this.maxLen = r.wanted
        return FilterStatus.StopIteration
      case 'not-found':
        if (this.config.parse.allowRequestsWithoutProxyProtocol) {
          stats.not_found_allowed.inc()
          this.finished = true
          return FilterStatus.Continue
        }
        stats.not_found_disallowed.inc()
        return this.fail(true)
      case 'denied':
        this.versionStats(r.version).found.inc()
        this.versionStats(r.version).disallowed.inc()
        return this.fail(false)
      case 'error':
        this.versionStats(r.version).error.inc()
        return this.fail(true)
      case 'done':
        break
    }
    const cb = this.cb!
    if (r.addresses !== undefined) {
      if (!addressesEqual(r.addresses.local, cb.localAddress)) cb.restoreLocalAddress(r.addresses.local)
      cb.setRemoteAddress(r.addresses.remote)
    }
    this.publishTlvs(r.tlvs)
    data.drain(r.length)
    this.versionStats(r.version).found.inc()
    this.finished = true
    return FilterStatus.Continue
  }

  private versionStats(v: ProxyProtocolVersion): VersionedProxyProtocolStats {
    return v === 1 ? this.config.stats.v1 : this.config.stats.v2
  }

  private fail(isError: boolean): FilterStatusValue {
    if (isError) this.config.stats.downstream_cx_proxy_proto_error.inc()
    this.finished = true
    this.cb!.continueFilterChain(false)
    return FilterStatus.StopIteration
  }

  /** `rules` into their namespaces; pass-through TLVs into ours. */
  private publishTlvs(tlvs: readonly Tlv[]): void {
    if (tlvs.length === 0) return
    const byNamespace = new Map<string, Record<string, unknown>>()
    const kept: Array<{ type: number; value: string }> = []
    const pass = this.config.passThrough
    for (const tlv of tlvs) {
      const rule = this.config.rules.get(tlv.type)
      if (rule !== undefined) {
        const fields = byNamespace.get(rule.namespace) ?? {}
        fields[rule.key] = tlv.value.toString('utf8')
        byNamespace.set(rule.namespace, fields)
      }
      if (pass === 'all' || (pass !== undefined && pass.has(tlv.type))) {
        kept.push({ type: tlv.type, value: tlv.value.toString('base64') })
      }
    }
    if (kept.length > 0) {
      const fields = byNamespace.get(PROXY_PROTOCOL_METADATA_NAMESPACE) ?? {}
      fields[PASS_THROUGH_TLVS_KEY] = kept
      byNamespace.set(PROXY_PROTOCOL_METADATA_NAMESPACE, fields)
    }
    for (const [namespace, fields] of byNamespace) this.cb!.setDynamicMetadata(namespace, fields)
  }
}
