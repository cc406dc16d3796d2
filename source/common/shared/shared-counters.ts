/**
 * Process-wide integers that every thread sees (connection limits, shared token buckets).
 *
 * Each worker builds its own filter instances from the same config, so a limit that must hold
 * across workers needs memory they all share. Main builds every listener config once to
 * validate it; that build creates the buffers here, by a key derived from the config (e.g.
 * `connection_limit/<config path>`). Main then sends `exportSharedCounters()` to each worker in
 * its start data, and the worker calls `importSharedCounters()` before it builds any listener,
 * so the worker's `sharedInt32(key)` returns a view of main's buffer.
 *
 * A key that was not imported gets a fresh buffer on the calling thread: the limit then only
 * holds on that thread (which is what a test or a single-threaded tool wants).
 */

const buffers = new Map<string, SharedArrayBuffer>()

/**
 * A view of the shared buffer named `key`, `length` int32 slots, zero-filled on creation.
 * Asking again for a key returns a view of the same memory; the length must match.
 */
export function sharedInt32(key: string, length: number): Int32Array {
  if (!Number.isInteger(length) || length <= 0) throw new RangeError(`shared counter ${key}: bad length ${length}`)
  const bytes = length * Int32Array.BYTES_PER_ELEMENT
  let sab = buffers.get(key)
  if (sab === undefined) {
    sab = new SharedArrayBuffer(bytes)
    buffers.set(key, sab)
  } else if (sab.byteLength !== bytes) {
    // Two users picked the same key for different layouts: a bug, not a config problem.
    throw new RangeError(`shared counter ${key} exists with ${sab.byteLength} bytes, asked for ${bytes}`)
  }
  return new Int32Array(sab)
}

/** Every buffer created or imported so far, for main to post to workers (structured clone shares them). */
export function exportSharedCounters(): Array<[string, SharedArrayBuffer]> {
  return [...buffers.entries()]
}

/** Installs buffers exported by main. Imported buffers replace local ones with the same key. */
export function importSharedCounters(entries: Iterable<readonly [string, SharedArrayBuffer]>): void {
  for (const [key, sab] of entries) buffers.set(key, sab)
}

/** Whether `key` exists on this thread (created here or imported). */
export function hasSharedCounter(key: string): boolean {
  return buffers.has(key)
}

/** Forgets every buffer on this thread (tests). Views already handed out keep working. */
export function clearSharedCounters(): void {
  buffers.clear()
}
