import type { ExtensionModule, FactoryCategory, Registry, TypedFactory } from '../../envoy/registry/registry.js'
import { ErrorCode } from '../errors/codes.js'
import { EnvoyTsError } from '../errors/envoy-ts-error.js'
import { typeNameFromUrl } from '../protobuf/schema.js'

class FactoryCategoryImpl<F extends TypedFactory> implements FactoryCategory<F> {
  readonly category: string
  private readonly byName = new Map<string, F>()
  private readonly byType = new Map<string, F>()

  constructor(category: string) {
    this.category = category
  }

  register(factory: F): void {
    if (this.byName.has(factory.name)) {
      throw new EnvoyTsError(ErrorCode.REGISTRY_DUPLICATE, `${this.category} "${factory.name}" is registered twice`)
    }
    if (this.byType.has(factory.configType)) {
      throw new EnvoyTsError(ErrorCode.REGISTRY_DUPLICATE, `${this.category} config type ${factory.configType} is registered twice`)
    }
    this.byName.set(factory.name, factory)
    this.byType.set(factory.configType, factory)
  }

  lookup(name: string, typeUrl: string | undefined): F | undefined {
    if (typeUrl !== undefined) {
      const byType = this.byType.get(typeNameFromUrl(typeUrl))
      if (byType !== undefined) return byType
    }
    return this.byName.get(name)
  }

  all(): readonly F[] {
    return [...this.byName.values()]
  }
}

export class RegistryImpl implements Registry {
  private readonly categories = new Map<string, FactoryCategoryImpl<TypedFactory>>()

  category<F extends TypedFactory>(name: string): FactoryCategory<F> {
    let c = this.categories.get(name)
    if (c === undefined) {
      c = new FactoryCategoryImpl<TypedFactory>(name)
      this.categories.set(name, c)
    }
    return c as unknown as FactoryCategory<F>
  }

  /** Every registered extension name by category (for the start-up log and `/server_info`). */
  describe(): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const [name, c] of this.categories) out[name] = c.all().map((f) => f.name).sort()
    return out
  }
}

/**
 * Loads out-of-tree extension modules (ENVOY_TS_EXTENSION_MODULES, comma separated paths or
 * package names) and calls their `setup(registry)`.
 */
export async function loadExtensionModules(specs: readonly string[], registry: Registry): Promise<void> {
  for (const spec of specs) {
    let mod: Partial<ExtensionModule>
    try {
      mod = await import(spec) as Partial<ExtensionModule>
    } catch (err) {
      throw new EnvoyTsError(ErrorCode.EXTENSION_MODULE, `cannot load extension module ${spec}: ${(err as Error).message}`)
    }
    if (typeof mod.setup !== 'function') {
      throw new EnvoyTsError(ErrorCode.EXTENSION_MODULE, `extension module ${spec} does not export setup(registry)`)
    }
    mod.setup(registry)
  }
}

/** Parses ENVOY_TS_EXTENSION_MODULES into absolute file URLs or package names. */
export function extensionModulesFromEnv(value: string | undefined, cwd: string): string[] {
  if (value === undefined || value.trim() === '') return []
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    if (s.startsWith('.') || s.startsWith('/')) return new URL(s, `file://${cwd}/`).href
    return s
  })
}
