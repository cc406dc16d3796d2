/**
 * A chain of byte slices that filters read and drain (Envoy's Buffer::Instance). Bytes move
 * between buffers without copying; a filter that consumes data drains it, a filter that waits
 * for more leaves it in place.
 */
export interface BufferInstance {
  /** Total bytes held. */
  readonly length: number
  /** Appends a slice (kept, not copied). */
  add(data: Buffer): void
  /** Prepends a slice. */
  prepend(data: Buffer): void
  /** Moves every byte of `other` to the end of this buffer, leaving `other` empty. */
  move(other: BufferInstance): void
  /** Moves up to `length` bytes of `other` to the end of this buffer. */
  moveBytes(other: BufferInstance, length: number): void
  /** Drops the first `length` bytes. */
  drain(length: number): void
  /** The first `length` bytes (default all) as one Buffer, without draining; copies only when it must. */
  peek(length?: number): Buffer
  /** The slices in order. Do not modify them. */
  slices(): readonly Buffer[]
  /** Position of `needle` at or after `start`, or -1. */
  indexOf(needle: Buffer | string | number, start?: number): number
  /** Byte at `offset`. */
  byteAt(offset: number): number
  /** Everything as a string (tests, logs). */
  toString(encoding?: BufferEncoding): string
}
