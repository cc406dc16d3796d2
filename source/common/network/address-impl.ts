import type { Address as AddressConfig } from '../protobuf/generated/envoy/config/core/v3.js'
import type { Address } from '../../envoy/network/address.js'
import { tryParseIp } from './cidr.js'

/** Parses an `ip:port` pair into an Address; undefined when `ip` is not an IP literal. */
export function ipAddress(ip: string, port: number): Address | undefined {
  const parsed = tryParseIp(ip)
  if (parsed === undefined) return undefined
  return { kind: 'ip', ip, port, family: parsed.family }
}

/**
 * A config Address as a resolved Address. Socket addresses must be IP literals here (names are
 * resolved by DNS clusters, not by listeners); returns a problem text otherwise.
 */
export function addressFromConfig(a: AddressConfig, listenerName?: string): Address | string {
  if (a.socket_address !== undefined) {
    const s = a.socket_address
    if (s.protocol !== 'TCP') return `only TCP socket addresses are supported, not ${s.protocol}`
    if (s.named_port !== undefined || s.resolver_name !== '') return 'named ports and resolver_name are not supported'
    const r = ipAddress(s.address, s.port_value ?? 0)
    return r ?? `malformed IP address: ${s.address}`
  }
  if (a.pipe !== undefined) return { kind: 'pipe', path: a.pipe.path }
  if (a.envoy_internal_address !== undefined) {
    return { kind: 'internal', listenerName: a.envoy_internal_address.server_listener_name ?? listenerName ?? '', endpointId: a.envoy_internal_address.endpoint_id }
  }
  return 'an address is required'
}

/** Node's socket address fields as an Address (IPv4-mapped IPv6 becomes IPv4). */
export function addressFromSocket(ip: string | undefined, port: number | undefined): Address {
  if (ip === undefined) return { kind: 'pipe', path: '' }
  const bare = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip
  return { kind: 'ip', ip: bare, port: port ?? 0, family: bare.includes(':') ? 6 : 4 }
}
