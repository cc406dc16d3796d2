import type { LayeredRuntime } from '../protobuf/generated/envoy/config/bootstrap/v3.js'
import type { RuntimeLayerDump, RuntimeSnapshot } from '../../envoy/runtime/runtime.js'

/** Flattens a static layer's Struct: `{ a: { b: 1 } }` → `{ 'a.b': '1' }`. */
export function flattenStaticLayer(value: Record<string, unknown>, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix === '' ? k : `${prefix}.${k}`
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flattenStaticLayer(v as Record<string, unknown>, key, out)
    else out[key] = typeof v === 'string' ? v : JSON.stringify(v)
  }
  return out
}

export class RuntimeSnapshotImpl implements RuntimeSnapshot {
  private readonly values: ReadonlyMap<string, string>

  constructor(values: ReadonlyMap<string, string>) {
    this.values = values
  }

  get(key: string): string | undefined {
    return this.values.get(key)
  }

  getInteger(key: string, defaultValue: number): number {
    const v = this.values.get(key)
    if (v === undefined || !/^-?\d+$/.test(v.trim())) return defaultValue
    return Number(v)
  }

  getBoolean(key: string, defaultValue: boolean): boolean {
    const v = this.values.get(key)
    if (v === 'true') return true
    if (v === 'false') return false
    return defaultValue
  }

  featureEnabled(key: string, defaultPercent: number, random: number = Math.random()): boolean {
    const pct = this.getInteger(key, defaultPercent)
    return random * 100 < Math.min(100, Math.max(0, pct))
  }
}

/**
 * Main's layered runtime: static layers from the bootstrap and an optional admin layer changed
 * through `/runtime_modify`. Later layers override earlier ones.
 */
export class RuntimeLoader {
  private readonly layers: Array<{ name: string; admin: boolean; values: Record<string, string> }>

  constructor(config: LayeredRuntime | undefined) {
    this.layers = (config?.layers ?? []).map((l) => ({
      name: l.name,
      admin: l.admin_layer !== undefined,
      values: l.static_layer !== undefined ? flattenStaticLayer(l.static_layer) : {},
    }))
  }

  snapshot(): RuntimeSnapshotImpl {
    return new RuntimeSnapshotImpl(new Map(Object.entries(this.mergedValues())))
  }

  mergedValues(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const l of this.layers) Object.assign(out, l.values)
    return out
  }

  hasAdminLayer(): boolean {
    return this.layers.some((l) => l.admin)
  }

  /** Sets keys in the admin layer; an empty value removes the key. */
  modify(values: Record<string, string>): void {
    const admin = this.layers.find((l) => l.admin)
    if (admin === undefined) return
    for (const [k, v] of Object.entries(values)) {
      if (v === '') delete admin.values[k]
      else admin.values[k] = v
    }
  }

  dumpLayers(): RuntimeLayerDump[] {
    return this.layers.map((l) => ({ name: l.name, values: { ...l.values } }))
  }

  /** `/runtime` in Envoy's shape. */
  adminDump(): Record<string, unknown> {
    const keys = new Set<string>()
    for (const l of this.layers) for (const k of Object.keys(l.values)) keys.add(k)
    const merged = this.mergedValues()
    const entries: Record<string, unknown> = {}
    for (const k of [...keys].sort()) {
      entries[k] = { final_value: merged[k] ?? '', layer_values: this.layers.map((l) => l.values[k] ?? '') }
    }
    return { layers: this.layers.map((l) => l.name), entries }
  }
}
