import assert from 'node:assert'

/**
 * The shared memory behind counters and gauges.
 *
 * Names live in one table shared by every thread (a hash index over a byte heap, guarded by a
 * spin lock that is taken only when a thread meets a name for the first time). Values live in
 * one Float64 row per shard: a thread adds to its own row with a plain store, and a reader sums
 * the rows. One more row holds the counters' reset baseline, so `/reset_counters` never races
 * a writer. Float64 keeps integers exact up to 2^53.
 *
 * Shards: 0 is main, 1 the guard dog, 2 + i worker i.
 */
export interface StatMemoryHandles {
  readonly names: SharedArrayBuffer
  readonly values: SharedArrayBuffer
  readonly capacity: number
  readonly shards: number
}

export const StatKind = { Counter: 1, GaugeAccumulate: 2, GaugeNeverImport: 3 } as const
export type StatKindValue = (typeof StatKind)[keyof typeof StatKind]

export const MAIN_SHARD = 0
export const GUARD_DOG_SHARD = 1
export function workerShard(workerIndex: number): number {
  return 2 + workerIndex
}

const HEADER_INTS = 4 // lock, count, heap used, overflowed
const LOCK = 0
const COUNT = 1
const HEAP_USED = 2
const OVERFLOWED = 3
const AVERAGE_NAME_BYTES = 96

interface Layout {
  buckets: number
  headerOffset: number
  bucketsOffset: number
  nameOffsetOffset: number
  nameLengthOffset: number
  kindOffset: number
  usedOffset: number
  heapOffset: number
  heapBytes: number
  total: number
}

