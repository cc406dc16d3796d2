import fs from 'node:fs'
import path from 'node:path'
import * as yaml from 'js-yaml'
import type { Options } from '../../envoy/server/options.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import type { MessageValidator } from '../protobuf/message-validator.js'
import type { Bootstrap } from '../protobuf/generated/envoy/config/bootstrap/v3.js'
import { checkBootstrap } from './bootstrap-checks.js'
import { checkDocumentLimits, MAX_CONFIG_DEPTH } from './document-limits.js'

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap'

/** YAML 1.2 core types plus `<<:` merge keys, which Envoy's YAML loader accepts too. */
const YAML_SCHEMA = new yaml.Schema([...yaml.CORE_SCHEMA.tags, yaml.mergeTag])

export interface LoadedBootstrap {
  bootstrap: Bootstrap
  /** Unknown fields dropped under `--allow-unknown-static-fields`. */
  unknownFields: string[]
  deprecated: string[]
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Parses YAML or JSON text; `source` names the file (or `--config-yaml`) in errors. */
export function parseConfigText(text: string, source: string, asJson: boolean): unknown {
  if (text.split('\n').every((l) => l.trim() === '' || l.trim().startsWith('#'))) {
    throw new ConfigError(ErrorCode.CONFIG_EMPTY, [`${source}: the config is empty`])
  }
  let doc: unknown
  try {
    doc = asJson ? JSON.parse(text) : yaml.load(text, { filename: source, schema: YAML_SCHEMA, maxDepth: MAX_CONFIG_DEPTH })
  } catch (err) {
    const e = err as { mark?: { line: number; column: number }; reason?: string; message: string }
    if (e.mark !== undefined) {
      throw new ConfigError(ErrorCode.CONFIG_PARSE, [`${source}:${e.mark.line + 1}:${e.mark.column + 1}: invalid YAML: ${e.reason ?? e.message}`])
    }
    throw new ConfigError(ErrorCode.CONFIG_PARSE, [`${source}: invalid ${asJson ? 'JSON' : 'YAML'}: ${e.message}`])
  }
  const problem = checkDocumentLimits(doc)
  if (problem !== undefined) throw new ConfigError(ErrorCode.CONFIG_TOO_LARGE, [`${source}: ${problem}`])
  return doc
}

export function readConfigFile(file: string): unknown {
  const ext = path.extname(file).toLowerCase()
  if (ext === '.pb' || ext === '.pb_text') {
    throw new ConfigError(ErrorCode.CONFIG_PARSE, [`${file}: binary and text protobuf bootstraps are not supported; use .yaml or .json`])
  }
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new ConfigError(ErrorCode.CONFIG_NOT_FOUND, [`${file}: config file not found`])
    if (code === 'EISDIR') throw new ConfigError(ErrorCode.CONFIG_UNREADABLE, [`${file}: is a directory, not a config file`])
    throw new ConfigError(ErrorCode.CONFIG_UNREADABLE, [`${file}: cannot read config file: ${(err as Error).message}`])
  }
  return parseConfigText(text, file, ext === '.json')
}

/**
 * Proto `MergeFrom` on JSON: objects merge field by field, lists concatenate, everything else is
 * replaced. This is how Envoy lays `--config-yaml` over the file.
 */
export function mergeConfig(base: unknown, overlay: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(overlay)) {
    const out: Record<string, unknown> = { ...base }
    for (const [k, v] of Object.entries(overlay)) out[k] = k in base ? mergeConfig(base[k], v) : v
    return out
  }
  if (Array.isArray(base) && Array.isArray(overlay)) return [...base, ...overlay]
  return overlay
}

/** Applies `--service-node`, `--service-cluster` and `--service-zone` over `node`. */
function applyServiceOptions(raw: Record<string, unknown>, options: Options): void {
  if (options.serviceNode === undefined && options.serviceCluster === undefined && options.serviceZone === undefined) return
  const node = isPlainObject(raw.node) ? { ...raw.node } : {}
  if (options.serviceNode !== undefined) node.id = options.serviceNode
  if (options.serviceCluster !== undefined) node.cluster = options.serviceCluster
  if (options.serviceZone !== undefined) {
    node.locality = { ...(isPlainObject(node.locality) ? node.locality : {}), zone: options.serviceZone }
  }
  raw.node = node
}

/**
 * Reads, merges and validates the bootstrap. Throws ConfigError carrying every problem found,
 * each prefixed with the file it came from.
 */
export function loadBootstrap(options: Options, validator: MessageValidator): LoadedBootstrap {
  let raw: unknown = {}
  if (options.configPath !== undefined) raw = readConfigFile(options.configPath)
  if (options.configYaml !== undefined) raw = mergeConfig(raw, parseConfigText(options.configYaml, '--config-yaml', false))
  const source = options.configPath ?? '--config-yaml'
  if (raw === null || raw === undefined) throw new ConfigError(ErrorCode.CONFIG_EMPTY, [`${source}: the config is empty`])
  if (!isPlainObject(raw)) {
    throw new ConfigError(ErrorCode.CONFIG_INVALID, [`${source}: the bootstrap must be a mapping of fields, got ${Array.isArray(raw) ? 'a list' : typeof raw}`])
  }
  applyServiceOptions(raw, options)
  const result = validator.validate<Bootstrap>(BOOTSTRAP_TYPE, raw, '', { allowUnknownFields: options.allowUnknownStaticFields })
  const errors = [...result.errors]
  if (errors.length === 0) errors.push(...checkBootstrap(result.value))
  if (errors.length > 0) throw new ConfigError(ErrorCode.CONFIG_INVALID, errors.map((e) => `${source}: ${e}`))
  return { bootstrap: result.value, unknownFields: result.unknownFields, deprecated: result.deprecated }
}
