/**
 * A plain HeaderMap for HTTP filter tests: an ordered list of lower-cased entries, pseudo
 * headers kept first. Behaves like the HeaderMap contract says; no validation, no byte limits.
 */
import type { HeaderMap } from '../../../source/envoy/http/header-map.js'

export class FakeHeaderMap implements HeaderMap {
  private list: Array<[string, string]> = []

  constructor(init: Record<string, string | string[]> | Iterable<readonly [string, string]> = {}) {
    const pairs: Iterable<readonly [string, string]> = Symbol.iterator in init
      ? init as Iterable<readonly [string, string]>
      : Object.entries(init as Record<string, string | string[]>).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => [k, x] as const))
    for (const [k, v] of pairs) this.add(k, v)
  }

  get(name: string): string | undefined {
    const n = name.toLowerCase()
    return this.list.find(([k]) => k === n)?.[1]
  }

  getAll(name: string): string[] {
    const n = name.toLowerCase()
    return this.list.filter(([k]) => k === n).map(([, v]) => v)
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  set(name: string, value: string): void {
    const n = name.toLowerCase()
    const at = this.list.findIndex(([k]) => k === n)
    if (at < 0) {
      this.add(n, value)
      return
    }
    this.list = this.list.filter(([k], i) => k !== n || i === at)
    this.list[at] = [n, value]
  }

  add(name: string, value: string): void {
    const n = name.toLowerCase()
    if (n.startsWith(':')) {
      const firstRegular = this.list.findIndex(([k]) => !k.startsWith(':'))
      this.list.splice(firstRegular < 0 ? this.list.length : firstRegular, 0, [n, value])
    } else {
      this.list.push([n, value])
    }
  }

  setIfAbsent(name: string, value: string): void {
    if (!this.has(name)) this.add(name, value)
  }

  remove(name: string): boolean {
    const n = name.toLowerCase()
    const before = this.list.length
    this.list = this.list.filter(([k]) => k !== n)
    return this.list.length !== before
  }

  removePrefix(prefix: string): void {
    const p = prefix.toLowerCase()
    this.list = this.list.filter(([k]) => !k.startsWith(p))
  }

  get size(): number {
    return this.list.length
  }

  byteSize(): number {
    return this.list.reduce((n, [k, v]) => n + k.length + v.length, 0)
  }

  forEach(cb: (name: string, value: string) => void): void {
    for (const [k, v] of this.list) cb(k, v)
  }

  entries(): Iterable<readonly [string, string]> {
    return this.list.map(([k, v]) => [k, v] as const)
  }

  clone(): HeaderMap {
    return new FakeHeaderMap(this.list)
  }

  /** Plain object view for assertions; repeated names are joined with ','. */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [k, v] of this.list) out[k] = out[k] === undefined ? v : `${out[k]},${v}`
    return out
  }
}
