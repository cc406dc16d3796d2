import { posix } from 'node:path'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'
import { own, setOwn } from '../../../../common/common/own-keys.js'

// Paths and headers of Dapr's HTTP API: versions, route patterns, invocation targets, and the
// headers that cross to and from an invoked app.

/** `v1.0`, `v1.0-alpha1`, `v1.0-beta1`, ...: the paths Dapr's HTTP server owns. */
export const API_VERSION = /^v1\.0(?:-(?:alpha|beta)\d+)?$/
export const V1 = 'v1.0'
export const ALPHA1 = 'v1.0-alpha1'

function decodeParam(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Request headers that do not go to an invoked app (framing, hop-by-hop, the api token). */
const NOT_FORWARDED = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'expect',
  'dapr-api-token', 'dapr-app-id',
])

export function forwardedHeaders(h: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {}
  h.forEach((k, v) => {
    if (k.startsWith(':') || NOT_FORWARDED.has(k)) return
    const prev = own(out, k)
    setOwn(out, k, prev === undefined ? v : `${prev}${k === 'cookie' ? '; ' : ', '}${v}`)
  })
  return out
}

/** Response headers of an invoked app that the codec owns. */
export const NOT_RETURNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'content-type'])

/**
 * Dapr's findTargetIDAndMethod, header part: the `dapr-app-id` header, or HTTP basic auth with
 * user `dapr-app-id` (`http://dapr-app-id:<app>@localhost:3500/<method>`).
 */
export function targetFromHeaders(h: HeaderMap): string | undefined {
  const id = h.get('dapr-app-id')
  if (id !== undefined && id !== '') return id
  const auth = h.get('authorization')
  if (auth !== undefined && auth.startsWith('Basic ')) {
    const pair = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')
    if (pair.length === 2 && pair[0] === 'dapr-app-id' && pair[1] !== '') return pair[1]
  }
  return undefined
}

/** The method of a header-based invocation: the cleaned path without its leading slash (Go's path.Clean). */
export function methodFromPath(path: string): string {
  let p = posix.normalize(path.startsWith('/') ? path : `/${path}`)
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1)
  return p.slice(1)
}

/** `/v1.0/invoke/<app>/method/<method>` → app (unescaped) and method (as received). */
export function targetFromInvokePath(path: string): { appId: string; method: string } | undefined {
  const m = /^\/+v1\.0\/+invoke\/+/.exec(path)
  if (m === null) return undefined
  const rest = path.slice(m[0].length)
  const idx = rest.indexOf('/method/')
  if (idx <= 0) return undefined
  return { appId: decodeParam(rest.slice(0, idx)), method: rest.slice(idx + '/method/'.length) }
}

/** Matching segments: repeated slashes collapse and a trailing slash goes (Dapr's CleanPath / StripSlashes). */
export function segmentsOf(path: string): string[] {
  let p = path.replace(/\/{2,}/g, '/')
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1)
  return p.split('/').slice(1)
}

export type Params = Record<string, string>

export function matchPattern(pattern: readonly string[], segs: readonly string[]): Params | undefined {
  const params: Params = {}
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!
    if (p.startsWith('*')) {
      params[p.slice(1)] = decodeParam(segs.slice(i).join('/'))
      return params
    }
    const s = segs[i]
    if (s === undefined) return undefined
    if (p.startsWith(':')) {
      if (s === '') return undefined
      params[p.slice(1)] = decodeParam(s)
    } else if (p !== s) {
      return undefined
    }
  }
  return segs.length === pattern.length ? params : undefined
}

/** Dapr APIs envoy-ts does not serve (actors, workflows, crypto, jobs, conversation): 501. */
export const UNIMPLEMENTED: ReadonlyArray<{ versions: readonly string[]; first: string; name: string }> = [
  { versions: [V1], first: 'actors', name: 'the actors API' },
  { versions: ['v1.0-alpha1', 'v1.0-beta1'], first: 'workflows', name: 'the workflow API' },
  { versions: [ALPHA1], first: 'crypto', name: 'the cryptography API' },
  { versions: [ALPHA1], first: 'subtlecrypto', name: 'the subtle cryptography API' },
  { versions: [ALPHA1], first: 'jobs', name: 'the jobs API' },
  { versions: ['v1.0-alpha1', 'v1.0-alpha2'], first: 'conversation', name: 'the conversation API' },
]
