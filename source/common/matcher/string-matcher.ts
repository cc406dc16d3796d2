import type { ListStringMatcher, RegexMatcher, StringMatcher } from '../protobuf/generated/envoy/type/matcher/v3.js'

/** A compiled `envoy.type.matcher.v3.StringMatcher`. */
export type StringMatch = (value: string) => boolean

/**
 * Compiles an RE2-style `safe_regex` into a JS RegExp that must match the whole input, as
 * Envoy's regex matchers do. Throws on a pattern JS cannot compile.
 */
export function compileRegex(m: RegexMatcher, flags = ''): RegExp {
  return new RegExp(`^(?:${m.regex})$`, flags)
}

export function compileStringMatcher(m: StringMatcher): StringMatch {
  const ic = m.ignore_case
  const norm = ic ? (s: string): string => s.toLowerCase() : (s: string): string => s
  if (m.exact !== undefined) {
    const want = norm(m.exact)
    return (v) => norm(v) === want
  }
  if (m.prefix !== undefined) {
    const want = norm(m.prefix)
    return (v) => norm(v).startsWith(want)
  }
  if (m.suffix !== undefined) {
    const want = norm(m.suffix)
    return (v) => norm(v).endsWith(want)
  }
  if (m.contains !== undefined) {
    const want = norm(m.contains)
    return (v) => norm(v).includes(want)
  }
  if (m.safe_regex !== undefined) {
    const re = compileRegex(m.safe_regex, ic ? 'i' : '')
    return (v) => re.test(v)
  }
  // StringMatcher's oneof is required by the schema; an empty matcher matches nothing.
  return () => false
}

export function compileListStringMatcher(m: ListStringMatcher): StringMatch {
  const all = m.patterns.map(compileStringMatcher)
  return (v) => all.some((f) => f(v))
}
