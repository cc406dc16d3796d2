import type { BufferInstance } from '../buffer/buffer.js'
import type { StreamInfo } from '../stream-info/stream-info.js'
import type { Address } from './address.js'
import type { FilterManager } from './filter.js'

/** Envoy's ConnectionEvent. */
export type ConnectionEvent = 'RemoteClose' | 'LocalClose' | 'Connected'

/**
 * How to close. `FlushWrite`: send what is buffered, then close. `NoFlush`: close now.
 * `FlushWriteAndDelay`: flush, then wait up to the delayed-close timeout for the peer to close
 * first. `Abort`: reset (RST), dropping buffered data.
 */
export type ConnectionCloseType = 'FlushWrite' | 'NoFlush' | 'FlushWriteAndDelay' | 'Abort'

export type ConnectionState = 'Open' | 'Closing' | 'Closed'

/** Called on the connection's worker, in registration order. */
export interface ConnectionCallbacks {
  onEvent(event: ConnectionEvent): void
  /** The connection's write buffer passed its high watermark: stop feeding it. */
  onAboveWriteBufferHighWatermark(): void
  /** The write buffer drained below its low watermark: feeding may resume. */
  onBelowWriteBufferLowWatermark(): void
}

/**
 * A TCP (or in-process) connection owned by one worker (Envoy's Network::Connection). Reads go
 * through the read filters, writes through the write filters in reverse order.
 */
export interface Connection extends FilterManager {
  readonly id: number
  readonly streamInfo: StreamInfo
  readonly localAddress: Address
  readonly remoteAddress: Address
  /** The peer that connected to us before any PROXY protocol rewrite. */
  readonly directRemoteAddress: Address
  /** Human-readable name for logs: `conn 12 10.0.0.1:5555`. */
  readonly label: string

  addConnectionCallbacks(cb: ConnectionCallbacks): void
  removeConnectionCallbacks(cb: ConnectionCallbacks): void
  state(): ConnectionState
  close(type: ConnectionCloseType, details?: string): void
  /** Sends data through the write filters; `endStream` half-closes (FIN) after it. */
  write(data: BufferInstance, endStream: boolean): void
  /**
   * Stops (`true`) or resumes (`false`) reading from the socket. Counted: every disable needs
   * its own enable, as in Envoy.
   */
  readDisable(disable: boolean): void
  readEnabled(): boolean
  /** When enabled, a peer's FIN arrives as `endStream` and the connection stays writable. */
  enableHalfClose(enabled: boolean): void
  isHalfCloseEnabled(): boolean
  /** Bytes queued for the socket that it has not taken yet. */
  writeBufferedBytes(): number
  aboveHighWatermark(): boolean
  /** Sets the write-buffer limit (`per_connection_buffer_limit_bytes`); low watermark is half. */
  setBufferLimits(limit: number): void
  bufferLimit(): number
  noDelay(enable: boolean): void
}
