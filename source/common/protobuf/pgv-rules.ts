import { compareDuration, type DurationParts, parseDuration } from './duration.js'

/**
 * The subset of protoc-gen-validate rules envoy-ts reads from `api/` protos, written in the
 * protos the way Envoy writes them: `[(validate.rules).uint32 = {lte: 65535}]`.
 * protobufjs hands them over as `parsedOptions: [{ '(validate.rules)': { uint32: {...} } }]`.
 */
export interface FieldRules {
  message?: { required?: boolean }
  string?: StringRules
  bytes?: { min_len?: number; max_len?: number }
  uint32?: NumberRules
  int32?: NumberRules
  uint64?: NumberRules
  int64?: NumberRules
  double?: NumberRules
  float?: NumberRules
  fixed32?: NumberRules
  fixed64?: NumberRules
  enum?: { defined_only?: boolean; in?: number[]; not_in?: number[] }
  repeated?: { min_items?: number; max_items?: number; unique?: boolean; items?: FieldRules }
  map?: { min_pairs?: number; max_pairs?: number; keys?: FieldRules; values?: FieldRules }
  duration?: DurationRules
  any?: { required?: boolean }
  timestamp?: { required?: boolean }
}

interface StringRules {
  min_len?: number
  max_len?: number
  min_bytes?: number
  max_bytes?: number
  prefix?: string
  suffix?: string
  contains?: string
  pattern?: string
  in?: string[]
  not_in?: string[]
  well_known_regex?: string
  strict?: boolean
}

interface NumberRules {
  const?: number
  gt?: number
  gte?: number
  lt?: number
  lte?: number
  in?: number[]
  not_in?: number[]
}

type DurationBound = { seconds?: number; nanos?: number }

interface DurationRules {
  required?: boolean
  gt?: DurationBound
  gte?: DurationBound
  lt?: DurationBound
  lte?: DurationBound
}

/** Reads a field's `(validate.rules)` from protobufjs's parsed options. */
export function rulesOf(parsedOptions: unknown): FieldRules | undefined {
  if (!Array.isArray(parsedOptions)) return undefined
  let out: FieldRules | undefined
  for (const opt of parsedOptions as Array<Record<string, unknown>>) {
    const r = opt['(validate.rules)']
    if (r !== undefined && typeof r === 'object') out = { ...(out ?? {}), ...(r as FieldRules) }
  }
  return out
}

const HEADER_NAME_RE = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/
const HEADER_VALUE_RE = /^[^\u0000\u000A\u000D]*$/
const HEADER_LOOSE_RE = /^[^\u0000\u000A\u000D]*$/

function asList<T>(v: T | T[] | undefined): T[] | undefined {
  if (v === undefined) return undefined
  return Array.isArray(v) ? v : [v]
}

function boundParts(b: DurationBound): DurationParts {
  return { seconds: Number(b.seconds ?? 0), nanos: Number(b.nanos ?? 0) }
}

function describeBound(b: DurationBound): string {
  const p = boundParts(b)
  return `${p.seconds + p.nanos / 1e9}s`
}

