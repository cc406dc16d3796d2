import type { HeaderMap } from '../../envoy/http/header-map.js'
import { getPortStart } from './matchers.js'

/**
 * Picks the virtual host for a request's `:authority` (Envoy's RouteMatcher::findVirtualHost):
 * exact domains first, then the longest suffix wildcard (`*.foo.com`, `*-bar.foo.com`), then
 * the longest prefix wildcard (`foo.*`), then `*`. Domains and hosts compare lower-cased; a
 * port in the host is part of what must match unless `ignore_port_in_host_matching`. A
 * wildcard never matches the empty string (`*.foo.com` does not match `.foo.com`).
 */
export class VirtualHostSelector<T> {
  private readonly exact = new Map<string, T>()
  /** Sorted longest first; the stored string is the domain without its `*`. */
  private readonly suffixes: Array<[string, T]> = []
  private readonly prefixes: Array<[string, T]> = []
  private defaultHost: T | undefined
  private readonly ignorePort: boolean

  constructor(ignorePortInHostMatching: boolean) {
    this.ignorePort = ignorePortInHostMatching
  }

  /** Registers one domain; returns an error message (Envoy's wording) for a duplicate. */
  add(domainName: string, vhost: T, routeConfigName: string): string | undefined {
    const domain = domainName.toLowerCase()
    if (domain === '*') {
      if (this.defaultHost !== undefined) return `Only a single wildcard domain is permitted in route ${routeConfigName}`
      this.defaultHost = vhost
      return undefined
    }
    let list: Array<[string, T]> | undefined
    let key = domain
    if (domain.startsWith('*')) {
      list = this.suffixes
      key = domain.slice(1)
    } else if (domain.endsWith('*')) {
      list = this.prefixes
      key = domain.slice(0, -1)
    }
    const duplicate = list === undefined ? this.exact.has(key) : list.some(([k]) => k === key)
    if (duplicate) return `Only unique values for domains are permitted. Duplicate entry of domain ${domain} in route ${routeConfigName}`
    if (list === undefined) {
      this.exact.set(key, vhost)
    } else {
      list.push([key, vhost])
      // Stable: among equal lengths the first configured stays first (only one can match).
      list.sort((a, b) => b[0].length - a[0].length)
    }
    return undefined
  }

  find(headers: HeaderMap): T | undefined {
    // Fast path: only a `*` virtual host (it matches even without an authority).
    if (this.exact.size === 0 && this.suffixes.length === 0 && this.prefixes.length === 0) return this.defaultHost
    let host = headers.get(':authority') ?? headers.get('host')
    if (host === undefined) return undefined
    if (this.ignorePort) {
      const port = getPortStart(host)
      if (port !== -1) host = host.slice(0, port)
    }
    host = host.toLowerCase()
    const exact = this.exact.get(host)
    if (exact !== undefined) return exact
    const len = host.length
    for (let i = 0; i < this.suffixes.length; i++) {
      const [s, vh] = this.suffixes[i]!
      if (s.length < len && host.endsWith(s)) return vh
    }
    for (let i = 0; i < this.prefixes.length; i++) {
      const [p, vh] = this.prefixes[i]!
      if (p.length < len && host.startsWith(p)) return vh
    }
    return this.defaultHost
  }
}
