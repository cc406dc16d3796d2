/**
 * Records keyed by names a client chooses (secret keys, state keys, metadata keys, header
 * names). A plain `{}` answers `o['constructor']` with Object.prototype's member and ignores
 * `o['__proto__'] = 'x'`; these helpers only ever see own properties, and the records stay
 * ordinary objects (Object.prototype, so they compare and print like any other).
 */

/** `o[key]` if `o` has it as an own property, else undefined. */
export function own<T>(o: Readonly<Record<string, T>> | undefined | null, key: string): T | undefined {
  return o != null && Object.hasOwn(o, key) ? o[key] : undefined
}

/** Sets `o[key]` as an own data property (never calls the `__proto__` setter). */
export function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true })
}
