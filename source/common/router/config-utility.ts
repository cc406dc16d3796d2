import fs from 'node:fs'
import type { ResourcePriority } from '../../envoy/upstream/cluster-info.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import type { DataSource, RoutingPriority } from '../protobuf/generated/envoy/config/core/v3.js'
import type {
  RedirectAction_RedirectResponseCode, RouteAction_ClusterNotFoundResponseCode,
} from '../protobuf/generated/envoy/config/route/v3.js'
import type { FractionalPercent_DenominatorType } from '../protobuf/generated/envoy/type/v3.js'

/**
 * Helpers shared by the route table builders (Envoy's ConfigUtility): the problem collector
 * every builder reports into, enum mappings and the direct response body reader.
 */

/**
 * Collects every problem found while building a route table, each prefixed with its path, so
 * that one ConfigError lists them all (the bootstrap validator's style).
 */
export class ConfigErrors {
  readonly list: string[] = []

  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`)
  }

  /** A field envoy-ts knows but does not implement; worded like the validator's rejection. */
  notSupported(path: string, reason: string): void {
    this.add(path, `not supported by envoy-ts yet: ${reason}`)
  }

  /**
   * Runs a builder that may throw (formatter parsing, regex compilation, a filter's per-route
   * factory) and records what it threw; returns undefined then.
   */
  attempt<T>(path: string, fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      const e = err as { errors?: unknown; message?: unknown }
      if (Array.isArray(e.errors)) for (const m of e.errors) this.list.push(String(m))
      else this.add(path, typeof e.message === 'string' ? e.message : String(err))
      return undefined
    }
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new ConfigError(ErrorCode.CONFIG_INVALID, this.list)
  }
}

export function parsePriority(p: RoutingPriority): ResourcePriority {
  return p === 'HIGH' ? 'high' : 'default'
}

const REDIRECT_CODES: Record<RedirectAction_RedirectResponseCode, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
}

export function redirectResponseCode(code: RedirectAction_RedirectResponseCode): number {
  return REDIRECT_CODES[code] ?? 301
}

const CLUSTER_NOT_FOUND_CODES: Record<RouteAction_ClusterNotFoundResponseCode, number> = {
  SERVICE_UNAVAILABLE: 503,
  NOT_FOUND: 404,
  INTERNAL_SERVER_ERROR: 500,
}

export function clusterNotFoundResponseCode(code: RouteAction_ClusterNotFoundResponseCode): number {
  return CLUSTER_NOT_FOUND_CODES[code] ?? 503
}

const DENOMINATORS: Record<FractionalPercent_DenominatorType, number> = {
  HUNDRED: 100,
  TEN_THOUSAND: 10_000,
  MILLION: 1_000_000,
}

export function denominatorOf(d: FractionalPercent_DenominatorType): number {
  return DENOMINATORS[d] ?? 100
}

/** Envoy's default `max_direct_response_body_size_bytes`. */
export const DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES = 4096

/**
 * The body of a `direct_response`, read once at config time (Envoy's parseDirectResponseBody):
 * a file, inline bytes or an inline string, no larger than `maxBytes`.
 */
export function readDirectResponseBody(body: DataSource | undefined, maxBytes: number, path: string, errors: ConfigErrors): string {
  if (body === undefined) return ''
  if (body.filename !== undefined) {
    let data: Buffer
    try {
      data = fs.readFileSync(body.filename)
    } catch {
      errors.add(`${path}.filename`, `response body file ${body.filename} does not exist`)
      return ''
    }
    if (data.length > maxBytes) {
      errors.add(`${path}.filename`, `response body file ${body.filename} size is ${data.length} bytes; maximum is ${maxBytes}`)
      return ''
    }
    return data.toString('utf8')
  }
  let data: Buffer
  if (body.inline_bytes !== undefined) data = Buffer.from(body.inline_bytes, 'base64')
  else if (body.inline_string !== undefined) data = Buffer.from(body.inline_string, 'utf8')
  else if (body.environment_variable !== undefined) {
    const v = process.env[body.environment_variable]
    if (v === undefined) {
      errors.add(`${path}.environment_variable`, `environment variable ${body.environment_variable} is not set`)
      return ''
    }
    data = Buffer.from(v, 'utf8')
  } else return ''
  if (data.length > maxBytes) {
    errors.add(path, `response body size is ${data.length} bytes; maximum is ${maxBytes}`)
    return ''
  }
  return data.toString('utf8')
}
