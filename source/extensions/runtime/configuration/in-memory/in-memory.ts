import type { ConfigurationItem, ConfigurationStore } from '../../../../envoy/runtime-api/components.js'

interface Watcher {
  /** Empty: every key. */
  keys: Set<string>
  onChange: (items: ConfigurationItem[]) => void
}

function id(key: string, group = '', label = ''): string {
  return `${group}\u0000${label}\u0000${key}`
}

/**
 * An in-memory configuration store, run once on main (embedded). Items are identified by
 * (group, label, key); Dapr's API has neither group nor label, so it sees the default ('', '').
 * Every change gets a new version from one counter and is sent to the watchers of its key; a
 * deleted item is sent with an empty value (Layotto: "empty if the configuration is not set").
 * Saving an empty value deletes the item, as in Layotto's SaveConfiguration.
 */
export class InMemoryConfigurationStore implements ConfigurationStore {
  private readonly items = new Map<string, ConfigurationItem>()
  private readonly watchers = new Set<Watcher>()
  private version = 0

  constructor(initial: ConfigurationItem[] = []) {
    for (const item of initial) this.items.set(id(item.key, item.group, item.label), { ...item, version: String(++this.version) })
  }

  // ConfigurationStore
  async get(keys: string[], options: { group?: string; label?: string } = {}): Promise<ConfigurationItem[]> {
    const group = options.group ?? ''
    const label = options.label ?? ''
    if (keys.length === 0) {
      return [...this.items.values()].filter((i) => (i.group ?? '') === group && (i.label ?? '') === label)
    }
    const out: ConfigurationItem[] = []
    for (const key of keys) {
      const item = this.items.get(id(key, group, label))
      if (item !== undefined) out.push(item)
    }
    return out
  }

  async save(items: ConfigurationItem[]): Promise<void> {
    const changed: ConfigurationItem[] = []
    for (const item of items) {
      const k = id(item.key, item.group, item.label)
      if (item.value === '') {
        if (this.items.delete(k)) changed.push({ ...item, version: String(++this.version) })
        continue
      }
      const saved = { ...item, version: String(++this.version) }
      this.items.set(k, saved)
      changed.push(saved)
    }
    this.notify(changed)
  }

  async delete(keys: string[], options: { group?: string; label?: string } = {}): Promise<void> {
    const changed: ConfigurationItem[] = []
    for (const key of keys) {
      const k = id(key, options.group, options.label)
      const prev = this.items.get(k)
      if (prev === undefined) continue
      this.items.delete(k)
      changed.push({ ...prev, value: '', version: String(++this.version) })
    }
    this.notify(changed)
  }

  async subscribe(keys: string[], onChange: (items: ConfigurationItem[]) => void): Promise<() => Promise<void>> {
    const w: Watcher = { keys: new Set(keys), onChange }
    this.watchers.add(w)
    return async () => { this.watchers.delete(w) }
  }

  /** Open subscriptions (tests). */
  watcherCount(): number {
    return this.watchers.size
  }

  private notify(changed: ConfigurationItem[]): void {
    if (changed.length === 0) return
    for (const w of [...this.watchers]) {
      const mine = w.keys.size === 0 ? changed : changed.filter((i) => w.keys.has(i.key))
      if (mine.length > 0) w.onChange(mine)
    }
  }
}
