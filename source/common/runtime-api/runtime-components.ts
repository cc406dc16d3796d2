import type { Component, RuntimeApi } from '../protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { Registry } from '../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../envoy/runtime-api/component-factory.js'
import type { ComponentKind, ComponentTypes } from '../../envoy/runtime-api/components.js'
import type { RuntimeComponents } from '../../envoy/runtime-api/runtime-host.js'

/** The component sections of a runtime config and the kind each holds. */
export const COMPONENT_SECTIONS: ReadonlyArray<{ section: keyof RuntimeApi & string; kind: ComponentKind }> = [
  { section: 'state', kind: 'state' },
  { section: 'pub_subs', kind: 'pubsub' },
  { section: 'lock', kind: 'lock' },
  { section: 'sequencer', kind: 'sequencer' },
  { section: 'config_store', kind: 'configuration' },
  { section: 'secret_store', kind: 'secretstores' },
  { section: 'file', kind: 'file' },
  { section: 'bindings', kind: 'bindings' },
]

/** One declared component: where it is in the config and what builds it. */
export interface DeclaredComponent {
  kind: ComponentKind
  name: string
  section: string
  /** `<path>.<section>.<name>`, for errors. */
  path: string
  config: Component
  factory: RuntimeComponentFactory | undefined
  /** Type and metadata, canonical: equal for two declarations that build the same thing. */
  fingerprint: string
}

/** The factory for a config `type` (`in-memory`, or `state.in-memory` with the kind prefix). */
export function findComponentFactory(registry: Registry, kind: ComponentKind, type: string): RuntimeComponentFactory | undefined {
  const full = type.startsWith(`${kind}.`) ? type : `${kind}.${type}`
  const f = registry.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).lookup(full, undefined)
  return f !== undefined && f.kind === kind ? f : undefined
}

/** Registered types of `kind`, for error messages. */
export function knownComponentTypes(registry: Registry, kind: ComponentKind): string[] {
  return registry.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).all().filter((f) => f.kind === kind).map((f) => f.type).sort()
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical)
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k])
    return out
  }
  return v
}

/** Every component a runtime config declares, in section order. */
export function declaredComponents(registry: Registry, config: RuntimeApi, path: string): DeclaredComponent[] {
  const out: DeclaredComponent[] = []
  for (const { section, kind } of COMPONENT_SECTIONS) {
    const entries = config[section] as Record<string, Component> | undefined
    for (const [name, c] of Object.entries(entries ?? {})) {
      const factory = findComponentFactory(registry, kind, c.type)
      out.push({
        kind,
        name,
        section,
        path: `${path}.${section}.${name}`,
        config: c,
        factory,
        fingerprint: JSON.stringify([factory?.name ?? c.type, canonical(c.metadata ?? {})]),
      })
    }
  }
  return out
}

/** The message for a declaration whose type no factory implements. */
export function unknownTypeError(registry: Registry, d: DeclaredComponent): string {
  const known = knownComponentTypes(registry, d.kind)
  return `${d.path}.type: unknown ${d.kind} component type '${d.config.type}'${known.length > 0 ? ` (registered: ${known.join(', ')})` : ` (no ${d.kind} component type is registered)`}`
}

interface Entry {
  kind: ComponentKind
  name: string
  type: string
  instance: unknown
}

/** A config's components as one thread sees them. */
export class RuntimeComponentsImpl implements RuntimeComponents {
  readonly config: RuntimeApi
  private readonly byKind = new Map<ComponentKind, Map<string, unknown>>()
  private readonly entries: Entry[]

  constructor(config: RuntimeApi, entries: Entry[]) {
    this.config = config
    this.entries = entries
    for (const e of entries) {
      let m = this.byKind.get(e.kind)
      if (m === undefined) {
        m = new Map()
        this.byKind.set(e.kind, m)
      }
      m.set(e.name, e.instance)
    }
  }

  // RuntimeComponents
  get<K extends ComponentKind>(kind: K, name: string): ComponentTypes[K] | undefined {
    return this.byKind.get(kind)?.get(name) as ComponentTypes[K] | undefined
  }

  list(): Array<{ kind: ComponentKind; name: string; type: string }> {
    return this.entries.map(({ kind, name, type }) => ({ kind, name, type }))
  }

}