function layoutFor(capacity: number): Layout {
  let buckets = 1
  while (buckets < capacity * 2) buckets <<= 1
  const headerOffset = 0
  const bucketsOffset = headerOffset + HEADER_INTS * 4
  const nameOffsetOffset = bucketsOffset + buckets * 4
  const nameLengthOffset = nameOffsetOffset + capacity * 4
  const kindOffset = nameLengthOffset + capacity * 4
  const usedOffset = kindOffset + capacity
  // One used flag per slot plus the spare slot.
  const heapOffset = usedOffset + capacity + 1
  const heapBytes = capacity * AVERAGE_NAME_BYTES
  return {
    buckets, headerOffset, bucketsOffset, nameOffsetOffset, nameLengthOffset, kindOffset,
    usedOffset, heapOffset, heapBytes, total: heapOffset + heapBytes,
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export class StatMemory {
  readonly capacity: number
  readonly shards: number
  /** `values[shard * stride + slot]`; row `shards` is the counters' reset baseline. */
  readonly values: Float64Array
  readonly stride: number
  /** Written by any thread the first time a stat is used. */
  readonly usedFlags: Uint8Array
  readonly handles: StatMemoryHandles
  private readonly header: Int32Array
  private readonly buckets: Int32Array
  private readonly nameOffsets: Int32Array
  private readonly nameLengths: Int32Array
  private readonly kinds: Uint8Array
  private readonly heap: Uint8Array
  private readonly bucketMask: number
  private readonly decodedNames: string[] = []

  /** Creates fresh memory (main thread, once). */
  static create(capacity: number, shards: number): StatMemory {
    const layout = layoutFor(capacity)
    return new StatMemory({
      names: new SharedArrayBuffer(layout.total),
      // One spare slot per row (index `capacity`) absorbs writes once the table is full.
      values: new SharedArrayBuffer((capacity + 1) * (shards + 1) * 8),
      capacity,
      shards,
    })
  }

  constructor(handles: StatMemoryHandles) {
    const layout = layoutFor(handles.capacity)
    this.handles = handles
    this.capacity = handles.capacity
    this.shards = handles.shards
    this.stride = handles.capacity + 1
    this.header = new Int32Array(handles.names, layout.headerOffset, HEADER_INTS)
    this.buckets = new Int32Array(handles.names, layout.bucketsOffset, layout.buckets)
    this.bucketMask = layout.buckets - 1
    this.nameOffsets = new Int32Array(handles.names, layout.nameOffsetOffset, handles.capacity)
    this.nameLengths = new Int32Array(handles.names, layout.nameLengthOffset, handles.capacity)
    this.kinds = new Uint8Array(handles.names, layout.kindOffset, handles.capacity)
    this.usedFlags = new Uint8Array(handles.names, layout.usedOffset, handles.capacity + 1)
    this.heap = new Uint8Array(handles.names, layout.heapOffset, layout.heapBytes)
    this.values = new Float64Array(handles.values)
  }

  /**
   * The slot of `name`, allocating it on first use by any thread. Returns `capacity` (the spare
   * slot, never listed) when the table or its name heap is full.
   */
  slotFor(name: string, kind: StatKindValue): number {
    const bytes = encoder.encode(name)
    this.lock()
    try {
      const hash = fnv1a(bytes)
      for (let i = 0; ; i++) {
        const b = (hash + i) & this.bucketMask
        const entry = this.buckets[b]!
        if (entry === 0) break
        const slot = entry - 1
        if (this.nameEquals(slot, bytes)) return slot
      }
      const count = this.header[COUNT]!
      const heapUsed = this.header[HEAP_USED]!
      if (count >= this.capacity || heapUsed + bytes.length > this.heap.length) {
        Atomics.store(this.header, OVERFLOWED, 1)
        return this.capacity
      }
      this.heap.set(bytes, heapUsed)
      this.nameOffsets[count] = heapUsed
      this.nameLengths[count] = bytes.length
      this.kinds[count] = kind
      this.header[HEAP_USED] = heapUsed + bytes.length
      for (let i = 0; ; i++) {
        const b = (hash + i) & this.bucketMask
        if (this.buckets[b] === 0) {
          Atomics.store(this.buckets, b, count + 1)
          break
        }
      }
      // Publishing the count last lets readers walk [0, count) without the lock.
      Atomics.store(this.header, COUNT, count + 1)
      return count
    } finally {
      this.unlock()
    }
  }

  /** Number of allocated slots; every slot below it is fully written. */
  count(): number {
    return Atomics.load(this.header, COUNT)
  }

  overflowed(): boolean {
    return Atomics.load(this.header, OVERFLOWED) === 1
  }

  nameOf(slot: number): string {
    let name = this.decodedNames[slot]
    if (name === undefined) {
      const off = this.nameOffsets[slot]!
      name = decoder.decode(this.heap.subarray(off, off + this.nameLengths[slot]!))
      this.decodedNames[slot] = name
    }
    return name
  }

  kindOf(slot: number): StatKindValue {
    return this.kinds[slot] as StatKindValue
  }

  /** Sum over every shard, minus the reset baseline for counters. */
  read(slot: number): number {
    let sum = 0
    for (let s = 0; s < this.shards; s++) sum += this.values[s * this.stride + slot]!
    return sum - this.values[this.shards * this.stride + slot]!
  }

  /** Records the current counter totals as the new zero (`/reset_counters`). Main thread only. */
  resetCounters(): void {
    const n = this.count()
    const base = this.shards * this.stride
    for (let slot = 0; slot < n; slot++) {
      if (this.kinds[slot] !== StatKind.Counter) continue
      this.values[base + slot] = 0
      this.values[base + slot] = this.read(slot)
    }
  }

  /** Zeroes a shard's gauges: its thread died and took what it counted with it. */
  clearShardGauges(shard: number): void {
    assert(shard >= 0 && shard < this.shards, 'shard out of range')
    const n = this.count()
    const base = shard * this.stride
    for (let slot = 0; slot < n; slot++) {
      if (this.kinds[slot] !== StatKind.Counter) this.values[base + slot] = 0
    }
  }

  private nameEquals(slot: number, bytes: Uint8Array): boolean {
    if (this.nameLengths[slot] !== bytes.length) return false
    const off = this.nameOffsets[slot]!
    for (let i = 0; i < bytes.length; i++) if (this.heap[off + i] !== bytes[i]) return false
    return true
  }

  private lock(): void {
    // Held for a hash probe and a copy of a name; contention only at start-up.
    while (Atomics.compareExchange(this.header, LOCK, 0, 1) !== 0) {
      Atomics.wait(this.header, LOCK, 1, 1)
    }
  }

  private unlock(): void {
    Atomics.store(this.header, LOCK, 0)
    Atomics.notify(this.header, LOCK, 1)
  }
}
