import type { AccessLogType, StreamInfo } from '../../envoy/stream-info/stream-info.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { COMMAND_PROVIDERS, CommandSyntax, FormatSyntaxError } from './stream-info-formatter.js'

/**
 * One command operator (`%RESPONSE_CODE%`), built once at config time and called per entry
 * (Envoy's FormatterProvider).
 */
export interface FormatterProvider {
  /** Text form, or undefined when the value is not set (printed as `-`). */
  format(info: StreamInfo, type: AccessLogType): string | undefined
  /**
   * Typed form for JSON formats: a string, number, boolean, object or list, or null when the
   * value is not set.
   */
  formatValue(info: StreamInfo, type: AccessLogType): unknown
}

/** A parsed format string: literal text and operators, in order. */
export type FormatPart = string | FormatterProvider

// `%COMMAND(SUBCOMMAND):LENGTH%`, matched at a '%' (sticky). The subcommand cannot hold ')'.
const COMMAND_RE = /%([A-Z0-9_]+)(?:\(([^)]*)\))?(?::([0-9]+))?%/y

function checkSyntax(command: string, syntax: number, sub: string | undefined, length: number | undefined): void {
  const hasParams = sub !== undefined && sub !== ''
  if (syntax === CommandSyntax.COMMAND_ONLY && (hasParams || length !== undefined)) {
    throw new FormatSyntaxError(`${command} does not take any parameters or length`)
  }
  if ((syntax & CommandSyntax.PARAMS_REQUIRED) !== 0 && !hasParams) {
    throw new FormatSyntaxError(`${command} requires parameters`)
  }
  if ((syntax & CommandSyntax.LENGTH_ALLOWED) === 0 && length !== undefined) {
    throw new FormatSyntaxError(`${command} does not allow length to be specified.`)
  }
}

function parseCommand(command: string, sub: string | undefined, lengthText: string | undefined): FormatterProvider {
  const entry = COMMAND_PROVIDERS.get(command)
  if (entry === undefined) throw new FormatSyntaxError(`Not supported field in StreamInfo: ${command}`)
  const length = lengthText === undefined ? undefined : Number(lengthText)
  if (length !== undefined && !Number.isSafeInteger(length)) throw new FormatSyntaxError(`Length must be an integer, given: ${lengthText}`)
  checkSyntax(command, entry.syntax, sub, length)
  return entry.create(sub ?? '', length)
}

/**
 * Parses an Envoy format string (`[%START_TIME%] "%REQ(:METHOD)%"...`) into literal text and
 * operators. `%%` is a literal `%`. Throws ConfigError(CONFIG_INVALID) naming `path` for an
 * unknown or malformed operator, so a bad format fails at config load and never per entry.
 */
export function parseSubstitutionFormat(format: string, path: string): FormatPart[] {
  const parts: FormatPart[] = []
  let literal = ''
  let pos = 0
  while (pos < format.length) {
    const next = format.indexOf('%', pos)
    if (next === -1) {
      literal += format.slice(pos)
      break
    }
    literal += format.slice(pos, next)
    if (format[next + 1] === '%') {
      literal += '%'
      pos = next + 2
      continue
    }
    COMMAND_RE.lastIndex = next
    const m = COMMAND_RE.exec(format)
    if (m === null) {
      throw new ConfigError(ErrorCode.CONFIG_INVALID, [
        `${path}: Incorrect configuration: ${format}. Couldn't find valid command at position ${next}`,
      ])
    }
    let provider: FormatterProvider
    try {
      provider = parseCommand(m[1]!, m[2], m[3])
    } catch (err) {
      if (!(err instanceof FormatSyntaxError)) throw err
      throw new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}: ${err.message} (in "${m[0]}" at position ${next})`])
    }
    if (literal !== '') parts.push(literal)
    literal = ''
    parts.push(provider)
    pos = next + m[0].length
  }
  if (literal !== '') parts.push(literal)
  return parts
}
