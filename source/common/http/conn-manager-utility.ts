import { randomUUID } from 'node:crypto'
import { parsePeerIp } from '../network/cidr.js'
import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { Connection } from '../../envoy/network/connection.js'
import type { ConnectionManagerConfig } from './conn-manager-config.js'

/**
 * `x-envoy-*` request headers that configure the proxy (route and per-try timeouts, retries, alt
 * stat name, tracing): only an internal client may send them, from anyone else they are removed
 * (Envoy's ConnectionManagerUtility::cleanInternalHeaders).
 */
const INTERNAL_ONLY_ENVOY_HEADERS = [
  'x-envoy-retriable-status-codes', 'x-envoy-retriable-header-names', 'x-envoy-retry-on', 'x-envoy-retry-grpc-on',
  'x-envoy-max-retries', 'x-envoy-upstream-alt-stat-name', 'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-upstream-rq-timeout-alt-response', 'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace', 'x-envoy-ip-tags', 'x-envoy-original-url', 'x-envoy-hedge-on-per-try-timeout',
]

/** Removed from edge requests only (external, `use_remote_address`): a front proxy sets them itself. */
const EDGE_STRIPPED_ENVOY_HEADERS = ['x-envoy-decorator-operation', 'x-envoy-downstream-service-cluster', 'x-envoy-downstream-service-node']

/** Hop-by-hop request headers that are not forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding']

export interface MutateResult {
  /** The client address to trust (for `%DOWNSTREAM_REMOTE_ADDRESS%` and `source_ip` hashing). */
  remoteIp: string | undefined
  /** True when `remoteIp` came from `x-forwarded-for` rather than the connection. */
  fromXff: boolean
  internal: boolean
}

