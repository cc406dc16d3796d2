import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { own } from '../common/own-keys.js'

/**
 * Reads a component's `metadata` (a Struct: values may be strings, numbers or booleans, as in
 * Dapr component files where everything is a string). Every error is a ConfigError naming
 * `<path>.metadata.<field>`, raised on main during validation.
 */
export class ComponentMetadata {
  readonly values: Record<string, unknown>
  readonly path: string

  constructor(values: Record<string, unknown> | undefined, path: string) {
    this.values = values ?? {}
    this.path = path
  }

  invalid(field: string, message: string): ConfigError {
    return new ConfigError(ErrorCode.CONFIG_INVALID, [`${this.path}.metadata.${field}: ${message}`])
  }

  has(field: string): boolean {
    const v = own(this.values, field)
    return v !== undefined && v !== null && v !== ''
  }

  string(field: string, fallback: string): string {
    if (!this.has(field)) return fallback
    const v = own(this.values, field)
    if (typeof v === 'string') return v
    if (typeof v === 'number' || typeof v === 'boolean') return String(v)
    throw this.invalid(field, `must be a string, got ${JSON.stringify(v)}`)
  }

  requiredString(field: string): string {
    if (!this.has(field)) throw this.invalid(field, 'is required')
    return this.string(field, '')
  }

  bool(field: string, fallback: boolean): boolean {
    if (!this.has(field)) return fallback
    const v = own(this.values, field)
    if (typeof v === 'boolean') return v
    if (v === 'true' || v === '1') return true
    if (v === 'false' || v === '0') return false
    throw this.invalid(field, `must be true or false, got ${JSON.stringify(v)}`)
  }

  int(field: string, fallback: number, min = Number.MIN_SAFE_INTEGER): number {
    if (!this.has(field)) return fallback
    const v = own(this.values, field)
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN
    if (!Number.isSafeInteger(n) || n < min) throw this.invalid(field, `must be an integer >= ${min}, got ${JSON.stringify(v)}`)
    return n
  }

  /** A nested object (Struct) field, or undefined. */
  object(field: string): Record<string, unknown> | undefined {
    if (!this.has(field)) return undefined
    const v = own(this.values, field)
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>
    if (typeof v === 'string') {
      try {
        const parsed = JSON.parse(v) as unknown
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>
      } catch {
        // fall through to the error below
      }
    }
    throw this.invalid(field, 'must be an object (or a JSON object in a string)')
  }
}
