import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { CompiledMatcher } from '../../envoy/common/regex.js'
import { parseRewrite } from '../common/regex.js'
import { compileRegex, compileStringMatcher, type StringMatch } from '../matcher/string-matcher.js'
import type { HeaderMatcher, QueryParameterMatcher } from '../protobuf/generated/envoy/config/route/v3.js'
import type { RegexMatchAndSubstitute } from '../protobuf/generated/envoy/type/matcher/v3.js'
import type { ConfigErrors } from './config-utility.js'

/**
 * Request matchers of the route table (Envoy's HeaderUtility::HeaderData, ConfigUtility's
 * QueryParameterMatcher, Regex::replaceAll), compiled once at config time.
 */

/** Where the port starts in a host (`foo:80` → 3), or -1; IPv6 brackets are respected. */
export function getPortStart(host: string): number {
  const colon = host.lastIndexOf(':')
  if (colon === -1) return -1
  const v6End = host.lastIndexOf(']')
  return v6End === -1 || v6End < colon ? colon : -1
}

/** Index of the end of the path proper: the first `?` or `#`, or the length. */
export function pathEnd(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return i
  }
  return path.length
}

/** `:path` without its query string and fragment. */
export function pathWithoutQuery(path: string): string {
  const end = pathEnd(path)
  return end === path.length ? path : path.slice(0, end)
}

/** Envoy's gRPC request check: a `:path` and content-type `application/grpc` or `application/grpc+...`. */
export function isGrpcRequest(headers: HeaderMap): boolean {
  const ct = headers.get('content-type')
  if (ct === undefined || !ct.startsWith('application/grpc') || !headers.has(':path')) return false
  return ct.length === 16 || ct.charCodeAt(16) === 0x2b /* + */
}

const INT_RE = /^\s*[+-]?\d+\s*$/

/** A compiled `HeaderMatcher`. */
export class HeaderDataMatcher {
  readonly name: string
  private readonly invert: boolean
  private readonly missingAsEmpty: boolean
  /** For presence matchers: what presence must be; undefined for value matchers. */
  private readonly present: boolean | undefined
  private readonly value: StringMatch | undefined

  constructor(m: HeaderMatcher, path: string, errors: ConfigErrors) {
    this.name = m.name.toLowerCase()
    this.invert = m.invert_match
    this.missingAsEmpty = m.treat_missing_header_as_empty
    let present: boolean | undefined
    let value: StringMatch | undefined
    if (m.exact_match !== undefined) {
      const want = m.exact_match
      // Envoy: an empty exact_match matches any value.
      value = want === '' ? () => true : (v) => v === want
    } else if (m.safe_regex_match !== undefined) {
      const re = errors.attempt(`${path}.safe_regex_match`, () => compileRegex(m.safe_regex_match!))
      value = re === undefined ? () => false : (v) => re.match(v)
    } else if (m.range_match !== undefined) {
      const { start, end } = m.range_match
      value = (v) => {
        if (!INT_RE.test(v)) return false
        const n = Number(v)
        return n >= start && n < end
      }
    } else if (m.prefix_match !== undefined) {
      const want = m.prefix_match
      value = (v) => v.startsWith(want)
    } else if (m.suffix_match !== undefined) {
      const want = m.suffix_match
      value = (v) => v.endsWith(want)
    } else if (m.contains_match !== undefined) {
      const want = m.contains_match
      value = (v) => v.includes(want)
    } else if (m.string_match !== undefined) {
      value = errors.attempt(`${path}.string_match`, () => compileStringMatcher(m.string_match!)) ?? (() => false)
    } else {
      // present_match, or no specifier at all: a presence test.
      present = m.present_match ?? true
    }
    this.present = present
    this.value = value
  }

  matches(headers: HeaderMap): boolean {
    const all = headers.getAll(this.name)
    let v: string
    if (all.length === 0) {
      if (!this.missingAsEmpty) {
        // A missing header never matches a value matcher, inverted or not (Envoy).
        if (this.present === undefined) return false
        return this.invert ? this.present : !this.present
      }
      v = ''
    } else {
      v = all.length === 1 ? all[0]! : all.join(',')
    }
    const match = this.value === undefined ? this.present! : this.value(v)
    return match !== this.invert
  }
}

export function compileHeaderMatchers(list: readonly HeaderMatcher[], path: string, errors: ConfigErrors): HeaderDataMatcher[] {
  return list.map((m, i) => new HeaderDataMatcher(m, `${path}[${i}]`, errors))
}

/** True when every matcher matches (an empty list matches). */
export function matchHeaders(headers: HeaderMap, matchers: readonly HeaderDataMatcher[]): boolean {
  for (let i = 0; i < matchers.length; i++) if (!matchers[i]!.matches(headers)) return false
  return true
}

/**
 * The first value of query parameter `name` in `path` (not percent-decoded, as Envoy's route
 * matching), '' for a bare `name`, undefined when absent.
 */
export function firstQueryParam(path: string, name: string): string | undefined {
  const q = path.indexOf('?')
  if (q === -1) return undefined
  let end = path.indexOf('#', q)
  if (end === -1) end = path.length
  let start = q + 1
  while (start <= end) {
    let amp = path.indexOf('&', start)
    if (amp === -1 || amp > end) amp = end
    const eq = path.indexOf('=', start)
    if (eq !== -1 && eq < amp) {
      if (eq - start === name.length && path.startsWith(name, start)) return path.slice(eq + 1, amp)
    } else if (amp - start === name.length && path.startsWith(name, start)) {
      return ''
    }
    start = amp + 1
  }
  return undefined
}

/** A compiled `QueryParameterMatcher`: the first occurrence must be present / match. */
export class QueryParameterMatcherImpl {
  private readonly name: string
  private readonly value: StringMatch | undefined

  constructor(m: QueryParameterMatcher, path: string, errors: ConfigErrors) {
    this.name = m.name
    this.value = m.string_match === undefined
      ? undefined
      : errors.attempt(`${path}.string_match`, () => compileStringMatcher(m.string_match!)) ?? (() => false)
  }

  matches(path: string): boolean {
    const v = firstQueryParam(path, this.name)
    if (v === undefined) return false
    return this.value === undefined || this.value(v)
  }
}

/**
 * A compiled `RegexMatchAndSubstitute`: every match of the (unanchored) RE2 pattern is replaced,
 * with RE2's rewrite syntax (`\1`, `\0` for the whole match, `\\` for a backslash).
 */
export class RegexRewrite {
  private readonly re: CompiledMatcher
  private readonly substitution: string

  private constructor(re: CompiledMatcher, substitution: string) {
    this.re = re
    this.substitution = substitution
  }

  /** Builds the rewrite, reporting a bad pattern or substitution under `path`. */
  static compile(m: RegexMatchAndSubstitute, path: string, errors: ConfigErrors): RegexRewrite | undefined {
    if (m.pattern === undefined) {
      errors.add(`${path}.pattern`, 'value is required')
      return undefined
    }
    const re = errors.attempt(`${path}.pattern.regex`, () => compileRegex(m.pattern!))
    if (re === undefined) return undefined
    const ok = errors.attempt(`${path}.substitution`, () => parseRewrite(m.substitution, re.groupCount))
    return ok === undefined ? undefined : new RegexRewrite(re, m.substitution)
  }

  replaceAll(input: string): string {
    return this.re.replaceAll(input, this.substitution)
  }
}
