/**
 * Earliest-deadline-first scheduler for weighted picking (Envoy's EdfScheduler).
 *
 * Each entry has a deadline `now + 1/weight`; a pick takes the entry with the earliest deadline,
 * advances the clock to it, and schedules the entry again one period later. Over time each entry
 * is picked in proportion to its weight, interleaved rather than in bursts. Equal deadlines go
 * to the entry scheduled first, so the sequence is fully determined by the inputs.
 *
 * The heap holds the entries themselves and a pick updates the top entry in place and sifts it
 * down, so picking allocates nothing.
 */

interface Entry<T> {
  deadline: number
  /** Scheduling sequence number, the tie-break for equal deadlines. */
  order: number
  weight: number
  readonly item: T
}

export class EdfScheduler<T> {
  private readonly heap: Array<Entry<T>> = []
  private now = 0
  private nextOrder = 0

  get size(): number {
    return this.heap.length
  }

  /** Schedules `item` one period (`1/weight`) from now. Non-positive weights are ignored. */
  add(weight: number, item: T): void {
    if (!(weight > 0) || !Number.isFinite(weight)) return
    const e: Entry<T> = { deadline: this.now + 1 / weight, order: this.nextOrder++, weight, item }
    this.heap.push(e)
    this.siftUp(this.heap.length - 1)
  }

  /** The item that the next `pick()` returns, without picking it. */
  peek(): T | undefined {
    return this.heap[0]?.item
  }

  /** Picks the earliest item and schedules it again with the same weight. */
  pick(): T | undefined {
    const top = this.heap[0]
    if (top === undefined) return undefined
    this.reschedule(top, top.weight)
    return top.item
  }

  /**
   * Picks the earliest item and schedules it again with the weight `weightOf` gives it now
   * (least-request re-weighs a host by its active requests each time it is picked). A
   * non-positive weight is treated as the smallest positive one: the item goes to the very back.
   */
  pickAndAdd(weightOf: (item: T) => number): T | undefined {
    const top = this.heap[0]
    if (top === undefined) return undefined
    const w = weightOf(top.item)
    this.reschedule(top, w > 0 && Number.isFinite(w) ? w : Number.MIN_VALUE)
    return top.item
  }

  /**
   * Makes `picks` picks and discards them, so that schedulers built from the same hosts on
   * different workers (or after each host-set update) do not all start on the same host.
   */
  warmUp(picks: number): void {
    for (let i = 0; i < picks; i++) this.pick()
  }

  private reschedule(top: Entry<T>, weight: number): void {
    this.now = top.deadline
    top.weight = weight
    top.deadline = this.now + 1 / weight
    top.order = this.nextOrder++
    this.siftDown(0)
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order)
  }

  private siftUp(i: number): void {
    const heap = this.heap
    const e = heap[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (!this.less(e, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = e
  }

  private siftDown(i: number): void {
    const heap = this.heap
    const n = heap.length
    const e = heap[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && this.less(heap[r]!, heap[l]!) ? r : l
      if (!this.less(heap[c]!, e)) break
      heap[i] = heap[c]!
      i = c
    }
    heap[i] = e
  }
}
