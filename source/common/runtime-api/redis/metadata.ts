import { ErrorCode } from '../../errors/codes.js'
import { ConfigError } from '../../errors/envoy-ts-error.js'

/**
 * Connection settings of a Redis-backed runtime component, from its metadata (Dapr's names:
 * https://docs.dapr.io/reference/components-reference/supported-state-stores/setup-redis/).
 * Durations are in milliseconds.
 */
export interface RedisSettings {
  host: string
  port: number
  username?: string
  password?: string
  db: number
  /** Dapr `maxRetries`: attempts after the first for a command that could not be sent. */
  maxRetries: number
  /** Dapr `maxRetryBackoff`: the longest wait between those attempts and between reconnects. */
  maxRetryBackoffMs: number
  /** Dapr `dialTimeout`. */
  dialTimeoutMs: number
  /** Dapr `readTimeout` (a reply must arrive within it; 0: no limit). Not applied to blocking reads. */
  readTimeoutMs: number
}

/** Reads the metadata of one component; every error names `<path>.metadata.<field>`. */
export class MetadataReader {
  readonly metadata: Record<string, unknown>
  readonly path: string

  constructor(metadata: Record<string, unknown> | undefined, path: string) {
    this.metadata = metadata ?? {}
    this.path = path
  }

  invalid(field: string, message: string): ConfigError {
    return new ConfigError(ErrorCode.CONFIG_INVALID, [`${this.path}.metadata.${field}: ${message}`])
  }

  has(field: string): boolean {
    const v = this.metadata[field]
    return v !== undefined && v !== null && v !== ''
  }

  /** A string (numbers and booleans, as YAML may type them, are taken as written). */
  string(field: string): string | undefined {
    const v = this.metadata[field]
    if (v === undefined || v === null) return undefined
    if (typeof v === 'string') return v
    if (typeof v === 'number' || typeof v === 'boolean') return String(v)
    throw this.invalid(field, 'value must be a string')
  }

  requiredString(field: string): string {
    const v = this.string(field)
    if (v === undefined || v.trim() === '') throw this.invalid(field, 'value is required')
    return v.trim()
  }

  bool(field: string, def: boolean): boolean {
    const v = this.string(field)
    if (v === undefined || v.trim() === '') return def
    const s = v.trim().toLowerCase()
    if (s === 'true' || s === '1' || s === 'yes' || s === 'on') return true
    if (s === 'false' || s === '0' || s === 'no' || s === 'off') return false
    throw this.invalid(field, `"${v}" is not a boolean`)
  }

  int(field: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.string(field)
    if (v === undefined || v.trim() === '') return def
    const s = v.trim()
    if (!/^-?\d+$/.test(s)) throw this.invalid(field, `"${v}" is not an integer`)
    const n = Number(s)
    if (n < min || n > max) throw this.invalid(field, `value must be between ${min} and ${max}`)
    return n
  }

  /**
   * A duration as Dapr reads one: a Go duration string (`500ms`, `1m30s`) or a bare number of
   * milliseconds. `-1` (or any negative number) is returned as -1 ("disabled" for Dapr's
   * back-off and timeout fields).
   */
  durationMs(field: string, defMs: number): number {
    const v = this.string(field)
    if (v === undefined || v.trim() === '') return defMs
    const ms = parseDurationMs(v.trim())
    if (ms === undefined) throw this.invalid(field, `"${v}" is not a duration (e.g. "500ms", "15s", or milliseconds)`)
    return ms < 0 ? -1 : ms
  }
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Go's time.ParseDuration subset, or a bare integer of milliseconds. */
export function parseDurationMs(s: string): number | undefined {
  if (/^-?\d+$/.test(s)) return Number(s)
  const m = /^(-?)((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(s)
  if (m === null) return undefined
  let total = 0
  for (const part of m[2]!.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * UNIT_MS[part[2]!]!
  }
  return m[1] === '-' ? -total : Math.round(total)
}

/**
 * Parses the connection part of a Redis component's metadata. Throws ConfigError naming the
 * field for anything missing, malformed or not supported (TLS, cluster, sentinel).
 */
export function parseRedisSettings(md: MetadataReader): RedisSettings {
  const hostPort = md.requiredString('redisHost')
  if (hostPort.includes(',')) throw md.invalid('redisHost', 'one host:port only (Redis Cluster and Sentinel are not supported)')
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(hostPort)
  if (m === null) throw md.invalid('redisHost', `"${hostPort}" is not host:port`)
  const port = Number(m[3])
  if (port < 1 || port > 65535) throw md.invalid('redisHost', `port ${m[3]} is out of range`)
  if (md.bool('enableTLS', false)) throw md.invalid('enableTLS', 'TLS to Redis is not supported')
  if (md.bool('useEntraID', false)) throw md.invalid('useEntraID', 'Entra ID authentication is not supported')
  if (md.bool('failover', false)) throw md.invalid('failover', 'Redis Sentinel is not supported')
  const redisType = md.string('redisType')?.trim().toLowerCase()
  if (redisType !== undefined && redisType !== '' && redisType !== 'node') {
    throw md.invalid('redisType', `"${redisType}" is not supported (only "node")`)
  }
  for (const field of ['clientCert', 'clientKey']) {
    if (md.has(field)) throw md.invalid(field, 'TLS to Redis is not supported')
  }
  const username = md.string('redisUsername')
  const password = md.string('redisPassword')
  const maxRetries = md.int('maxRetries', 3, -1, 100)
  const backoff = md.durationMs('maxRetryBackoff', 2000)
  const dial = md.durationMs('dialTimeout', 5000)
  const read = md.durationMs('readTimeout', 3000)
  return {
    host: (m[1] ?? m[2])!,
    port,
    ...(username !== undefined && username !== '' ? { username } : {}),
    ...(password !== undefined && password !== '' ? { password } : {}),
    db: md.int('redisDB', 0, 0, 15),
    maxRetries: Math.max(0, maxRetries),
    maxRetryBackoffMs: backoff < 0 ? 0 : backoff,
    dialTimeoutMs: dial <= 0 ? 5000 : dial,
    readTimeoutMs: read < 0 ? 0 : read,
  }
}

/**
 * Dapr's `keyPrefix` strategies (https://docs.dapr.io/developing-applications/building-blocks/state-management/howto-share-state/):
 * `appid` (default) prefixes keys with `<app id>||`, `name` with `<component name>||`, `none`
 * with nothing, any other value with `<value>||`. An empty app id means no prefix.
 */
export function keyPrefixFor(md: MetadataReader, componentName: string, appId: string): string {
  const strategy = md.string('keyPrefix')?.trim() ?? ''
  switch (strategy.toLowerCase()) {
    case '':
    case 'appid':
      return appId === '' ? '' : `${appId}||`
    case 'name':
      return `${componentName}||`
    case 'none':
      return ''
    case 'namespace':
      // No namespaces here: Dapr falls back to the appid strategy when none is configured.
      return appId === '' ? '' : `${appId}||`
    default:
      if (strategy.includes('||')) throw md.invalid('keyPrefix', 'a custom prefix must not contain "||"')
      return `${strategy}||`
  }
}