/** Checks a string value; returns the problem or undefined. */
export function checkString(v: string, r: StringRules): string | undefined {
  const len = [...v].length
  if (r.min_len !== undefined && len < Number(r.min_len)) {
    return Number(r.min_len) === 1 ? 'value must not be empty' : `value length must be at least ${r.min_len} characters`
  }
  if (r.max_len !== undefined && len > Number(r.max_len)) return `value length must be at most ${r.max_len} characters`
  const bytes = Buffer.byteLength(v)
  if (r.min_bytes !== undefined && bytes < Number(r.min_bytes)) {
    return Number(r.min_bytes) === 1 ? 'value must not be empty' : `value must be at least ${r.min_bytes} bytes`
  }
  if (r.max_bytes !== undefined && bytes > Number(r.max_bytes)) return `value must be at most ${r.max_bytes} bytes`
  if (r.prefix !== undefined && !v.startsWith(r.prefix)) return `value must start with "${r.prefix}"`
  if (r.suffix !== undefined && !v.endsWith(r.suffix)) return `value must end with "${r.suffix}"`
  if (r.contains !== undefined && !v.includes(r.contains)) return `value must contain "${r.contains}"`
  if (r.pattern !== undefined && !new RegExp(r.pattern, 'u').test(v)) return `value must match the pattern ${r.pattern}`
  const inList = asList(r.in)
  if (inList !== undefined && !inList.includes(v)) return `value must be one of ${inList.map((s) => `"${s}"`).join(', ')}`
  const notIn = asList(r.not_in)
  if (notIn !== undefined && notIn.includes(v)) return `value must not be "${v}"`
  if (r.well_known_regex === 'HTTP_HEADER_NAME' && v !== '') {
    const re = r.strict === false ? HEADER_LOOSE_RE : HEADER_NAME_RE
    if (!re.test(v)) return 'value is not a valid HTTP header name'
  }
  if (r.well_known_regex === 'HTTP_HEADER_VALUE') {
    const re = r.strict === false ? HEADER_LOOSE_RE : HEADER_VALUE_RE
    if (!re.test(v)) return 'value is not a valid HTTP header value'
  }
  return undefined
}

export function checkNumber(v: number, r: NumberRules): string | undefined {
  if (r.const !== undefined && v !== Number(r.const)) return `value must equal ${r.const}`
  const gt = r.gt !== undefined ? Number(r.gt) : undefined
  const gte = r.gte !== undefined ? Number(r.gte) : undefined
  const lt = r.lt !== undefined ? Number(r.lt) : undefined
  const lte = r.lte !== undefined ? Number(r.lte) : undefined
  const low = gt !== undefined ? v > gt : gte !== undefined ? v >= gte : true
  const high = lt !== undefined ? v < lt : lte !== undefined ? v <= lte : true
  if (!low || !high) {
    const parts: string[] = []
    if (gt !== undefined) parts.push(`greater than ${gt}`)
    if (gte !== undefined) parts.push(`greater than or equal to ${gte}`)
    if (lt !== undefined) parts.push(`less than ${lt}`)
    if (lte !== undefined) parts.push(`less than or equal to ${lte}`)
    return `value must be ${parts.join(' and ')}`
  }
  const inList = asList(r.in)?.map(Number)
  if (inList !== undefined && !inList.includes(v)) return `value must be one of ${inList.join(', ')}`
  const notIn = asList(r.not_in)?.map(Number)
  if (notIn !== undefined && notIn.includes(v)) return `value must not be ${v}`
  return undefined
}

export function checkDuration(v: string, r: DurationRules): string | undefined {
  const d = parseDuration(v)
  if (d === undefined) return undefined
  if (r.gt !== undefined && !(compareDuration(d, boundParts(r.gt)) > 0)) return `value must be greater than ${describeBound(r.gt)}`
  if (r.gte !== undefined && !(compareDuration(d, boundParts(r.gte)) >= 0)) return `value must be at least ${describeBound(r.gte)}`
  if (r.lt !== undefined && !(compareDuration(d, boundParts(r.lt)) < 0)) return `value must be less than ${describeBound(r.lt)}`
  if (r.lte !== undefined && !(compareDuration(d, boundParts(r.lte)) <= 0)) return `value must be at most ${describeBound(r.lte)}`
  return undefined
}

/** The rules that apply to a number of the given proto scalar type. */
export function numberRulesFor(rules: FieldRules, protoType: string): NumberRules | undefined {
  switch (protoType) {
    case 'uint32': return rules.uint32
    case 'int32': case 'sint32': case 'sfixed32': return rules.int32
    case 'uint64': return rules.uint64
    case 'int64': case 'sint64': case 'sfixed64': return rules.int64
    case 'double': return rules.double
    case 'float': return rules.float
    case 'fixed32': return rules.fixed32 ?? rules.uint32
    case 'fixed64': return rules.fixed64 ?? rules.uint64
    default: return undefined
  }
}
