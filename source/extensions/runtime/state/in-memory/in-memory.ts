import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'
import type {
  Concurrency, StateGetResult, StateItem, StateOperation, StateStore,
} from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'

interface Entry {
  value: Uint8Array
  etag: string
  /** Epoch ms; 0: never expires. */
  expiresAt: number
  contentType: string | undefined
}

/**
 * Limits of one store (metadata `maxKeys`, `maxBytes`, `maxValueBytes`; 0: no limit). A key's
 * bytes are its UTF-8 length plus its value's length. A write that would pass a limit is refused
 * whole with RESOURCE_EXHAUSTED and stores nothing.
 */
export interface InMemoryStateLimits {
  maxKeys: number
  maxBytes: number
  maxValueBytes: number
}

/** 100,000 keys, 64 MiB in all, 4 MiB per value (Dapr's default largest request body). */
export const DEFAULT_STATE_LIMITS: Readonly<InMemoryStateLimits> = { maxKeys: 100_000, maxBytes: 64 * 1024 * 1024, maxValueBytes: 4 * 1024 * 1024 }

function exhausted(message: string): RuntimeApiError {
  return new RuntimeApiError(RuntimeStatus.RESOURCE_EXHAUSTED, 'ERR_STATE_STORE_FULL', message)
}

function entryBytes(key: string, value: Uint8Array): number {
  return Buffer.byteLength(key) + value.byteLength
}

/** How often expired items are swept while any item has a TTL (reads drop them at once anyway). */
const SWEEP_INTERVAL_MS = 5000

/** Dapr's `ETagMismatch`: the caller's version is not the current one. */
export function etagMismatch(detail: string): RuntimeApiError {
  return new RuntimeApiError(RuntimeStatus.FAILED_PRECONDITION, 'ETAG_MISMATCH', `possible etag mismatch. error from state store: ${detail}`)
}

/** Dapr's `ETagInvalid`: the caller's etag cannot be one of this store's. */
export function etagInvalid(etag: string): RuntimeApiError {
  return new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ETAG_INVALID', `invalid etag value: ${JSON.stringify(etag)}`)
}

/** Parses Dapr's `ttlInSeconds` metadata: a positive number of seconds, or -1 / 0 for none. */
export function ttlSeconds(metadata: Record<string, string> | undefined): number {
  const raw = metadata?.['ttlInSeconds']
  if (raw === undefined || raw === '') return 0
  const n = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(n) || n < -1) {
    throw new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_MALFORMED_REQUEST', `incorrect value for metadata 'ttlInSeconds': ${JSON.stringify(raw)}`)
  }
  return n > 0 ? n : 0
}

/**
 * Dapr's `state.in-memory`, run once on main (embedded) so every worker reads what any worker
 * wrote. Etags are versions from one process-wide counter (so a re-created key never reuses an
 * old etag). Concurrency as Dapr: with an etag, the write needs the item to exist with that
 * etag; without one, `first-write` needs the item not to exist and `last-write` always wins.
 * Every write call (set, bulk delete, transaction) checks all its items before changing any,
 * and runs without awaiting, so it is atomic. `ttlInSeconds` metadata expires items. Limits
 * (InMemoryStateLimits) bound the keys and bytes held; a write past one changes nothing.
 */
export class InMemoryStateStore implements StateStore {
  private readonly items = new Map<string, Entry>()
  private version = 0
  private withTtl = 0
  private sweeper: NodeJS.Timeout | undefined
  private readonly now: () => number
  private readonly limits: InMemoryStateLimits
  /** Bytes held: keys (UTF-8) plus values. */
  private bytes = 0

  constructor(now: () => number = Date.now, limits: Partial<InMemoryStateLimits> = {}) {
    this.now = now
    this.limits = { ...DEFAULT_STATE_LIMITS, ...limits }
  }

  // StateStore
  async features(): Promise<string[]> {
    return ['ETAG', 'TRANSACTIONAL', 'TTL']
  }

  async get(key: string): Promise<StateGetResult> {
    return this.read(key)
  }

  async bulkGet(keys: string[]): Promise<Array<StateGetResult & { key: string; error?: string }>> {
    return keys.map((key) => ({ key, ...this.read(key) }))
  }

  async set(items: StateItem[]): Promise<void> {
    const ttls = items.map((item) => {
      this.checkEtag(item.key, item.etag, item.concurrency)
      return ttlSeconds(item.metadata)
    })
    this.admit(items.map((item) => [item.key, item.value]))
    items.forEach((item, i) => this.write(item, ttls[i]!))
  }

  async delete(key: string, etag?: string, _metadata?: Record<string, string>, concurrency?: Concurrency): Promise<void> {
    this.checkEtag(key, etag, concurrency)
    this.remove(key)
  }

  async bulkDelete(items: Array<{ key: string; etag?: string; metadata?: Record<string, string> }>): Promise<void> {
    for (const item of items) this.checkEtag(item.key, item.etag, undefined)
    for (const item of items) this.remove(item.key)
  }

  async transaction(ops: StateOperation[]): Promise<void> {
    // Check every operation against the state the earlier ones leave behind, then apply.
    const shadow = new Map<string, Entry | undefined>()
    const ttls: number[] = []
    for (const op of ops) {
      if (op.op === 'upsert') {
        this.checkEtag(op.item.key, op.item.etag, op.item.concurrency, shadow)
        ttls.push(ttlSeconds(op.item.metadata))
        shadow.set(op.item.key, { value: op.item.value, etag: '', expiresAt: 0, contentType: undefined })
      } else {
        this.checkEtag(op.key, op.etag, op.concurrency, shadow)
        ttls.push(0)
        shadow.set(op.key, undefined)
      }
    }
    this.admit(ops.map((op) => (op.op === 'upsert' ? [op.item.key, op.item.value] : [op.key, undefined])))
    ops.forEach((op, i) => {
      if (op.op === 'upsert') this.write(op.item, ttls[i]!)
      else this.remove(op.key)
    })
  }

