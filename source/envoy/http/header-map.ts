/**
 * HTTP headers (Envoy's HeaderMap). Names are stored lower-case; request pseudo-headers
 * (`:method`, `:path`, `:authority`, `:scheme`) and the response `:status` are ordinary
 * entries, kept before the others. HTTP/1 codecs map the request line, `Host` and the status
 * line onto them.
 */
export interface HeaderMap {
  /** First value of `name` (lower-case), or undefined. */
  get(name: string): string | undefined
  /** Every value of `name`, in order. */
  getAll(name: string): string[]
  has(name: string): boolean
  /** Replaces every value of `name` with one. */
  set(name: string, value: string): void
  /** Adds another value of `name` (after the existing ones). */
  add(name: string, value: string): void
  /** Adds `name` only if it is absent. */
  setIfAbsent(name: string, value: string): void
  /** Removes every value; true if there was any. */
  remove(name: string): boolean
  /** Removes every header whose name starts with `prefix`. */
  removePrefix(prefix: string): void
  /** Number of entries (a repeated name counts once per value). */
  readonly size: number
  /** Bytes of names and values, for `max_request_headers_kb`. */
  byteSize(): number
  forEach(cb: (name: string, value: string) => void): void
  entries(): Iterable<readonly [string, string]>
  /** A deep copy (retries and mirrors need the original request). */
  clone(): HeaderMap
}
