/**
 * Runtime API components (Layotto's / Dapr's building blocks). Every method is async and
 * takes plain data, so the same interface serves a component running in this thread (Redis,
 * one client per worker) and an embedded one running once in main's RuntimeHost, reached
 * through a proxy that posts the call to main (so a value written through worker 1 is read
 * through worker 3).
 *
 * Errors: throw RuntimeApiError (./errors.ts) with a gRPC-style code; handlers map it to the
 * gRPC status or HTTP code Dapr uses.
 */

/** Dapr/Layotto etag concurrency. */
export type Concurrency = 'first-write' | 'last-write'
export type Consistency = 'eventual' | 'strong'

export interface StateItem {
  key: string
  value: Uint8Array
  /** Expected etag; undefined: no check. */
  etag?: string
  metadata?: Record<string, string>
  concurrency?: Concurrency
  consistency?: Consistency
  contentType?: string
}

export interface StateGetResult {
  /** undefined: the key does not exist. */
  value: Uint8Array | undefined
  etag?: string
  metadata?: Record<string, string>
  contentType?: string
}

export type StateOperation =
  | { op: 'upsert'; item: StateItem }
  | { op: 'delete'; key: string; etag?: string; concurrency?: Concurrency; metadata?: Record<string, string> }

export interface StateStore {
  /** `ETAG`, `TRANSACTIONAL`, `TTL`, `QUERY_API`... as Dapr's GetMetadata reports them. */
  features(): Promise<string[]>
  get(key: string, metadata?: Record<string, string>): Promise<StateGetResult>
  bulkGet(keys: string[], metadata?: Record<string, string>): Promise<Array<StateGetResult & { key: string; error?: string }>>
  /** All items or none when an etag does not match (ETAG_MISMATCH). `ttlInSeconds` in metadata. */
  set(items: StateItem[]): Promise<void>
  delete(key: string, etag?: string, metadata?: Record<string, string>, concurrency?: Concurrency): Promise<void>
  bulkDelete(items: Array<{ key: string; etag?: string; metadata?: Record<string, string> }>): Promise<void>
  /** Atomic: every operation or none. */
  transaction(ops: StateOperation[], metadata?: Record<string, string>): Promise<void>
}

/** What a subscriber answers for one message. */
export type DeliveryStatus = 'SUCCESS' | 'RETRY' | 'DROP'

export interface PubSubMessage {
  id: string
  topic: string
  pubsubName: string
  data: Uint8Array
  contentType: string
  metadata: Record<string, string>
}

export interface PubSub {
  features(): Promise<string[]>
  publish(topic: string, data: Uint8Array, contentType: string, metadata?: Record<string, string>): Promise<void>
  /**
   * Delivers each message of `topic` to `handler` at least once; RETRY (or a throw) redelivers
   * later, DROP and SUCCESS acknowledge. Returns an unsubscribe function. Main thread only
   * (deliveries go to the application from main).
   */
  subscribe(topic: string, handler: (m: PubSubMessage) => Promise<DeliveryStatus>, metadata?: Record<string, string>): Promise<() => Promise<void>>
}

export type UnlockStatus = 'SUCCESS' | 'LOCK_DOES_NOT_EXIST' | 'LOCK_BELONGS_TO_OTHERS' | 'INTERNAL_ERROR'

export interface LockStore {
  /** True if `owner` now holds the lock for `expireSeconds`. */
  tryLock(resourceId: string, owner: string, expireSeconds: number): Promise<boolean>
  unlock(resourceId: string, owner: string): Promise<UnlockStatus>
  /** Layotto's LockKeepAlive: extends the lease if `owner` holds it. */
  keepAlive?(resourceId: string, owner: string, expireSeconds: number): Promise<boolean>
}

export interface Sequencer {
  /** The next id for `key`; ids of one key strictly increase across all workers and connections. */
  nextId(key: string, options?: { increment?: 'WEAK' | 'STRONG'; metadata?: Record<string, string> }): Promise<bigint>
}

export interface ConfigurationItem {
  key: string
  value: string
  version: string
  group?: string
  label?: string
  tags?: Record<string, string>
  metadata?: Record<string, string>
}

export interface ConfigurationStore {
  /** Empty `keys`: every key. */
  get(keys: string[], options?: { group?: string; label?: string; metadata?: Record<string, string> }): Promise<ConfigurationItem[]>
  /** Layotto's SaveConfiguration / DeleteConfiguration; stores that are read-only throw UNIMPLEMENTED. */
  save?(items: ConfigurationItem[], metadata?: Record<string, string>): Promise<void>
  delete?(keys: string[], options?: { group?: string; label?: string }): Promise<void>
  /** Calls `onChange` with every change to `keys` (all keys when empty); returns a stop function. */
  subscribe(keys: string[], onChange: (items: ConfigurationItem[]) => void, options?: { metadata?: Record<string, string> }): Promise<() => Promise<void>>
}

export interface SecretStore {
  get(key: string, metadata?: Record<string, string>): Promise<Record<string, string>>
  bulkGet(metadata?: Record<string, string>): Promise<Record<string, Record<string, string>>>
}

export interface FileInfo {
  name: string
  size: number
  lastModified: string
  metadata?: Record<string, string>
}

export interface FileStore {
  /** Whole file (files are streamed in chunks by the API layer). Names are confined to the store's root. */
  get(name: string, metadata?: Record<string, string>): Promise<Uint8Array>
  put(name: string, data: Uint8Array, metadata?: Record<string, string>): Promise<void>
  list(prefix: string, options?: { pageSize?: number; marker?: string; metadata?: Record<string, string> }): Promise<{ files: FileInfo[]; marker: string; truncated: boolean }>
  del(name: string, metadata?: Record<string, string>): Promise<void>
  stat(name: string, metadata?: Record<string, string>): Promise<FileInfo>
}

export interface OutputBinding {
  operations(): Promise<string[]>
  invoke(operation: string, data: Uint8Array, metadata: Record<string, string>): Promise<{ data: Uint8Array; metadata: Record<string, string> }>
}

/** The component kinds, as the config sections and the metadata API name them. */
export type ComponentKind = 'state' | 'pubsub' | 'lock' | 'sequencer' | 'configuration' | 'secretstores' | 'file' | 'bindings'

export interface ComponentTypes {
  state: StateStore
  pubsub: PubSub
  lock: LockStore
  sequencer: Sequencer
  configuration: ConfigurationStore
  secretstores: SecretStore
  file: FileStore
  bindings: OutputBinding
}
