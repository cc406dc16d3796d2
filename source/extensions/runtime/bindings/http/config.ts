import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { HttpOutputBinding, isTruthy, type HttpBindingOptions } from './http.js'

const DEFAULT_MAX_RESPONSE_BODY_SIZE = 100 * 1024 * 1024
const UNSUPPORTED = ['mtlsRootCA', 'mtlsClientCert', 'mtlsClientKey', 'mtlsRenegotiation'] as const

/** Checks the metadata of a `bindings.http` component; names and defaults are Dapr's. */
export function httpBindingOptions(metadata: Record<string, unknown>, path: string): HttpBindingOptions {
  const errors: string[] = []
  const str = (key: string): string | undefined => {
    const v = metadata[key]
    if (v === undefined || v === null) return undefined
    if (typeof v === 'string') return v
    if (typeof v === 'number' || typeof v === 'boolean') return String(v)
    errors.push(`${path}.metadata.${key}: must be a string`)
    return undefined
  }
  let url: URL | undefined
  const rawUrl = str('url')
  if (rawUrl === undefined || rawUrl === '') {
    errors.push(`${path}.metadata.url: is required`)
  } else {
    try {
      url = new URL(rawUrl)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') errors.push(`${path}.metadata.url: must be an http:// or https:// URL, got ${rawUrl}`)
    } catch {
      errors.push(`${path}.metadata.url: not a valid URL: ${rawUrl}`)
    }
  }
  let responseTimeoutMs: number | undefined
  const rawTimeout = str('responseTimeout')
  if (rawTimeout !== undefined && rawTimeout !== '') {
    responseTimeoutMs = parseGoDuration(rawTimeout)
    if (responseTimeoutMs === undefined) errors.push(`${path}.metadata.responseTimeout: not a duration (e.g. 5s, 500ms): ${rawTimeout}`)
  }
  let maxResponseBodySize = DEFAULT_MAX_RESPONSE_BODY_SIZE
  const rawMax = str('maxResponseBodySize')
  if (rawMax !== undefined && rawMax !== '') {
    const n = parseByteSize(rawMax)
    if (n === undefined) errors.push(`${path}.metadata.maxResponseBodySize: not a size (bytes, or with a unit such as 10Mi): ${rawMax}`)
    else maxResponseBodySize = n
  }
  const rawErr = str('errorIfNot2XX')
  const errorIfNot2XX = rawErr === undefined || rawErr === '' ? true : isTruthy(rawErr)
  const securityToken = str('securityToken') ?? ''
  const securityTokenHeader = str('securityTokenHeader') ?? ''
  if (securityToken !== '' && securityTokenHeader === '') errors.push(`${path}.metadata.securityTokenHeader: is required with securityToken`)
  for (const key of UNSUPPORTED) {
    if (metadata[key] !== undefined && metadata[key] !== '') errors.push(`${path}.metadata.${key}: mTLS for the http binding is not supported yet`)
  }
  if (errors.length > 0 || url === undefined) throw new ConfigError(ErrorCode.CONFIG_INVALID, errors)
  return { url, responseTimeoutMs, maxResponseBodySize, errorIfNot2XX, securityToken, securityTokenHeader }
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Go's time.ParseDuration (`1m30s`, `500ms`, `0`) in ms; undefined if malformed or negative. */
export function parseGoDuration(text: string): number | undefined {
  const s = text.trim()
  if (s === '0') return 0
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy
  let total = 0
  let pos = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * GO_UNITS[m[2]!]!
    pos = re.lastIndex
  }
  if (pos === 0 || pos !== s.length) return undefined
  return total
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
}

/** Dapr kit's ByteSize: an integer of bytes or a Kubernetes quantity (`10Mi`, `1G`). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(-?\d+)\s*(k|M|G|T|Ki|Mi|Gi|Ti)?\s*$/.exec(text)
  if (m === null) return undefined
  return Number(m[1]) * SIZE_UNITS[m[2] ?? '']!
}

/** Dapr's `bindings.http` output binding, one instance per thread. */
export const httpBindingFactory: RuntimeComponentFactory<'bindings'> = {
  name: 'bindings.http',
  configType: 'bindings.http',
  kind: 'bindings',
  type: 'http',
  embedded: false,
  create(name, metadata, ctx, path) {
    return new HttpOutputBinding(name, httpBindingOptions(metadata, path), ctx.log)
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(httpBindingFactory)
}
