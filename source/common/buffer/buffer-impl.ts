import type { BufferInstance } from '../../envoy/buffer/buffer.js'

const EMPTY = Buffer.alloc(0)

/** BufferInstance over an array of Node Buffers with a read offset into the first one. */
export class BufferImpl implements BufferInstance {
  private chunks: Buffer[] = []
  private size = 0

  constructor(initial?: Buffer | string) {
    if (initial !== undefined) this.add(typeof initial === 'string' ? Buffer.from(initial) : initial)
  }

  get length(): number {
    return this.size
  }

  add(data: Buffer): void {
    if (data.length === 0) return
    this.chunks.push(data)
    this.size += data.length
  }

  prepend(data: Buffer): void {
    if (data.length === 0) return
    this.chunks.unshift(data)
    this.size += data.length
  }

  move(other: BufferInstance): void {
    if (other instanceof BufferImpl) {
      if (other.size === 0) return
      if (this.size === 0) {
        const c = this.chunks
        this.chunks = other.chunks
        this.size = other.size
        other.chunks = c
        other.chunks.length = 0
        other.size = 0
        return
      }
      for (const c of other.chunks) this.chunks.push(c)
      this.size += other.size
      other.chunks = []
      other.size = 0
      return
    }
    for (const s of other.slices()) this.add(s)
    other.drain(other.length)
  }

  moveBytes(other: BufferInstance, length: number): void {
    if (length >= other.length) {
      this.move(other)
      return
    }
    let left = length
    for (const s of other.slices()) {
      if (left === 0) break
      const take = Math.min(left, s.length)
      this.add(take === s.length ? s : s.subarray(0, take))
      left -= take
    }
    other.drain(length)
  }

  drain(length: number): void {
    let left = Math.min(length, this.size)
    this.size -= left
    while (left > 0) {
      const first = this.chunks[0]!
      if (first.length <= left) {
        left -= first.length
        this.chunks.shift()
      } else {
        this.chunks[0] = first.subarray(left)
        left = 0
      }
    }
  }

  peek(length: number = this.size): Buffer {
    const n = Math.min(length, this.size)
    if (n === 0) return EMPTY
    const first = this.chunks[0]!
    if (first.length >= n) return n === first.length ? first : first.subarray(0, n)
    const out = Buffer.allocUnsafe(n)
    let off = 0
    for (const c of this.chunks) {
      const take = Math.min(c.length, n - off)
      c.copy(out, off, 0, take)
      off += take
      if (off === n) break
    }
    // Keep the joined copy so repeated peeks (parsers waiting for more bytes) stay cheap.
    if (n === this.size) this.chunks = [out]
    return out
  }

  slices(): readonly Buffer[] {
    return this.chunks
  }

  indexOf(needle: Buffer | string | number, start = 0): number {
    if (this.chunks.length === 1) return this.chunks[0]!.indexOf(needle, start)
    return this.peek().indexOf(needle, start)
  }

  byteAt(offset: number): number {
    let off = offset
    for (const c of this.chunks) {
      if (off < c.length) return c[off]!
      off -= c.length
    }
    throw new RangeError(`offset ${offset} past the end of a ${this.size}-byte buffer`)
  }

  toString(encoding: BufferEncoding = 'utf8'): string {
    return this.peek().toString(encoding)
  }
}
