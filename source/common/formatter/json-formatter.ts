import fs from 'node:fs'
import type { DataSource, SubstitutionFormatString } from '../protobuf/generated/envoy/config/core/v3.js'
import type { AccessLogType, StreamInfo } from '../../envoy/stream-info/stream-info.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { type FormatPart, parseSubstitutionFormat } from './substitution-format-parser.js'
import { DEFAULT_FORMAT, type Formatter, FormatterImpl } from './substitution-formatter.js'

/**
 * Structured formats (`json_format`): a Struct whose string values may hold command operators.
 * Compiled once into a tree; each entry renders it straight to one JSON line.
 */

type Node =
  | { kind: 'constant'; json: string }
  | { kind: 'single'; provider: Exclude<FormatPart, string> }
  | { kind: 'concat'; parts: FormatPart[] }
  | { kind: 'object'; entries: Array<readonly [string, Node]> }
  | { kind: 'list'; items: Node[] }

export interface JsonFormatterOptions {
  /**
   * Keep operator types (numbers, objects, null for unset) when a value is exactly one
   * operator, as `typed_json_format` and `log_format.json_format` do. Otherwise every value
   * is a string and unset is `"-"` (the deprecated `json_format` of FileAccessLog).
   */
  preserveTypes: boolean
  omitEmptyValues?: boolean
  sortProperties?: boolean
  contentType?: string
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** JSON.stringify with object keys sorted at every level. */
function sortedStringify(v: unknown): string | undefined {
  if (Array.isArray(v)) return `[${v.map((x) => sortedStringify(x) ?? 'null').join(',')}]`
  if (isPlainObject(v)) {
    const keys = Object.keys(v).sort()
    const fields: string[] = []
    for (const k of keys) {
      const s = sortedStringify(v[k])
      if (s !== undefined) fields.push(`${JSON.stringify(k)}:${s}`)
    }
    return `{${fields.join(',')}}`
  }
  return JSON.stringify(v)
}

/** Envoy's JsonFormatterImpl (and StructFormatter). */
export class JsonFormatterImpl implements Formatter {
  readonly contentType: string
  private readonly root: Node
  private readonly typed: boolean
  private readonly omitEmpty: boolean
  private readonly emptyValue: string
  private readonly stringify: (v: unknown) => string | undefined

  /** Throws ConfigError(CONFIG_INVALID) naming the path of a bad value. */
  constructor(format: Record<string, unknown>, path: string, options: JsonFormatterOptions) {
    this.typed = options.preserveTypes
    this.omitEmpty = options.omitEmptyValues === true
    this.emptyValue = this.omitEmpty ? '' : '-'
    this.stringify = options.sortProperties === true ? sortedStringify : (v) => JSON.stringify(v)
    this.contentType = options.contentType === undefined || options.contentType === '' ? 'application/json' : options.contentType
    this.root = this.compile(format, path, options.sortProperties === true)
  }

  format(info: StreamInfo, type: AccessLogType): string {
    return `${this.render(this.root, info, type) ?? '{}'}\n`
  }

  private compile(v: unknown, path: string, sort: boolean): Node {
    if (typeof v === 'string') {
      const parts = parseSubstitutionFormat(v, path)
      if (parts.length === 0) return { kind: 'constant', json: '""' }
      if (parts.length === 1) {
        const only = parts[0]!
        return typeof only === 'string' ? { kind: 'constant', json: JSON.stringify(only) } : { kind: 'single', provider: only }
      }
      return { kind: 'concat', parts }
    }
    if (typeof v === 'number' || typeof v === 'boolean') return { kind: 'constant', json: JSON.stringify(v) }
    if (Array.isArray(v)) return { kind: 'list', items: v.map((x, i) => this.compile(x, `${path}[${i}]`, sort)) }
    if (isPlainObject(v)) {
      const keys = sort ? Object.keys(v).sort() : Object.keys(v)
      return { kind: 'object', entries: keys.map((k) => [JSON.stringify(k), this.compile(v[k], `${path}.${k}`, sort)] as const) }
    }
    throw new ConfigError(ErrorCode.CONFIG_INVALID, [
      `${path}: Only string values, nested structs, list values and number values are supported in structured access log format.`,
    ])
  }

