/**
 * Regular expressions that config or clients supply (Envoy's `envoy/common/regex.h`). Every such
 * pattern is compiled by an RE2 engine: RE2 syntax (no lookaround, no backreferences) and
 * matching in time linear in the input, so no pattern can make a thread backtrack.
 */

/** One capture group of a match: its text and where it is in the input (UTF-16 offsets). */
export interface RegexGroup {
  start: number
  end: number
  value: string
}

/**
 * The first match found by {@link CompiledMatcher.find}: `groups[0]` is the whole match,
 * `groups[i]` the i-th parenthesised group, undefined when that group took no part.
 */
export interface RegexMatch {
  groups: Array<RegexGroup | undefined>
}

/** A compiled pattern (Envoy's `Regex::CompiledMatcher`). Safe to share; holds no match state. */
export interface CompiledMatcher {
  /** The pattern as configured. */
  readonly pattern: string
  /** RE2's "program size", a rough measure of the pattern's cost (`re2.program_size`). */
  readonly programSize: number
  /** The number of parenthesised capture groups. */
  readonly groupCount: number
  /** True when the pattern matches the WHOLE value (RE2::FullMatch), as `safe_regex` does. */
  match(value: string): boolean
  /** True when the pattern matches anywhere in the value (RE2::PartialMatch), as `/stats?filter=`. */
  search(value: string): boolean
  /** The first (leftmost) match in `value`, with its groups; undefined when none. */
  find(value: string): RegexMatch | undefined
  /**
   * Replaces every non-overlapping match (RE2::GlobalReplace) with `substitution`, in which `\0`
   * is the whole match, `\1`..`\9` a group and `\\` a backslash (RE2's rewrite syntax). Throws
   * when the substitution is malformed or names a group the pattern does not have.
   */
  replaceAll(value: string, substitution: string): string
}
