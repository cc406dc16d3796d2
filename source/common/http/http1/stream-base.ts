import type { Stream, StreamCallbacks, StreamResetReason } from '../../../envoy/http/codec.js'
import type { Connection } from '../../../envoy/network/connection.js'
import type { Http1Output } from './encoder.js'

/** What a stream needs of its codec: the connection, the output and its watermark state. */
export interface Http1StreamCodec {
  readonly connection: Connection
  readonly output: Http1Output
  /** High-watermark events outstanding, replayed to callbacks added later. */
  readonly aboveHighWatermark: number
}

/**
 * The part of Http.Stream that HTTP/1 request and response encoders share (Envoy's
 * Http1::StreamEncoderImpl with its StreamCallbackHelper): stream callbacks, read-disable and
 * buffered bytes, all on the one connection. Subclasses say how a reset ends the exchange.
 */
export abstract class Http1StreamBase implements Stream {
  private callbacks: StreamCallbacks[] = []

  protected abstract get streamCodec(): Http1StreamCodec

  abstract resetStream(reason: StreamResetReason): void

  addCallbacks(cb: StreamCallbacks): void {
    this.callbacks.push(cb)
    for (let i = 0; i < this.streamCodec.aboveHighWatermark; i++) cb.onAboveWriteBufferHighWatermark()
  }

  removeCallbacks(cb: StreamCallbacks): void {
    const i = this.callbacks.indexOf(cb)
    if (i >= 0) this.callbacks.splice(i, 1)
  }

  readDisable(disable: boolean): void {
    this.streamCodec.connection.readDisable(disable)
  }

  bufferedBytes(): number {
    return this.streamCodec.connection.writeBufferedBytes() + this.streamCodec.output.length
  }

  runResetCallbacks(reason: StreamResetReason, details: string): void {
    for (const cb of [...this.callbacks]) cb.onResetStream(reason, details)
  }

  runWatermarkCallbacks(above: boolean): void {
    for (const cb of [...this.callbacks]) {
      if (above) cb.onAboveWriteBufferHighWatermark()
      else cb.onBelowWriteBufferLowWatermark()
    }
  }
}
