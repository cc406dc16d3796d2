/**
 * Extension registration (Envoy's `Registry::FactoryRegistry`). Every extension module exports
 * `setup(registry)`; `extensions/all-extensions.ts` calls them all, once in main and once in each
 * worker (each thread has its own module graph). Nothing registers itself on import.
 */

/** A factory for one extension: found by its name, or by the `@type` of its config. */
export interface TypedFactory {
  /** Envoy's extension name, e.g. `envoy.filters.network.tcp_proxy`. */
  readonly name: string
  /** Full proto name of the config message, without `type.googleapis.com/`. */
  readonly configType: string
}

/** One kind of extension (network filters, access loggers, ...). */
export interface FactoryCategory<F extends TypedFactory> {
  /** Human name used in errors: "network filter". */
  readonly category: string
  /** Adds a factory; throws ETS_ERR_REGISTRY_DUPLICATE for a name or type already taken. */
  register(factory: F): void
  /** Envoy's order: the config's `@type` first, the extension name second. */
  lookup(name: string, typeUrl: string | undefined): F | undefined
  all(): readonly F[]
}

/** What `setup(registry)` receives. Categories are added as their interfaces land. */
export interface Registry {
  category<F extends TypedFactory>(name: string): FactoryCategory<F>
}

/** The shape of every extension module. */
export interface ExtensionModule {
  setup(registry: Registry): void
}
