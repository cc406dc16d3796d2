import type { Registry } from '../envoy/registry/registry.js'

/**
 * Registers every built-in extension. Called once in main and once in each worker: each thread
 * has its own module graph, and registration is explicit (no import side effects).
 */
export function setupAllExtensions(registry: Registry): void {
  for (const setup of BUILT_INS) setup(registry)
}

const BUILT_INS: ReadonlyArray<(r: Registry) => void> = []
