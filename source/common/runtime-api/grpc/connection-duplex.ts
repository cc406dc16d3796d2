import { Duplex } from 'node:stream'
import { BufferImpl } from '../../buffer/buffer-impl.js'
import type { BufferInstance } from '../../../envoy/buffer/buffer.js'
import type { Connection, ConnectionCallbacks, ConnectionEvent } from '../../../envoy/network/connection.js'

/** Bytes read from the connection that may wait in the Duplex before reading is paused. */
const READ_HIGH_WATER_MARK = 256 * 1024

/**
 * One of our network Connections as the Duplex grpc-js' HTTP/2 server expects
 * (`injectConnection`): bytes the read filter gets are pushed into the readable side, bytes
 * written to the writable side go to `connection.write`.
 *
 * Backpressure both ways: when the readable side is full the connection stops reading
 * (`readDisable(true)`) until HTTP/2 asks for more (`_read`); a write that leaves the
 * connection above its high watermark is acknowledged only once it drains below the low one.
 * Closing either side closes the other: the connection's close destroys the Duplex, and the
 * Duplex ending or being destroyed closes the connection after flushing what was written.
 */
export class ConnectionDuplex extends Duplex implements ConnectionCallbacks {
  /** For grpc-js' peer string and logs. */
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  private readonly connection: Connection
  private readPaused = false
  private heldWrite: ((err?: Error | null) => void) | undefined
  private connectionClosed = false

  constructor(connection: Connection) {
    super({ readableHighWaterMark: READ_HIGH_WATER_MARK, allowHalfOpen: true, decodeStrings: false })
    this.connection = connection
    const a = connection.remoteAddress
    this.remoteAddress = a.kind === 'ip' ? a.ip : undefined
    this.remotePort = a.kind === 'ip' ? a.port : undefined
    connection.addConnectionCallbacks(this)
  }

  /** From the read filter: what the peer sent (drained here). */
  onData(data: BufferInstance, endStream: boolean): void {
    const n = data.length
    if (n > 0 && !this.destroyed) {
      let more = true
      for (const s of data.slices()) more = this.push(s)
      if (!more && !this.readPaused) {
        this.readPaused = true
        this.connection.readDisable(true)
      }
    }
    data.drain(n)
    if (endStream && !this.destroyed) this.push(null)
  }

  // net.Socket methods the HTTP/2 session may call.
  setNoDelay(): this {
    return this
  }

  setKeepAlive(): this {
    return this
  }

  // Network.ConnectionCallbacks
  onEvent(event: ConnectionEvent): void {
    if (event === 'Connected') return
    this.connectionClosed = true
    this.releaseWrite()
    this.destroy()
  }

  onAboveWriteBufferHighWatermark(): void {}

  onBelowWriteBufferLowWatermark(): void {
    this.releaseWrite()
  }

  // stream.Duplex
  override _read(): void {
    if (this.readPaused) {
      this.readPaused = false
      this.connection.readDisable(false)
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    const b = new BufferImpl()
    b.add(chunk)
    this.send(b, cb)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const b = new BufferImpl()
    for (const c of chunks) b.add(c.chunk)
    this.send(b, cb)
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.connectionClosed) this.connection.close('FlushWrite')
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.connection.removeConnectionCallbacks(this)
    this.releaseWrite()
    if (!this.connectionClosed && this.connection.state() !== 'Closed') {
      this.connectionClosed = true
      this.connection.close('FlushWrite')
    }
    cb(err)
  }

  private send(b: BufferInstance, cb: (err?: Error | null) => void): void {
    if (this.connectionClosed || this.connection.state() !== 'Open') {
      cb()
      return
    }
    this.connection.write(b, false)
    if (this.connection.aboveHighWatermark()) this.heldWrite = cb
    else cb()
  }

  private releaseWrite(): void {
    const cb = this.heldWrite
    this.heldWrite = undefined
    cb?.()
  }
}
