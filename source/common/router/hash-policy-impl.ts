import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { HashPolicy } from '../../envoy/router/router.js'
import { parseDuration } from '../protobuf/duration.js'
import type { RouteAction_HashPolicy } from '../protobuf/generated/envoy/config/route/v3.js'
import { xxHash64 } from '../upstream/load-balancers/hash.js'
import type { ConfigErrors } from './config-utility.js'
import { firstQueryParam, RegexRewrite } from './matchers.js'

/**
 * A route's `hash_policy` list (Envoy's Http::HashPolicyImpl): each policy may produce a 64-bit
 * xxHash; results are combined by rotating the previous value left by one and xor-ing, and a
 * `terminal` policy that produced a hash stops the walk.
 */

export interface HashInput {
  headers: HeaderMap
  sourceIp: string | undefined
  addCookie?: (name: string, ttlSeconds: number, path: string) => string
  /**
   * The stream's filter state, for `filter_state` policies (the contract's input does not carry
   * it yet). A value hashes through its `hash()` method, or as a string.
   */
  filterState?: ReadonlyMap<string, unknown>
}

type HashMethod = (input: HashInput) => bigint | undefined

const MASK64 = (1n << 64n) - 1n

/** The value of cookie `name` in the request's `cookie` headers, or '' (Envoy's parseCookieValue). */
export function parseCookieValue(headers: HeaderMap, name: string): string {
  for (const header of headers.getAll('cookie')) {
    for (const part of header.split(';')) {
      const kv = part.trimStart()
      const eq = kv.indexOf('=')
      if (eq === -1 || kv.slice(0, eq) !== name) continue
      let v = kv.slice(eq + 1)
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1)
      return v
    }
  }
  return ''
}

function headerMethod(name: string, rewrite: RegexRewrite | undefined): HashMethod {
  return ({ headers }) => {
    const values = headers.getAll(name)
    if (values.length === 0) return undefined
    if (values.length === 1) return xxHash64(rewrite === undefined ? values[0]! : rewrite.replaceAll(values[0]!))
    // Sorted so that the order of repeated headers does not change the hash; chained through
    // the seed as Envoy's xxHash64 over a list does.
    const list = rewrite === undefined ? [...values] : values.map((v) => rewrite.replaceAll(v))
    list.sort()
    let h = 0n
    for (const v of list) h = xxHash64(v, h)
    return h
  }
}

function cookieMethod(name: string, ttlSeconds: number | undefined, path: string): HashMethod {
  return ({ headers, addCookie }) => {
    const value = parseCookieValue(headers, name)
    if (value !== '') return xxHash64(value)
    if (ttlSeconds === undefined || addCookie === undefined) return undefined
    return xxHash64(addCookie(name, ttlSeconds, path))
  }
}

const sourceIpMethod: HashMethod = ({ sourceIp }) => (sourceIp === undefined || sourceIp === '' ? undefined : xxHash64(sourceIp))

function queryParameterMethod(name: string): HashMethod {
  return ({ headers }) => {
    const path = headers.get(':path')
    if (path === undefined) return undefined
    const v = firstQueryParam(path, name)
    return v === undefined ? undefined : xxHash64(v)
  }
}

function filterStateMethod(key: string): HashMethod {
  return ({ filterState }) => {
    const v = filterState?.get(key)
    if (v === undefined || v === null) return undefined
    const hashable = v as { hash?: unknown }
    if (typeof hashable.hash === 'function') {
      const h = (hashable.hash as () => unknown)()
      if (typeof h === 'bigint') return BigInt.asUintN(64, h)
      if (typeof h === 'number' && Number.isInteger(h)) return BigInt.asUintN(64, BigInt(h))
      return undefined
    }
    return typeof v === 'string' || typeof v === 'number' ? xxHash64(String(v)) : undefined
  }
}

export class HashPolicyImpl implements HashPolicy {
  private readonly methods: HashMethod[] = []
  private readonly terminal: boolean[] = []

  constructor(policies: readonly RouteAction_HashPolicy[], path: string, errors: ConfigErrors) {
    policies.forEach((p, i) => {
      const at = `${path}[${i}]`
      let m: HashMethod | undefined
      if (p.header !== undefined) {
        const rw = p.header.regex_rewrite === undefined ? undefined : RegexRewrite.compile(p.header.regex_rewrite, `${at}.header.regex_rewrite`, errors)
        m = headerMethod(p.header.header_name.toLowerCase(), rw)
      } else if (p.cookie !== undefined) {
        if (p.cookie.attributes.length > 0) {
          errors.notSupported(`${at}.cookie.attributes`, 'cookie attributes are not supported yet')
        }
        const ttl = p.cookie.ttl === undefined ? undefined : parseDuration(p.cookie.ttl)?.seconds
        m = cookieMethod(p.cookie.name, ttl, p.cookie.path)
      } else if (p.connection_properties !== undefined) {
        // Envoy skips a connection_properties policy with source_ip false.
        if (p.connection_properties.source_ip) m = sourceIpMethod
      } else if (p.query_parameter !== undefined) {
        m = queryParameterMethod(p.query_parameter.name)
      } else if (p.filter_state !== undefined) {
        m = filterStateMethod(p.filter_state.key)
      } else {
        errors.add(at, 'one of header, cookie, connection_properties, query_parameter, filter_state is required')
      }
      if (m !== undefined) {
        this.methods.push(m)
        this.terminal.push(p.terminal)
      }
    })
  }

  generateHash(input: HashInput): bigint | undefined {
    let hash: bigint | undefined
    for (let i = 0; i < this.methods.length; i++) {
      const h = this.methods[i]!(input)
      if (h !== undefined) {
        const old = hash === undefined ? 0n : ((hash << 1n) | (hash >> 63n)) & MASK64
        hash = old ^ h
      }
      if (this.terminal[i] === true && hash !== undefined) break
    }
    return hash
  }
}
