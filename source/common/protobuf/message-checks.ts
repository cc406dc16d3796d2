import { compileRe2, re2SyntaxProblem } from '../common/regex.js'

/**
 * Checks on whole messages that the field rules cannot express, keyed by message type. Each
 * returns problems as `[fieldName, message]`; the validator adds the path.
 */
type Check = (value: Record<string, unknown>) => Array<[string, string]>

/**
 * A config regex must be RE2 (Envoy's `safe_regex`): a pattern RE2 rejects (lookaround,
 * backreferences, bad syntax) is refused at load time, naming the field.
 */
function regexProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return undefined
  return re2SyntaxProblem(pattern)
}

export const MESSAGE_CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  ['.envoy.type.matcher.v3.RegexMatcher', (v) => {
    const p = regexProblem(v.regex)
    if (p !== undefined) return [['regex', p]]
    // The deprecated per-regex limit (Envoy checks it when the field is set; the runtime's
    // re2.max_program_size.error_level applies otherwise, when the regex is built).
    const max = (v.google_re2 as { max_program_size?: unknown } | undefined)?.max_program_size
    if (typeof max !== 'number' || typeof v.regex !== 'string') return []
    const size = compileRe2(v.regex).programSize
    return size > max
      ? [['regex', `regex '${v.regex}' RE2 program size of ${size} > max program size of ${max}. Increase configured max program size if necessary.`]]
      : []
  }],
  ['.envoy.config.metrics.v3.TagSpecifier', (v) => {
    const p = regexProblem(v.regex)
    return p === undefined ? [] : [['regex', p]]
  }],
])