function lastXffAddresses(xff: string | undefined): string[] {
  if (xff === undefined || xff === '') return []
  return xff.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

/**
 * Envoy's ConnectionManagerUtility::mutateRequestHeaders for HTTP/1 without TLS: works out the
 * trusted client address from the connection and `x-forwarded-for` (`use_remote_address`,
 * `xff_num_trusted_hops`), decides internal vs external, appends XFF, sets x-forwarded-proto,
 * cleans `x-envoy-*` headers from external clients, and handles x-request-id and via.
 */
export function mutateRequestHeaders(headers: HeaderMap, connection: Connection, config: ConnectionManagerConfig, isUpgrade: boolean): MutateResult {
  // An upgrade keeps `connection` (and `upgrade`): they are forwarded to the upstream (Envoy).
  for (const h of HOP_BY_HOP) if (!(isUpgrade && h === 'connection')) headers.remove(h)
  if (!isUpgrade) headers.remove('upgrade')
  const te = headers.get('te')
  if (te !== undefined && te.toLowerCase() !== 'trailers') headers.remove('te')

  const remote = connection.remoteAddress
  const remoteIp = remote.kind === 'ip' ? remote.ip : undefined
  const hops = config.xffNumTrustedHops
  let finalIp: string | undefined
  let singleAddress: boolean
  let fromXff: boolean
  if (config.useRemoteAddress) {
    const before = lastXffAddresses(headers.get('x-forwarded-for'))
    if (remoteIp !== undefined && !config.skipXffAppend) {
      headers.set('x-forwarded-for', before.length === 0 ? remoteIp : `${before.join(', ')}, ${remoteIp}`)
    }
    const after = lastXffAddresses(headers.get('x-forwarded-for'))
    finalIp = hops > 0 && after.length > hops ? after[after.length - 1 - hops] : remoteIp
    fromXff = finalIp !== remoteIp
    singleAddress = before.length === 0
    // Only a trusted hop (xff_num_trusted_hops > 0) may have set x-forwarded-proto (Envoy).
    if (hops === 0 || !headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', 'http')
  } else {
    const xff = lastXffAddresses(headers.get('x-forwarded-for'))
    const candidate = xff.length > hops ? xff[xff.length - 1 - hops] : undefined
    finalIp = candidate !== undefined && parsePeerIp(candidate) !== undefined ? candidate : undefined
    fromXff = finalIp !== undefined
    singleAddress = xff.length === 1 + hops && finalIp !== undefined
    if (!headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', 'http')
  }
  // Internal: the address after XFF handling is the only one and `internal_address_config`
  // lists it (a Unix socket peer counts with `unix_sockets`, when it is the address used).
  const internal = singleAddress && (finalIp !== undefined
    ? config.isInternal(finalIp, false)
    : config.useRemoteAddress && remote.kind === 'pipe' && config.isInternal(undefined, true))
  // Edge: the first hop into the trusted network (Envoy's edge_request).
  const edge = !internal && config.useRemoteAddress

  // Only this proxy says whether a request is internal.
  headers.remove('x-envoy-internal')
  if (internal) {
    headers.set('x-envoy-internal', 'true')
  } else {
    if (edge) for (const h of EDGE_STRIPPED_ENVOY_HEADERS) headers.remove(h)
    for (const h of INTERNAL_ONLY_ENVOY_HEADERS) headers.remove(h)
    for (const h of config.routeConfig.internalOnlyHeaders) headers.remove(h)
  }
  if (edge && finalIp !== undefined) headers.set('x-envoy-external-address', finalIp)

  if (config.forwardClientCertDetails === 'SANITIZE' || config.forwardClientCertDetails === 'SANITIZE_SET') headers.remove('x-forwarded-client-cert')

  const rid = headers.get('x-request-id')
  // Only an edge request gets a fresh id regardless (Envoy).
  if (config.generateRequestId && (rid === undefined || rid === '' || (edge && !config.preserveExternalRequestId))) {
    headers.set('x-request-id', randomUUID())
  }
  if (config.via !== '') {
    const via = headers.get('via')
    headers.set('via', via === undefined ? config.via : `${via}, ${config.via}`)
  }
  if (config.appendXForwardedPort && !headers.has('x-forwarded-port')) {
    const local = connection.localAddress
    if (local.kind === 'ip') headers.set('x-forwarded-port', String(local.port))
  }
  return { remoteIp: finalIp ?? remoteIp, fromXff, internal }
}

/** `strip_matching_host_port` / `strip_any_host_port` / `strip_trailing_host_dot` on `:authority`. */
export function normalizeHost(headers: HeaderMap, config: ConnectionManagerConfig, listenerPort: number | undefined): void {
  let host = headers.get(':authority')
  if (host === undefined) return
  if (config.stripTrailingHostDot) {
    const colon = host.lastIndexOf(':')
    const hasPort = colon > 0 && !host.endsWith(']') && /^\d+$/.test(host.slice(colon + 1))
    const name = hasPort ? host.slice(0, colon) : host
    if (name.endsWith('.')) host = `${name.slice(0, -1)}${hasPort ? host.slice(colon) : ''}`
  }
  if (config.stripPortMode !== 'none') {
    const m = /^(.*):(\d+)$/.exec(host)
    if (m !== null && !m[1]!.endsWith(':') && (config.stripPortMode === 'any' || Number(m[2]) === listenerPort)) host = m[1]!
  }
  headers.set(':authority', host)
}

/**
 * `normalize_path` (RFC 3986 dot-segment removal and percent-decoding of unreserved
 * characters), `merge_slashes` and `path_with_escaped_slashes_action` on `:path`. Returns
 * 'reject' for a path to answer 400, 'redirect' for one to redirect to, or 'ok'.
 */
export function normalizePath(headers: HeaderMap, config: ConnectionManagerConfig): 'ok' | 'reject' | 'redirect' {
  const full = headers.get(':path')
  if (full === undefined || !full.startsWith('/')) return 'ok'
  const q = full.search(/[?#]/)
  let path = q < 0 ? full : full.slice(0, q)
  const rest = q < 0 ? '' : full.slice(q)
  const original = path
  const escaped = /%2f|%5c/i.test(path)
  if (escaped) {
    const action = config.escapedSlashes === 'IMPLEMENTATION_SPECIFIC_DEFAULT' ? 'KEEP_UNCHANGED' : config.escapedSlashes
    if (action === 'REJECT_REQUEST') return 'reject'
    if (action === 'UNESCAPE_AND_FORWARD' || action === 'UNESCAPE_AND_REDIRECT') {
      path = path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\')
    }
  }
  if (config.normalizePath) {
    path = path.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16))
      return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase()
    }).replace(/\\/g, '/')
    const out: string[] = []
    for (const seg of path.split('/')) {
      if (seg === '.') continue
      if (seg === '..') {
        if (out.length > 1) out.pop()
        continue
      }
      out.push(seg)
    }
    path = out.join('/')
    if (/\/\.\.?$/.test(original) && !path.endsWith('/')) path += '/'
    if (path === '') path = '/'
  }
  if (config.mergeSlashes) path = path.replace(/\/{2,}/g, '/')
  if (path !== original) headers.set(':path', path + rest)
  if (escaped && config.escapedSlashes === 'UNESCAPE_AND_REDIRECT' && path !== original) return 'redirect'
  return 'ok'
}
