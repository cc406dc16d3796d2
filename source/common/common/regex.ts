/**
 * The one RE2 engine behind every regex that config or clients supply (Envoy's
 * `source/common/common/regex.cc`). It is re2js, a pure-JS port of RE2/J: RE2 syntax and
 * linear-time matching, no native build (BUILD.md says why it was chosen over `re2` and
 * `re2-wasm`, with the figures of bench/common/common/regex.bench.ts).
 *
 * Nothing outside this file imports re2js: the rest of the code holds a CompiledMatcher.
 */
import { RE2JS } from 're2js'
import type { CompiledMatcher, RegexMatch } from '../../envoy/common/regex.js'
import type { RuntimeSnapshot } from '../../envoy/runtime/runtime.js'
import type { RegexMatcher } from '../protobuf/generated/envoy/type/matcher/v3.js'

/** Envoy's default for the runtime key `re2.max_program_size.error_level`. */
export const DEFAULT_MAX_PROGRAM_SIZE_ERROR_LEVEL = 100

/** A pattern RE2 cannot compile: `message` is RE2's reason, as Envoy reports it. */
export class RegexError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RegexError'
  }
}

type Part = string | number

/** Parses RE2's rewrite syntax (`\0`..`\9`, `\\`) into literal text and group numbers. */
export function parseRewrite(substitution: string, groupCount: number): Part[] {
  const parts: Part[] = []
  let text = ''
  for (let i = 0; i < substitution.length; i++) {
    const c = substitution[i]!
    if (c !== '\\') {
      text += c
      continue
    }
    const n = substitution[++i]
    if (n === '\\') {
      text += '\\'
    } else if (n !== undefined && n >= '0' && n <= '9') {
      const g = Number(n)
      if (g > groupCount) {
        throw new RegexError(`Rewrite schema requests ${g} matches, but the regexp only has ${groupCount} parenthesized subexpressions`)
      }
      if (text !== '') parts.push(text)
      text = ''
      parts.push(g)
    } else {
      throw new RegexError(`invalid rewrite pattern: ${substitution}`)
    }
  }
  if (text !== '') parts.push(text)
  return parts
}

class Re2Matcher implements CompiledMatcher {
  readonly pattern: string
  readonly programSize: number
  readonly groupCount: number
  private readonly re: RE2JS
  private lastSubstitution: string | undefined
  private lastParts: Part[] = []

  constructor(pattern: string, ignoreCase: boolean) {
    let re: RE2JS
    try {
      re = RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0)
    } catch (err) {
      // re2js: "error parsing regexp: invalid or unsupported Perl syntax: `(?=`" (RE2's words).
      throw new RegexError(`invalid RE2 regex '${pattern}': ${(err as Error).message}`)
    }
    this.pattern = pattern
    this.re = re
    this.programSize = re.programSize()
    this.groupCount = re.groupCount()
  }

  match(value: string): boolean {
    return this.re.testExact(value)
  }

  search(value: string): boolean {
    return this.re.test(value)
  }

  find(value: string): RegexMatch | undefined {
    const m = this.re.matcher(value)
    if (!m.find()) return undefined
    const groups: RegexMatch['groups'] = []
    for (let g = 0; g <= this.groupCount; g++) {
      const start = m.start(g)
      groups.push(start < 0 ? undefined : { start, end: m.end(g), value: value.slice(start, m.end(g)) })
    }
    return { groups }
  }

  replaceAll(value: string, substitution: string): string {
    if (substitution !== this.lastSubstitution) {
      this.lastParts = parseRewrite(substitution, this.groupCount)
      this.lastSubstitution = substitution
    }
    const parts = this.lastParts
    const m = this.re.matcher(value)
    let out = ''
    let pos = 0
    let lastEnd = -1
    while (m.find()) {
      // RE2::GlobalReplace: no empty match right where the previous match ended.
      if (m.start() === lastEnd && m.end() === lastEnd) continue
      out += value.slice(pos, m.start())
      for (const p of parts) {
        if (typeof p === 'string') out += p
        else if (m.start(p) >= 0) out += value.slice(m.start(p), m.end(p))
      }
      pos = m.end()
      lastEnd = pos
    }
    return pos === 0 && out === '' ? value : out + value.slice(pos)
  }
}

/**
 * Compiles a pattern with no program-size check: Envoy's `CompiledGoogleReMatcherNoSafetyChecks`,
 * for patterns that are not config (`/stats?filter=`, `/config_dump?name_regex=`) and for our
 * own fixed ones. Throws a RegexError on a pattern RE2 rejects.
 */
export function compileRe2(pattern: string, opts: { ignoreCase?: boolean } = {}): CompiledMatcher {
  return new Re2Matcher(pattern, opts.ignoreCase === true)
}

/** What the program-size check reads: the runtime, and where a warning goes. */
export interface RegexRuntime {
  snapshot(): RuntimeSnapshot
  /** Called when a pattern is over `re2.max_program_size.warn_level` (`re2.exceeded_warn_level`). */
  exceededWarnLevel(pattern: string, programSize: number, warnLevel: number): void
}

// Per thread, like Envoy's Runtime::LoaderSingleton: set by the server once its runtime exists.
let regexRuntime: RegexRuntime | undefined

/** Installs (or, with undefined, removes) this thread's runtime for program-size checks. */
export function setRegexRuntime(r: RegexRuntime | undefined): void {
  regexRuntime = r
}

/**
 * Envoy's `Regex::Utility::parseRegex` for a config `RegexMatcher`: compiles it and applies the
 * program-size checks. With `google_re2.max_program_size` set, a program bigger than that is an
 * error; otherwise, once a runtime is installed, bigger than `re2.max_program_size.error_level`
 * (default 100) is an error and bigger than `re2.max_program_size.warn_level` (no default) is
 * counted and logged. Throws a RegexError (the caller adds the field path).
 */
export function parseRegex(m: RegexMatcher, opts: { ignoreCase?: boolean } = {}): CompiledMatcher {
  const matcher = compileRe2(m.regex, opts)
  const size = matcher.programSize
  const max = m.google_re2?.max_program_size
  if (max !== undefined) {
    if (size > max) {
      throw new RegexError(`regex '${m.regex}' RE2 program size of ${size} > max program size of ${max}. Increase configured max program size if necessary.`)
    }
    return matcher
  }
  if (regexRuntime !== undefined) {
    const snap = regexRuntime.snapshot()
    const errorLevel = snap.getInteger('re2.max_program_size.error_level', DEFAULT_MAX_PROGRAM_SIZE_ERROR_LEVEL)
    if (size > errorLevel) {
      throw new RegexError(`regex '${m.regex}' RE2 program size of ${size} > max program size of ${errorLevel} set for the error level threshold. Increase configured max program size if necessary.`)
    }
    const warnLevel = snap.getInteger('re2.max_program_size.warn_level', Number.MAX_SAFE_INTEGER)
    if (size > warnLevel) regexRuntime.exceededWarnLevel(m.regex, size, warnLevel)
  }
  return matcher
}

/** The syntax check alone, for the bootstrap validator: RE2's reason, or undefined when valid. */
export function re2SyntaxProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern)
    return undefined
  } catch (err) {
    return `invalid RE2 regex: ${(err as Error).message}`
  }
}
