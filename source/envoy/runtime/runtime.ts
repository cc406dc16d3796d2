/**
 * Runtime values (Envoy's Runtime::Snapshot): string keys set by the `layered_runtime` layers,
 * read by features that are switched or tuned at run time. Main owns the layers and sends a
 * fresh snapshot to every worker when the admin layer changes.
 */
export interface RuntimeSnapshot {
  get(key: string): string | undefined
  getInteger(key: string, defaultValue: number): number
  getBoolean(key: string, defaultValue: boolean): boolean
  /**
   * Envoy's `featureEnabled`: true with probability `key`'s value (0-100), or `defaultPercent`
   * when unset. `random` is in [0, 1).
   */
  featureEnabled(key: string, defaultPercent: number, random?: number): boolean
}

/** One layer as shown by `/runtime`. */
export interface RuntimeLayerDump {
  name: string
  values: Record<string, string>
}
