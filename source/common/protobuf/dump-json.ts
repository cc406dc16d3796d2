import protobuf from 'protobufjs'
import { typeNameFromUrl } from './schema.js'

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function isDefault(field: protobuf.Field, v: unknown): boolean {
  if (field.map) return isPlainObject(v) && Object.keys(v).length === 0
  if (field.repeated) return Array.isArray(v) && v.length === 0
  if (field.partOf !== null && field.partOf !== undefined) return false
  const rt = field.resolvedType
  if (rt instanceof protobuf.Enum) return rt.values[v as string] === 0
  if (rt instanceof protobuf.Type) return false
  return v === 0 || v === '' || v === false
}

/**
 * The validated form minus proto3 defaults, the way Envoy prints config (`/config_dump`):
 * unset scalars, empty lists and maps disappear; `Any` payloads are walked by their `@type`.
 */
export function withoutDefaults(root: protobuf.Root, typeName: string, value: unknown): unknown {
  let type: protobuf.Type
  try {
    type = root.lookupType(typeName)
  } catch {
    return value
  }
  return strip(root, type, value)
}

function strip(root: protobuf.Root, type: protobuf.Type, value: unknown): unknown {
  if (!isPlainObject(value) || type.fullName.startsWith('.google.protobuf.')) {
    if (type.fullName === '.google.protobuf.Any' && isPlainObject(value) && typeof value['@type'] === 'string') {
      const inner = withoutDefaults(root, typeNameFromUrl(value['@type']), value) as Record<string, unknown>
      return { '@type': value['@type'], ...inner }
    }
    return value
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    const field = type.fields[k]
    if (field === undefined) {
      out[k] = v
      continue
    }
    if (isDefault(field, v)) continue
    const rt = field.resolvedType
    if (rt instanceof protobuf.Type) {
      if (field.map) out[k] = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([mk, mv]) => [mk, strip(root, rt, mv)]))
      else if (field.repeated) out[k] = (v as unknown[]).map((item) => strip(root, rt, item))
      else out[k] = strip(root, rt, v)
    } else {
      out[k] = v
    }
  }
  return out
}
