/**
 * Shared memory between the watched threads and the guard dog. Per watched thread: a touch
 * counter the thread bumps from a timer on its own loop, and a generation that main bumps when
 * the thread (re)starts or stops, so the guard dog can tell a stall from a restart.
 *
 * Slot 0 is the main thread, slot 1 + i worker i. A generation of 0 means "not running".
 */
export const MAIN_THREAD_SLOT = 0
export function workerWatchdogSlot(index: number): number {
  return 1 + index
}

export class WatchdogMemory {
  readonly buffer: SharedArrayBuffer
  readonly slots: number
  private readonly touches: Int32Array
  private readonly generations: Int32Array

  static create(workers: number): WatchdogMemory {
    const slots = 1 + workers
    return new WatchdogMemory(new SharedArrayBuffer(slots * 2 * 4), slots)
  }

  constructor(buffer: SharedArrayBuffer, slots: number) {
    this.buffer = buffer
    this.slots = slots
    this.touches = new Int32Array(buffer, 0, slots)
    this.generations = new Int32Array(buffer, slots * 4, slots)
  }

  touch(slot: number): void {
    Atomics.add(this.touches, slot, 1)
  }

  touchCount(slot: number): number {
    return Atomics.load(this.touches, slot)
  }

  /** Marks a thread as (re)started: the guard dog starts timing it afresh. */
  started(slot: number): void {
    const g = Atomics.load(this.generations, slot)
    Atomics.store(this.generations, slot, g <= 0 ? -g + 1 : g + 1)
  }

  /** Marks a thread as not running: the guard dog stops timing it. */
  stopped(slot: number): void {
    const g = Atomics.load(this.generations, slot)
    if (g > 0) Atomics.store(this.generations, slot, -g)
  }

  generation(slot: number): number {
    return Atomics.load(this.generations, slot)
  }
}
