/**
 * Checks on whole messages that the field rules cannot express, keyed by message type. Each
 * returns problems as `[fieldName, message]`; the validator adds the path.
 */
type Check = (value: Record<string, unknown>) => Array<[string, string]>

function regexProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return undefined
  try {
    new RegExp(pattern, 'u')
    return undefined
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`
  }
}

export const MESSAGE_CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  ['.envoy.type.matcher.v3.RegexMatcher', (v) => {
    const p = regexProblem(v.regex)
    return p === undefined ? [] : [['regex', p]]
  }],
  ['.envoy.config.metrics.v3.TagSpecifier', (v) => {
    const p = regexProblem(v.regex)
    return p === undefined ? [] : [['regex', p]]
  }],
])
