import protobuf from 'protobufjs'
import { formatDuration, parseDuration } from './duration.js'
import {
  checkDuration, checkNumber, checkString, type FieldRules, numberRulesFor, rulesOf,
} from './pgv-rules.js'
import { MESSAGE_CHECKS } from './message-checks.js'
import { typeNameFromUrl } from './schema.js'

/**
 * Turns user YAML/JSON into a message's canonical JSON form, checking it against the schema on
 * the way, and collects every problem with its path instead of stopping at the first.
 *
 * The output ("the validated config") is plain JSON with proto field names: scalars and enums
 * are always present (proto3 defaults filled in, enums by name), repeated fields are arrays, maps
 * are objects, message fields are present only when set, 64-bit integers are numbers, Durations
 * are strings (`"1.5s"`), wrapper types are bare values, and `Any` is `{ '@type', ...fields }`.
 */
export interface ValidateOptions {
  /** `--allow-unknown-static-fields`: unknown fields are dropped and reported, not errors. */
  allowUnknownFields?: boolean
}

export interface ValidationResult<T> {
  value: T
  errors: string[]
  /** Paths of unknown fields that were dropped (only with `allowUnknownFields`). */
  unknownFields: string[]
  /** Paths of fields marked deprecated in the schema. */
  deprecated: string[]
}

interface Context {
  errors: string[]
  unknownFields: string[]
  deprecated: string[]
  allowUnknown: boolean
}

const INT32_TYPES = new Set(['int32', 'sint32', 'sfixed32'])
const UINT32_TYPES = new Set(['uint32', 'fixed32'])
const INT64_TYPES = new Set(['int64', 'sint64', 'sfixed64'])
const UINT64_TYPES = new Set(['uint64', 'fixed64'])

const WRAPPERS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
}

const NOT_IMPLEMENTED_OPTION = '(envoy_ts.not_implemented)'

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'an object'
  if (typeof v === 'string') return `string "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`
  return `${typeof v} ${String(v)}`
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function lowerCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]!
}

