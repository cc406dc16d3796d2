import type { CompiledMatcher } from '../../envoy/common/regex.js'
import { parseRegex } from '../common/regex.js'
import type { ListStringMatcher, RegexMatcher, StringMatcher } from '../protobuf/generated/envoy/type/matcher/v3.js'

/** A compiled `envoy.type.matcher.v3.StringMatcher`. */
export type StringMatch = (value: string) => boolean

/**
 * Compiles a config `RegexMatcher` with the RE2 engine (program-size checks included). Callers
 * use `match()`, which must match the whole input as Envoy's `safe_regex` does. Throws a
 * RegexError on a pattern RE2 rejects; the caller names the field.
 */
export function compileRegex(m: RegexMatcher): CompiledMatcher {
  return parseRegex(m)
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
    // Envoy: ignore_case "has no effect for the safe_regex match" (use `(?i)` in the pattern).
    const re = compileRegex(m.safe_regex)
    return (v) => re.match(v)
  }
  // StringMatcher's oneof is required by the schema; an empty matcher matches nothing.
  return () => false
}

export function compileListStringMatcher(m: ListStringMatcher): StringMatch {
  const all = m.patterns.map(compileStringMatcher)
  return (v) => all.some((f) => f(v))
}
