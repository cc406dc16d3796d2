import type { HeaderMap } from '../../envoy/http/header-map.js'
import { own, setOwn } from '../common/own-keys.js'

/** Entries a HeaderMapImpl can be built from. Names are lower-cased. */
export type HeaderMapInit = Iterable<readonly [string, string]> | Readonly<Record<string, string | readonly string[]>>

/**
 * HeaderMap over two parallel arrays (names, values). Typical maps hold 5–30 entries, where a
 * linear scan over interned strings beats hashing and costs one allocation per array.
 *
 * Names are lower-case; pseudo-headers (`:method`, `:status`, ...) occupy the first `pseudo`
 * slots. Strings are treated as byte strings (one char per byte, latin1), which is how the HTTP/1
 * codec reads and writes them, so `byteSize()` is a sum of lengths.
 */
export class HeaderMapImpl implements HeaderMap {
  private names: string[] = []
  private values: string[] = []
  /** How many leading entries are pseudo-headers. */
  private pseudo = 0
  private bytes = 0

  constructor(init?: HeaderMapInit) {
    if (init === undefined) return
    if (Symbol.iterator in init) {
      for (const [n, v] of init as Iterable<readonly [string, string]>) this.add(n, v)
      return
    }
    for (const [n, v] of Object.entries(init as Record<string, string | readonly string[]>)) {
      if (typeof v === 'string') this.add(n, v)
      else for (const x of v) this.add(n, x)
    }
  }

  get size(): number {
    return this.names.length
  }

  get(name: string): string | undefined {
    const names = this.names
    for (let i = 0; i < names.length; i++) if (names[i] === name) return this.values[i]
    return undefined
  }

  getAll(name: string): string[] {
    const out: string[] = []
    const names = this.names
    for (let i = 0; i < names.length; i++) if (names[i] === name) out.push(this.values[i]!)
    return out
  }

  has(name: string): boolean {
    return this.names.indexOf(name) >= 0
  }

  set(name: string, value: string): void {
    const n = lower(name)
    const names = this.names
    let at = -1
    for (let i = 0; i < names.length; i++) {
      if (names[i] !== n) continue
      if (at < 0) {
        at = i
        this.bytes += value.length - this.values[i]!.length
        this.values[i] = value
      } else {
        this.removeAt(i)
        i--
      }
    }
    if (at < 0) this.insert(n, value)
  }

  add(name: string, value: string): void {
    this.insert(lower(name), value)
  }

  setIfAbsent(name: string, value: string): void {
    const n = lower(name)
    if (this.names.indexOf(n) < 0) this.insert(n, value)
  }

  remove(name: string): boolean {
    const names = this.names
    let found = false
    for (let i = names.length - 1; i >= 0; i--) {
      if (names[i] === name) {
        this.removeAt(i)
        found = true
      }
    }
    return found
  }

  removePrefix(prefix: string): void {
    const names = this.names
    for (let i = names.length - 1; i >= 0; i--) if (names[i]!.startsWith(prefix)) this.removeAt(i)
  }

  byteSize(): number {
    return this.bytes
  }

  forEach(cb: (name: string, value: string) => void): void {
    const names = this.names
    const values = this.values
    for (let i = 0; i < names.length; i++) cb(names[i]!, values[i]!)
  }

  entries(): Iterable<readonly [string, string]> {
    const out: Array<readonly [string, string]> = new Array(this.names.length)
    for (let i = 0; i < this.names.length; i++) out[i] = [this.names[i]!, this.values[i]!]
    return out
  }

  [Symbol.iterator](): Iterator<readonly [string, string]> {
    return (this.entries() as Array<readonly [string, string]>)[Symbol.iterator]()
  }

  clone(): HeaderMapImpl {
    const c = new HeaderMapImpl()
    c.names = this.names.slice()
    c.values = this.values.slice()
    c.pseudo = this.pseudo
    c.bytes = this.bytes
    return c
  }

  /** Plain object view for logs and tests; repeated names are joined with `,`. */
  toJSON(): Record<string, string> {
    const o: Record<string, string> = {}
    for (let i = 0; i < this.names.length; i++) {
      const n = this.names[i]!
      const prev = own(o, n) // names come from clients: `constructor` is not a header seen before
      setOwn(o, n, prev === undefined ? this.values[i]! : `${prev},${this.values[i]!}`)
    }
    return o
  }

  // Codec fast paths: the HTTP/1 codec hands over names that are already lower-case and valid.

  /** Appends a regular (non-pseudo) header; `name` must be lower-case. */
  appendRaw(name: string, value: string): void {
    this.names.push(name)
    this.values.push(value)
    this.bytes += name.length + value.length
  }

  /** Name at index `i` (0 ≤ i < size), for allocation-free iteration. */
  nameAt(i: number): string {
    return this.names[i]!
  }

  valueAt(i: number): string {
    return this.values[i]!
  }

  private insert(name: string, value: string): void {
    this.bytes += name.length + value.length
    if (name.charCodeAt(0) === 58 /* : */ && this.pseudo < this.names.length) {
      // Keep pseudo-headers ahead of regular ones (HTTP/2 requires it; HTTP/1 skips them).
      this.names.splice(this.pseudo, 0, name)
      this.values.splice(this.pseudo, 0, value)
      this.pseudo++
      return
    }
    if (name.charCodeAt(0) === 58) this.pseudo++
    this.names.push(name)
    this.values.push(value)
  }

  private removeAt(i: number): void {
    this.bytes -= this.names[i]!.length + this.values[i]!.length
    if (i < this.pseudo) this.pseudo--
    if (i === this.names.length - 1) {
      this.names.pop()
      this.values.pop()
    } else {
      this.names.splice(i, 1)
      this.values.splice(i, 1)
    }
  }
}

/** Lower-cases ASCII; returns `s` itself when it already is (the common case). */
function lower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 65 && c <= 90) return s.toLowerCase()
  }
  return s
}
