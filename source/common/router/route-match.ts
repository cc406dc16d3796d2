import type { CompiledMatcher } from '../../envoy/common/regex.js'
import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { RuntimeSnapshot } from '../../envoy/runtime/runtime.js'
import { compileRegex } from '../matcher/string-matcher.js'
import type { RouteMatch } from '../protobuf/generated/envoy/config/route/v3.js'
import { type ConfigErrors, denominatorOf } from './config-utility.js'
import {
  compileHeaderMatchers, type HeaderDataMatcher, isGrpcRequest, matchHeaders, QueryParameterMatcherImpl,
} from './matchers.js'

/**
 * One route's `match` (Envoy's RouteEntryImplBase::matchRoute plus the path specifier of each
 * route kind), compiled once: plain string checks for prefix/path, a full-match RE2 matcher only
 * for `safe_regex`.
 */

const PREFIX = 0
const PATH = 1
const REGEX = 2
const CONNECT = 3
const SEPARATED_PREFIX = 4

export type RuntimeSource = () => RuntimeSnapshot | undefined

export class RouteMatchImpl {
  /** CONNECT matchers also match requests without a `:path`. */
  readonly supportsPathless: boolean
  private readonly kind: number
  private readonly caseSensitive: boolean
  /** The prefix or path, lower-cased when matching is case-insensitive. */
  private readonly value: string
  private readonly regex: CompiledMatcher | undefined
  private readonly headers: readonly HeaderDataMatcher[]
  private readonly queryParameters: readonly QueryParameterMatcherImpl[]
  private readonly grpc: boolean
  private readonly runtimeKey: string
  private readonly runtimeNumerator: number
  private readonly runtimeDenominator: number
  private readonly runtime: RuntimeSource | undefined

  constructor(m: RouteMatch, path: string, errors: ConfigErrors, runtime: RuntimeSource | undefined) {
    this.caseSensitive = m.case_sensitive ?? true
    const norm = (s: string): string => (this.caseSensitive ? s : s.toLowerCase())
    let kind = PREFIX
    let value = ''
    let regex: CompiledMatcher | undefined
    if (m.prefix !== undefined) {
      value = norm(m.prefix)
    } else if (m.path !== undefined) {
      kind = PATH
      value = norm(m.path)
    } else if (m.safe_regex !== undefined) {
      kind = REGEX
      regex = errors.attempt(`${path}.safe_regex`, () => compileRegex(m.safe_regex!))
    } else if (m.connect_matcher !== undefined) {
      kind = CONNECT
    } else if (m.path_separated_prefix !== undefined) {
      kind = SEPARATED_PREFIX
      value = norm(m.path_separated_prefix)
    } else if (m.path_match_policy !== undefined) {
      errors.notSupported(`${path}.path_match_policy`, 'path match policy extensions are not supported yet')
    } else {
      errors.add(path, 'one of prefix, path, safe_regex, connect_matcher, path_separated_prefix is required')
    }
    this.kind = kind
    this.value = value
    this.regex = regex
    this.supportsPathless = kind === CONNECT
    this.headers = compileHeaderMatchers(m.headers, `${path}.headers`, errors)
    this.queryParameters = m.query_parameters.map((q, i) => new QueryParameterMatcherImpl(q, `${path}.query_parameters[${i}]`, errors))
    this.grpc = m.grpc !== undefined
    this.runtime = runtime
    this.runtimeKey = m.runtime_fraction?.runtime_key ?? ''
    this.runtimeNumerator = -1
    this.runtimeDenominator = 100
    if (m.runtime_fraction !== undefined) {
      const d = m.runtime_fraction.default_value
      if (d === undefined) {
        errors.add(`${path}.runtime_fraction.default_value`, 'value is required')
      } else {
        this.runtimeNumerator = d.numerator
        this.runtimeDenominator = denominatorOf(d.denominator)
      }
    }
    if (m.tls_context !== undefined) errors.notSupported(`${path}.tls_context`, 'TLS context matching is not supported yet')
    if (m.dynamic_metadata.length > 0) errors.notSupported(`${path}.dynamic_metadata`, 'dynamic metadata matching is not supported yet')
  }

  /**
   * `path` is the request's path without query and fragment (and path parameters when the
   * table ignores them), undefined without a `:path`; `full` is the whole `:path`.
   */
  matches(headers: HeaderMap, path: string | undefined, full: string | undefined, random: number): boolean {
    if (!this.matchesPath(headers, path)) return false
    if (this.runtimeNumerator !== -1 && !this.runtimeEnabled(random)) return false
    if (this.grpc && !isGrpcRequest(headers)) return false
    if (this.headers.length > 0 && !matchHeaders(headers, this.headers)) return false
    if (this.queryParameters.length > 0) {
      if (full === undefined) return false
      for (let i = 0; i < this.queryParameters.length; i++) if (!this.queryParameters[i]!.matches(full)) return false
    }
    return true
  }

  /**
   * How much of `full` (a `:path`) a prefix rewrite replaces: the configured prefix or path,
   * or the whole path before the query for regex and CONNECT routes.
   */
  matchedLength(full: string, pathLength: number): number {
    return this.kind === REGEX || this.kind === CONNECT ? pathLength : Math.min(this.value.length, full.length)
  }

  private matchesPath(headers: HeaderMap, path: string | undefined): boolean {
    if (this.kind === CONNECT) return headers.get(':method') === 'CONNECT'
    if (path === undefined) return false
    switch (this.kind) {
      case PREFIX:
        return this.startsWith(path)
      case PATH:
        return path.length === this.value.length && (this.caseSensitive ? path === this.value : path.toLowerCase() === this.value)
      case REGEX:
        return this.regex !== undefined && this.regex.match(path)
      default: {
        // path_separated_prefix: the prefix must end at a segment boundary.
        const n = this.value.length
        return path.length >= n && this.startsWith(path) && (path.length === n || path.charCodeAt(n) === 0x2f)
      }
    }
  }

  private startsWith(path: string): boolean {
    if (this.caseSensitive) return path.startsWith(this.value)
    const n = this.value.length
    return path.length >= n && path.slice(0, n).toLowerCase() === this.value
  }

  private runtimeEnabled(random: number): boolean {
    let numerator = this.runtimeNumerator
    if (this.runtimeKey !== '' && this.runtime !== undefined) {
      const v = this.runtime()?.get(this.runtimeKey)
      if (v !== undefined && /^\s*\d+\s*$/.test(v)) numerator = Number(v)
    }
    return Math.floor(random * this.runtimeDenominator) < numerator
  }
}