  /** Stops the sweep timer (tests; the process-wide store lives as long as main). */
  close(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    this.sweeper = undefined
  }

  /** Live items, for tests and metadata. */
  size(): number {
    return this.items.size
  }

  /** Bytes held (keys and values), for tests. */
  byteSize(): number {
    return this.bytes
  }

  /**
   * Refuses a write (key → new value, or undefined for a delete, in order) that would pass a
   * limit; a write that does not grow the store past one (an overwrite with a smaller value, a
   * delete) always passes. Expired items are dropped first when they would decide it.
   */
  private admit(changes: ReadonlyArray<readonly [string, Uint8Array | undefined]>): void {
    const { maxKeys, maxBytes, maxValueBytes } = this.limits
    for (const [key, value] of changes) {
      if (value !== undefined && maxValueBytes > 0 && value.byteLength > maxValueBytes) {
        throw exhausted(`value of key ${key} is ${value.byteLength} bytes, over the state store's maxValueBytes ${maxValueBytes}`)
      }
    }
    if (maxKeys <= 0 && maxBytes <= 0) return
    let projected = this.project(changes)
    const over = (): boolean => (maxKeys > 0 && projected.keys > maxKeys && projected.keys > this.items.size) ||
      (maxBytes > 0 && projected.bytes > maxBytes && projected.bytes > this.bytes)
    if (over() && this.withTtl > 0) {
      this.sweep()
      projected = this.project(changes)
    }
    if (!over()) return
    if (maxKeys > 0 && projected.keys > maxKeys && projected.keys > this.items.size) {
      throw exhausted(`state store is full: the write needs ${projected.keys} keys, over maxKeys ${maxKeys}`)
    }
    throw exhausted(`state store is full: the write needs ${projected.bytes} bytes, over maxBytes ${maxBytes}`)
  }

  private project(changes: ReadonlyArray<readonly [string, Uint8Array | undefined]>): { keys: number; bytes: number } {
    // One change (the common SaveState of one item) needs no de-duplication.
    const last: Iterable<readonly [string, Uint8Array | undefined]> = changes.length === 1 ? changes : new Map(changes)
    let keys = this.items.size
    let bytes = this.bytes
    for (const [key, value] of last) {
      const prev = this.items.get(key)
      if (prev !== undefined) {
        keys--
        bytes -= entryBytes(key, prev.value)
      }
      if (value !== undefined) {
        keys++
        bytes += entryBytes(key, value)
      }
    }
    return { keys, bytes }
  }

  private sweep(): void {
    const now = this.now()
    for (const [key, e] of this.items) if (e.expiresAt !== 0 && e.expiresAt <= now) this.remove(key)
  }

  private live(key: string): Entry | undefined {
    const e = this.items.get(key)
    if (e !== undefined && e.expiresAt !== 0 && e.expiresAt <= this.now()) {
      this.remove(key)
      return undefined
    }
    return e
  }

  private read(key: string): StateGetResult {
    const e = this.live(key)
    if (e === undefined) return { value: undefined }
    const out: StateGetResult = { value: e.value, etag: e.etag }
    if (e.expiresAt !== 0) out.metadata = { ttlExpireTime: new Date(e.expiresAt).toISOString() }
    if (e.contentType !== undefined) out.contentType = e.contentType
    return out
  }

  private checkEtag(key: string, etag: string | undefined, concurrency: Concurrency | undefined, shadow?: Map<string, Entry | undefined>): void {
    const current = shadow !== undefined && shadow.has(key) ? shadow.get(key) : this.live(key)
    if (etag === undefined || etag === '') {
      if (concurrency === 'first-write' && current !== undefined) throw etagMismatch(`item ${key} already exists and no etag was passed`)
      return
    }
    if (!/^\d+$/.test(etag)) throw etagInvalid(etag)
    if (current === undefined) throw etagMismatch(`item ${key} does not exist`)
    // A value written earlier in the same transaction has no etag the caller could know.
    if (current.etag !== etag) throw etagMismatch(`etag of item ${key} does not match`)
  }

  private write(item: StateItem, ttl: number): void {
    const prev = this.items.get(item.key)
    if (prev !== undefined && prev.expiresAt !== 0) this.withTtl--
    if (prev !== undefined) this.bytes -= entryBytes(item.key, prev.value)
    this.bytes += entryBytes(item.key, item.value)
    const expiresAt = ttl > 0 ? this.now() + ttl * 1000 : 0
    const contentType = item.contentType ?? item.metadata?.['contentType']
    this.items.set(item.key, { value: item.value, etag: String(++this.version), expiresAt, contentType: contentType === '' ? undefined : contentType })
    if (expiresAt !== 0) {
      this.withTtl++
      this.startSweeper()
    }
  }

  private remove(key: string): void {
    const prev = this.items.get(key)
    if (prev === undefined) return
    if (prev.expiresAt !== 0) this.withTtl--
    this.bytes -= entryBytes(key, prev.value)
    this.items.delete(key)
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined) return
    this.sweeper = setInterval(() => {
      this.sweep()
      if (this.withTtl === 0) this.close()
    }, SWEEP_INTERVAL_MS)
    this.sweeper.unref()
  }
}