function suggestion(key: string, candidates: Iterable<string>): string {
  let best: string | undefined
  let bestD = 3
  for (const c of candidates) {
    const d = editDistance(key, c)
    if (d < bestD) {
      bestD = d
      best = c
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`
}

interface TypeIndex {
  byKey: Map<string, protobuf.Field>
}

export class MessageValidator {
  private readonly root: protobuf.Root
  private readonly index = new Map<protobuf.Type, TypeIndex>()

  constructor(root: protobuf.Root) {
    this.root = root
  }

  /** The schema type of a full name (`envoy.config.bootstrap.v3.Bootstrap`), if known. */
  findType(fullName: string): protobuf.Type | undefined {
    // A type URL names a message relative to the root: '' would find the root namespace itself
    // and a leading '.' a protobufjs absolute path, neither of them a message Envoy would accept.
    if (fullName === '' || fullName.startsWith('.')) return undefined
    try {
      const type = this.root.lookupType(fullName)
      return type instanceof protobuf.Type ? type : undefined
    } catch {
      return undefined
    }
  }

  validate<T>(typeName: string, input: unknown, basePath = '', options: ValidateOptions = {}): ValidationResult<T> {
    const ctx: Context = { errors: [], unknownFields: [], deprecated: [], allowUnknown: options.allowUnknownFields === true }
    const type = this.root.lookupType(typeName)
    const value = this.message(type, input ?? {}, basePath, ctx)
    return { value: (value ?? {}) as T, errors: ctx.errors, unknownFields: ctx.unknownFields, deprecated: ctx.deprecated }
  }

  private indexOf(type: protobuf.Type): TypeIndex {
    let idx = this.index.get(type)
    if (idx === undefined) {
      const byKey = new Map<string, protobuf.Field>()
      for (const f of type.fieldsArray) {
        byKey.set(f.name, f)
        byKey.set(lowerCamel(f.name), f)
      }
      idx = { byKey }
      this.index.set(type, idx)
    }
    return idx
  }

  private message(type: protobuf.Type, input: unknown, path: string, ctx: Context): Record<string, unknown> | undefined {
    const special = this.wellKnown(type, input, path, ctx)
    if (special !== NOT_SPECIAL) return special as Record<string, unknown> | undefined
    if (!isPlainObject(input)) {
      ctx.errors.push(`${path || '(root)'}: expected an object (${type.name}), got ${describe(input)}`)
      return undefined
    }
    const idx = this.indexOf(type)
    const out: Record<string, unknown> = {}
    const setOneofs = new Map<string, string[]>()
    for (const [key, raw] of Object.entries(input)) {
      const field = idx.byKey.get(key)
      const fieldPath = join(path, key)
      if (field === undefined) {
        if (ctx.allowUnknown) ctx.unknownFields.push(fieldPath)
        else ctx.errors.push(`${fieldPath}: unknown field in ${type.fullName.slice(1)}${suggestion(key, type.fieldsArray.map((f) => f.name))}`)
        continue
      }
      if (raw === null || raw === undefined) continue
      const reason = field.options?.[NOT_IMPLEMENTED_OPTION] as string | undefined
      if (reason !== undefined) {
        ctx.errors.push(`${join(path, field.name)}: not supported by envoy-ts yet: ${reason}`)
        continue
      }
      if (field.options?.deprecated === true) ctx.deprecated.push(join(path, field.name))
      if (field.partOf !== null && field.partOf !== undefined) {
        const members = setOneofs.get(field.partOf.name) ?? []
        members.push(field.name)
        setOneofs.set(field.partOf.name, members)
      }
      const v = this.fieldValue(field, raw, join(path, field.name), ctx)
      if (v !== undefined) out[field.name] = v
    }
    for (const oneof of type.oneofsArray) {
      const members = setOneofs.get(oneof.name) ?? []
      if (members.length > 1) {
        ctx.errors.push(`${path || '(root)'}: only one of ${oneof.oneof.join(', ')} may be set (${members.join(' and ')} are)`)
      } else if (members.length === 0 && oneof.options?.['(validate.required)'] === true) {
        ctx.errors.push(`${path || '(root)'}: one of ${oneof.oneof.join(', ')} is required`)
      }
    }
    for (const field of type.fieldsArray) this.finishField(field, out, join(path, field.name), ctx)
    const check = MESSAGE_CHECKS.get(type.fullName)
    if (check !== undefined) for (const [field, problem] of check(out)) ctx.errors.push(`${join(path, field)}: ${problem}`)
    return out
  }

  /** Fills the proto3 default of an unset field and applies the field's rules. */
  private finishField(field: protobuf.Field, out: Record<string, unknown>, path: string, ctx: Context): void {
    const rules = rulesOf(field.parsedOptions)
    const inOneof = field.partOf !== null && field.partOf !== undefined
    if (!(field.name in out)) {
      if (field.map) out[field.name] = {}
      else if (field.repeated) out[field.name] = []
      else if (!inOneof) {
        const def = this.defaultOf(field)
        if (def !== undefined) out[field.name] = def
      }
      // Rules on an unset oneof member do not apply (protoc-gen-validate's rule).
      if (rules !== undefined && !(field.name in out) && !inOneof) {
        if (rules.message?.required === true || rules.duration?.required === true ||
          rules.any?.required === true || rules.timestamp?.required === true) {
          ctx.errors.push(`${path}: value is required`)
        }
        return
      }
    }
    if (rules === undefined || !(field.name in out)) return
    const v = out[field.name]
    if (field.map) {
      const m = v as Record<string, unknown>
      const n = Object.keys(m).length
      if (rules.map?.min_pairs !== undefined && n < Number(rules.map.min_pairs)) ctx.errors.push(`${path}: value must have at least ${rules.map.min_pairs} entries`)
      if (rules.map?.max_pairs !== undefined && n > Number(rules.map.max_pairs)) ctx.errors.push(`${path}: value must have at most ${rules.map.max_pairs} entries`)
      return
    }
    if (field.repeated) {
      const arr = v as unknown[]
      const r = rules.repeated
      if (r?.min_items !== undefined && arr.length < Number(r.min_items)) ctx.errors.push(`${path}: value must contain at least ${r.min_items} item(s)`)
      if (r?.max_items !== undefined && arr.length > Number(r.max_items)) ctx.errors.push(`${path}: value must contain at most ${r.max_items} item(s)`)
      if (r?.unique === true && new Set(arr.map((x) => JSON.stringify(x))).size !== arr.length) ctx.errors.push(`${path}: items must be unique`)
      if (r?.items !== undefined) arr.forEach((item, i) => this.applyScalarRules(field, item, r.items!, `${path}[${i}]`, ctx))
      return
    }
    this.applyScalarRules(field, v, rules, path, ctx)
  }

  private applyScalarRules(field: protobuf.Field, v: unknown, rules: FieldRules, path: string, ctx: Context): void {
    let problem: string | undefined
    const scalarType = WRAPPERS[field.resolvedType?.fullName ?? ''] ?? field.type
    if (typeof v === 'string' && rules.string !== undefined) problem = checkString(v, rules.string)
    else if (typeof v === 'string' && field.resolvedType?.fullName === '.google.protobuf.Duration' && rules.duration !== undefined) problem = checkDuration(v, rules.duration)
    else if (typeof v === 'number') {
      const nr = numberRulesFor(rules, scalarType)
      if (nr !== undefined) problem = checkNumber(v, nr)
    } else if (typeof v === 'string' && field.resolvedType instanceof protobuf.Enum && rules.enum !== undefined) {
      const num = field.resolvedType.values[v]
      if (num !== undefined && rules.enum.not_in !== undefined && [rules.enum.not_in].flat().map(Number).includes(num)) problem = `value must not be ${v}`
    }
    if (problem !== undefined) ctx.errors.push(`${path}: ${problem}`)
  }

  private defaultOf(field: protobuf.Field): unknown {
    const rt = field.resolvedType
    if (rt instanceof protobuf.Enum) {
      const zero = Object.entries(rt.values).find(([, n]) => n === 0)
      return zero?.[0] ?? Object.keys(rt.values)[0]
    }
    if (rt instanceof protobuf.Type) return undefined
    switch (field.type) {
      case 'string': case 'bytes': return ''
      case 'bool': return false
      default: return 0
    }
  }

  private fieldValue(field: protobuf.Field, raw: unknown, path: string, ctx: Context): unknown {
    if (field.map) {
      if (!isPlainObject(raw)) {
        ctx.errors.push(`${path}: expected a map (object), got ${describe(raw)}`)
        return undefined
      }
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(raw)) {
        const kp = `${path}["${k}"]`
        if ((field as unknown as protobuf.MapField).keyType !== 'string' && !/^-?\d+$/.test(k)) {
          ctx.errors.push(`${kp}: map key must be an integer`)
          continue
        }
        const nv = this.single(field, v, kp, ctx)
        if (nv !== undefined) out[k] = nv
      }
      return out
    }
    if (field.repeated) {
      if (!Array.isArray(raw)) {
        ctx.errors.push(`${path}: expected a list, got ${describe(raw)}`)
        return undefined
      }
      const out: unknown[] = []
      raw.forEach((item, i) => {
        const nv = this.single(field, item, `${path}[${i}]`, ctx)
        if (nv !== undefined) out.push(nv)
      })
      return out
    }
    return this.single(field, raw, path, ctx)
  }

  private single(field: protobuf.Field, raw: unknown, path: string, ctx: Context): unknown {
    const rt = field.resolvedType
    if (rt instanceof protobuf.Type) return this.message(rt, raw, path, ctx)
    if (rt instanceof protobuf.Enum) return this.enumValue(rt, raw, path, ctx)
    return this.scalar(field.type, raw, path, ctx)
  }

  private enumValue(e: protobuf.Enum, raw: unknown, path: string, ctx: Context): string | undefined {
    if (typeof raw === 'string') {
      if (raw in e.values) return raw
      ctx.errors.push(`${path}: unknown value "${raw}" for enum ${e.fullName.slice(1)}; expected one of ${Object.keys(e.values).join(', ')}`)
      return undefined
    }
    if (typeof raw === 'number' && Number.isInteger(raw)) {
      const name = e.valuesById[raw]
      if (name !== undefined) return name
      ctx.errors.push(`${path}: ${raw} is not a value of enum ${e.fullName.slice(1)}`)
      return undefined
    }
    ctx.errors.push(`${path}: expected an enum name or number, got ${describe(raw)}`)
    return undefined
  }

  private scalar(type: string, raw: unknown, path: string, ctx: Context): unknown {
    if (type === 'string') {
      if (typeof raw === 'string') return raw
      ctx.errors.push(`${path}: expected a string, got ${describe(raw)}${typeof raw === 'number' || typeof raw === 'boolean' ? ' (quote it)' : ''}`)
      return undefined
    }
    if (type === 'bool') {
      if (typeof raw === 'boolean') return raw
      ctx.errors.push(`${path}: expected true or false, got ${describe(raw)}`)
      return undefined
    }
    if (type === 'bytes') {
      if (typeof raw === 'string') return raw
      ctx.errors.push(`${path}: expected base64 bytes as a string, got ${describe(raw)}`)
      return undefined
    }
    if (type === 'double' || type === 'float') {
      if (typeof raw === 'number') return raw
      if (typeof raw === 'string' && raw.trim() !== '' && !Number.isNaN(Number(raw))) return Number(raw)
      if (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity') return Number(raw)
      ctx.errors.push(`${path}: expected a number, got ${describe(raw)}`)
      return undefined
    }
    let n: number
    if (typeof raw === 'number') n = raw
    else if (typeof raw === 'string' && /^-?\d+$/.test(raw.trim())) n = Number(raw.trim())
    else {
      ctx.errors.push(`${path}: expected an integer, got ${describe(raw)}`)
      return undefined
    }
    if (!Number.isInteger(n)) {
      ctx.errors.push(`${path}: expected an integer, got ${n}`)
      return undefined
    }
    const unsigned = UINT32_TYPES.has(type) || UINT64_TYPES.has(type)
    if (unsigned && n < 0) {
      ctx.errors.push(`${path}: expected a non-negative integer, got ${n}`)
      return undefined
    }
    if ((UINT32_TYPES.has(type) && n > 0xffffffff) || (INT32_TYPES.has(type) && (n < -0x80000000 || n > 0x7fffffff))) {
      ctx.errors.push(`${path}: ${n} is out of range for ${type}`)
      return undefined
    }
    if ((INT64_TYPES.has(type) || UINT64_TYPES.has(type)) && !Number.isSafeInteger(n)) {
      ctx.errors.push(`${path}: ${raw} is too large (envoy-ts keeps 64-bit integers below 2^53)`)
      return undefined
    }
    return n
  }

  /** Well-known types with their own JSON form; NOT_SPECIAL for ordinary messages. */
  private wellKnown(type: protobuf.Type, raw: unknown, path: string, ctx: Context): unknown {
    const name = type.fullName
    const wrapped = WRAPPERS[name]
    if (wrapped !== undefined) {
      const inner = isPlainObject(raw) && 'value' in raw ? raw.value : raw
      return this.scalar(wrapped, inner, path, ctx)
    }
    switch (name) {
      case '.google.protobuf.Duration': {
        if (typeof raw === 'string') {
          const d = parseDuration(raw.trim())
          if (d !== undefined) return formatDuration(d)
        } else if (isPlainObject(raw) && Object.keys(raw).every((k) => k === 'seconds' || k === 'nanos')) {
          const seconds = Number(raw.seconds ?? 0)
          const nanos = Number(raw.nanos ?? 0)
          if (Number.isInteger(seconds) && Number.isInteger(nanos) && Math.abs(nanos) < 1e9) return formatDuration({ seconds, nanos })
        }
        ctx.errors.push(`${path}: expected a duration such as "5s" or "0.25s", got ${describe(raw)}`)
        return undefined
      }
      case '.google.protobuf.Timestamp':
        if (typeof raw === 'string' && !Number.isNaN(Date.parse(raw))) return raw
        ctx.errors.push(`${path}: expected an RFC 3339 timestamp, got ${describe(raw)}`)
        return undefined
      case '.google.protobuf.Struct':
        if (isPlainObject(raw)) return raw
        ctx.errors.push(`${path}: expected an object, got ${describe(raw)}`)
        return undefined
      case '.google.protobuf.Value':
        return raw
      case '.google.protobuf.ListValue':
        if (Array.isArray(raw)) return raw
        ctx.errors.push(`${path}: expected a list, got ${describe(raw)}`)
        return undefined
      case '.google.protobuf.Empty':
        if (isPlainObject(raw) && Object.keys(raw).length === 0) return {}
        ctx.errors.push(`${path}: expected an empty object {}, got ${describe(raw)}`)
        return undefined
      case '.google.protobuf.FieldMask':
        if (typeof raw === 'string') return raw
        ctx.errors.push(`${path}: expected a comma-separated list of field paths, got ${describe(raw)}`)
        return undefined
      case '.google.protobuf.Any':
        return this.any(raw, path, ctx)
      default:
        return NOT_SPECIAL
    }
  }

  private any(raw: unknown, path: string, ctx: Context): Record<string, unknown> | undefined {
    if (!isPlainObject(raw)) {
      ctx.errors.push(`${path}: expected an object with "@type", got ${describe(raw)}`)
      return undefined
    }
    const url = raw['@type']
    if (typeof url !== 'string' || url === '') {
      ctx.errors.push(`${path}: "@type" is required`)
      return undefined
    }
    const typeName = typeNameFromUrl(url)
    const inner = this.findType(typeName)
    if (inner === undefined) {
      ctx.errors.push(`${path}: unknown type URL "${url}": envoy-ts has no message ${typeName}`)
      return undefined
    }
    const { '@type': _, ...body } = raw
    const special = this.wellKnown(inner, 'value' in body ? body.value : body, path, ctx)
    if (special !== NOT_SPECIAL) return special === undefined ? undefined : { '@type': url, value: special }
    const v = this.message(inner, body, path, ctx)
    return v === undefined ? undefined : { '@type': url, ...v }
  }
}

const NOT_SPECIAL = Symbol('not special')
