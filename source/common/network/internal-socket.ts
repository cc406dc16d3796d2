import { Duplex } from 'node:stream'

/**
 * One end of an in-process connection (Envoy's internal connection, the user-space socket of
 * an internal listener). What one end writes the other reads, with backpressure: a write is only
 * acknowledged once the peer's reader has room, so neither side buffers without bound.
 */
export class InternalSocket extends Duplex {
  peer!: InternalSocket
  /** Writes waiting for the peer's reader to drain. */
  private waiting: (() => void) | undefined
  readonly localLabel: string

  constructor(localLabel: string) {
    super({ allowHalfOpen: true })
    this.localLabel = localLabel
  }

  /** Two connected ends: `[client, server]`. */
  static pair(clientLabel: string, serverLabel: string): [InternalSocket, InternalSocket] {
    const a = new InternalSocket(clientLabel)
    const b = new InternalSocket(serverLabel)
    a.peer = b
    b.peer = a
    return [a, b]
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.peer.destroyed) {
      callback(new Error('internal connection closed'))
      return
    }
    if (this.peer.push(chunk)) callback()
    else this.peer.waiting = callback
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null)
    callback()
  }

  override _read(): void {
    // The reader has room again: release the peer's pending write.
    const w = this.waiting
    this.waiting = undefined
    w?.()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const w = this.waiting
    this.waiting = undefined
    w?.()
    if (!this.peer.destroyed) this.peer.destroy()
    callback(err)
  }

  /** Socket API that ConnectionImpl calls; meaningless in process. */
  setNoDelay(): this {
    return this
  }
}