  /** The JSON text of a node, or undefined for a null that `omit_empty_values` drops. */
  private render(node: Node, info: StreamInfo, type: AccessLogType): string | undefined {
    switch (node.kind) {
      case 'constant':
        return node.json
      case 'single': {
        if (this.typed) {
          const v = node.provider.formatValue(info, type)
          const s = v === null || v === undefined ? undefined : this.stringify(v)
          return s === undefined ? (this.omitEmpty ? undefined : 'null') : s
        }
        const s = node.provider.format(info, type)
        if (s === undefined) return this.omitEmpty ? undefined : '"-"'
        return JSON.stringify(s)
      }
      case 'concat': {
        let s = ''
        for (const p of node.parts) s += typeof p === 'string' ? p : (p.format(info, type) ?? this.emptyValue)
        return JSON.stringify(s)
      }
      case 'object': {
        let out = '{'
        for (const [key, child] of node.entries) {
          const s = this.render(child, info, type)
          if (s === undefined) continue
          out += `${out.length === 1 ? '' : ','}${key}:${s}`
        }
        return `${out}}`
      }
      case 'list': {
        const items: string[] = []
        for (const child of node.items) {
          const s = this.render(child, info, type)
          if (s !== undefined) items.push(s)
        }
        return `[${items.join(',')}]`
      }
    }
  }
}

function readDataSource(ds: DataSource, path: string): string {
  if (ds.inline_string !== undefined) return ds.inline_string
  if (ds.inline_bytes !== undefined) return Buffer.from(ds.inline_bytes, 'base64').toString('utf8')
  if (ds.environment_variable !== undefined) {
    const v = process.env[ds.environment_variable]
    if (v === undefined) {
      throw new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.environment_variable: environment variable ${ds.environment_variable} is not set`])
    }
    return v
  }
  if (ds.filename !== undefined) {
    try {
      return fs.readFileSync(ds.filename, 'utf8')
    } catch (err) {
      throw new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.filename: cannot read ${ds.filename}: ${(err as Error).message}`])
    }
  }
  throw new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}: the data source is empty`])
}

/**
 * Builds the formatter of a `SubstitutionFormatString` (Envoy's
 * SubstitutionFormatStringUtils::fromProtoConfig); Envoy's default format when `config` is
 * absent. `path` names the field in errors (`...typed_config.log_format`).
 */
export function createFormatter(config: SubstitutionFormatString | undefined, path: string): Formatter {
  if (config === undefined) return new FormatterImpl(DEFAULT_FORMAT, path)
  if (config.formatters.length > 0) {
    const name = config.formatters[0]!.name
    throw new ConfigError(ErrorCode.EXTENSION_UNKNOWN, [`${path}.formatters[0]: formatter extension '${name}' is not supported`])
  }
  const text = { omitEmptyValues: config.omit_empty_values, contentType: config.content_type }
  if (config.text_format !== undefined) return new FormatterImpl(config.text_format, `${path}.text_format`, text)
  if (config.text_format_source !== undefined) {
    const source = `${path}.text_format_source`
    return new FormatterImpl(readDataSource(config.text_format_source, source), source, text)
  }
  if (config.json_format !== undefined) {
    return new JsonFormatterImpl(config.json_format, `${path}.json_format`, {
      preserveTypes: true,
      omitEmptyValues: config.omit_empty_values,
      sortProperties: config.json_format_options?.sort_properties === true,
      contentType: config.content_type,
    })
  }
  throw new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}: one of text_format, json_format or text_format_source is required`])
}

/** A text formatter for a plain format string (the deprecated `format` fields). */
export function createTextFormatter(format: string, path: string): Formatter {
  return new FormatterImpl(format, path)
}

/** A JSON formatter for a bare Struct (the deprecated `json_format` / `typed_json_format` fields). */
export function createJsonFormatter(format: Record<string, unknown>, path: string, options: JsonFormatterOptions): Formatter {
  return new JsonFormatterImpl(format, path, options)
}
