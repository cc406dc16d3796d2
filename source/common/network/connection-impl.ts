import type net from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { BufferInstance } from '../../envoy/buffer/buffer.js'
import { type Address, addressToString } from '../../envoy/network/address.js'
import type {
  Connection, ConnectionCallbacks, ConnectionCloseType, ConnectionEvent, ConnectionState,
} from '../../envoy/network/connection.js'
import type { ReadFilter, WriteFilter } from '../../envoy/network/filter.js'
import type { Counter, Gauge } from '../../envoy/stats/stats.js'
import type { StreamInfo } from '../../envoy/stream-info/stream-info.js'
import { BufferImpl } from '../buffer/buffer-impl.js'
import { FilterManagerImpl, type FilterManagerConnection } from './filter-manager-impl.js'
import type { InternalSocket } from './internal-socket.js'
import { startTimer } from '../event/timer-impl.js'
import type { Timer } from '../../envoy/event/timer.js'

/** A kernel socket, or one end of an in-process (internal listener) connection. */
export type SocketLike = net.Socket | InternalSocket

export const DEFAULT_BUFFER_LIMIT = 1024 * 1024
/** How long a `FlushWriteAndDelay` close waits for the peer to close first (Envoy's 1s). */
export const DEFAULT_DELAYED_CLOSE_MS = 1000

/** Byte counters a connection's owner wants kept (listener, cluster and filter stats). */
export interface ConnectionStats {
  rxTotal: Counter
  rxBuffered?: Gauge
  txTotal: Counter
  txBuffered?: Gauge
}

export interface ConnectionOptions {
  id: number
  socket: SocketLike
  localAddress: Address
  remoteAddress: Address
  directRemoteAddress?: Address
  streamInfo: StreamInfo
  log: Logger
  bufferLimit?: number
  /** Bytes read before the connection existed (listener filters). */
  initialData?: BufferInstance
  /** Called when a filter throws; the connection is closed right after. */
  onFilterException?: (err: unknown) => void
}

let nextConnectionId = 1
/** Connection ids are unique per worker, like Envoy's per-dispatcher ids. */
export function newConnectionId(): number {
  return nextConnectionId++
}

/**
 * A connection over a Node socket (Envoy's ConnectionImpl): read buffer + filter chain,
 * write-buffer watermarks driving flow control, half-close, and Envoy's close types.
 */
export class ConnectionImpl implements FilterManagerConnection {
  readonly id: number
  readonly streamInfo: StreamInfo
  readonly localAddress: Address
  readonly remoteAddress: Address
  readonly directRemoteAddress: Address
  readonly label: string
  protected readonly socket: SocketLike
  protected readonly log: Logger
  private readonly filterManager: FilterManagerImpl
  private readonly callbacks: ConnectionCallbacks[] = []
  private readonly readBuf: BufferImpl
  private readEnd = false
  private writeEnd = false
  private connState: ConnectionState = 'Open'
  private readDisableCount = 0
  private halfClose = false
  private limit: number
  private above = false
  private stats: ConnectionStats | undefined
  private delayedCloseMs = DEFAULT_DELAYED_CLOSE_MS
  private closeTimer: Timer | undefined
  private localCloseRaised = false
  private readonly onFilterException: ((err: unknown) => void) | undefined
  /** True between socket creation and `Connected` for client connections. */
  protected connecting = false

  constructor(o: ConnectionOptions) {
    this.id = o.id
    this.socket = o.socket
    this.localAddress = o.localAddress
    this.remoteAddress = o.remoteAddress
    this.directRemoteAddress = o.directRemoteAddress ?? o.remoteAddress
    this.streamInfo = o.streamInfo
    this.log = o.log
    this.limit = o.bufferLimit ?? DEFAULT_BUFFER_LIMIT
    this.label = `conn ${o.id} ${addressToString(o.remoteAddress)}`
    this.readBuf = new BufferImpl()
    if (o.initialData !== undefined) this.readBuf.move(o.initialData)
    this.onFilterException = o.onFilterException
    this.filterManager = new FilterManagerImpl(this)
    this.socket.on('data', (chunk: Buffer) => this.onSocketData(chunk))
    this.socket.on('end', () => this.onSocketEnd())
    this.socket.on('drain', () => this.onSocketDrain())
    this.socket.on('close', () => this.onSocketClose())
    this.socket.on('error', (err) => this.log.debug({ conn: this.id, err: err.message }, 'socket error'))
    // Listener filters may have paused the socket; the connection reads from here on.
    this.socket.resume()
  }

  // Network.FilterManager

  addReadFilter(filter: ReadFilter): void {
    this.filterManager.addReadFilter(filter)
  }

  addWriteFilter(filter: WriteFilter): void {
    this.filterManager.addWriteFilter(filter)
  }

  addFilter(filter: ReadFilter & WriteFilter): void {
    this.filterManager.addFilter(filter)
  }

  initializeReadFilters(): boolean {
    return this.guard(() => this.filterManager.initializeReadFilters()) ?? false
  }

  // FilterManagerConnection

  readBuffer(): BufferInstance {
    return this.readBuf
  }

  readEndStream(): boolean {
    return this.readEnd
  }

  rawWrite(data: BufferInstance, endStream: boolean): void {
    if (this.connState === 'Closed' || this.writeEnd) {
      data.drain(data.length)
      return
    }
    const n = data.length
    if (n > 0) {
      const slices = data.slices()
      if (slices.length === 1) this.socket.write(slices[0]!)
      else {
        this.socket.cork()
        for (const s of slices) this.socket.write(s)
        this.socket.uncork()
      }
      data.drain(n)
      this.stats?.txTotal.add(n)
      this.onBytesSent(n)
    }
    if (endStream) {
      this.writeEnd = true
      this.socket.end()
    }
    this.checkHighWatermark()
  }

  // Network.Connection

  addConnectionCallbacks(cb: ConnectionCallbacks): void {
    this.callbacks.push(cb)
  }

  removeConnectionCallbacks(cb: ConnectionCallbacks): void {
    const i = this.callbacks.indexOf(cb)
    if (i >= 0) this.callbacks.splice(i, 1)
  }

  state(): ConnectionState {
    return this.connState
  }

  write(data: BufferInstance, endStream: boolean): void {
    if (this.connState !== 'Open') {
      data.drain(data.length)
      return
    }
    if (this.filterManager.hasWriteFilters() && this.filterManager.onWrite(data, endStream) === 'StopIteration') return
    this.rawWrite(data, endStream)
  }

  close(type: ConnectionCloseType, details?: string): void {
    if (this.connState === 'Closed') return
    if (details !== undefined && this.streamInfo.connectionTerminationDetails === undefined) {
      this.streamInfo.connectionTerminationDetails = details
    }
    if (type === 'Abort') {
      this.closeNow('LocalClose', true)
      return
    }
    if (type === 'NoFlush' || this.socket.destroyed || this.connecting) {
      this.closeNow('LocalClose', false)
      return
    }
    if (this.connState === 'Closing') return
    this.connState = 'Closing'
    this.raiseLocalClose()
    if (!this.writeEnd) {
      this.writeEnd = true
      this.socket.end()
    }
    if (type === 'FlushWrite') {
      // Close as soon as everything queued has reached the kernel.
      if (this.socket.writableFinished) this.closeNow('LocalClose', false)
      else this.socket.once('finish', () => this.closeNow('LocalClose', false))
    } else {
      // FlushWriteAndDelay: give the peer a moment to read and close first, so our close does
      // not turn into a reset that loses the response.
      this.closeTimer = startTimer(this.delayedCloseMs, () => this.closeNow('LocalClose', false))
    }
  }

  readDisable(disable: boolean): void {
    if (this.connState === 'Closed') return
    if (disable) {
      if (++this.readDisableCount === 1) this.socket.pause()
    } else if (this.readDisableCount > 0) {
      if (--this.readDisableCount === 0) this.socket.resume()
    }
  }

  readEnabled(): boolean {
    return this.readDisableCount === 0
  }

  enableHalfClose(enabled: boolean): void {
    this.halfClose = enabled
  }

  isHalfCloseEnabled(): boolean {
    return this.halfClose
  }

  writeBufferedBytes(): number {
    return this.socket.writableLength
  }

  aboveHighWatermark(): boolean {
    return this.above
  }

  setBufferLimits(limit: number): void {
    this.limit = limit
  }

  bufferLimit(): number {
    return this.limit
  }

  noDelay(enable: boolean): void {
    this.socket.setNoDelay(enable)
  }

  /** Owner-supplied byte counters (listener, cluster, filter stats). */
  setConnectionStats(stats: ConnectionStats): void {
    this.stats = stats
  }

  setDelayedCloseTimeout(ms: number): void {
    this.delayedCloseMs = ms
  }

  /** Hook for subclasses that account sent bytes differently. */
  protected onBytesSent(n: number): void {
    void n
  }

  protected raiseEvent(event: ConnectionEvent): void {
    for (const cb of [...this.callbacks]) this.guard(() => cb.onEvent(event))
  }

  /** Runs filter code; a throw closes this connection instead of taking the worker down. */
  protected guard<T>(fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      this.log.error({ conn: this.id, err }, 'filter threw; closing connection')
      this.onFilterException?.(err)
      this.closeNow('LocalClose', true)
      return undefined
    }
  }

  private onSocketData(chunk: Buffer): void {
    if (this.connState === 'Closed') return
    this.readBuf.add(chunk)
    this.stats?.rxTotal.add(chunk.length)
    this.guard(() => this.filterManager.onRead())
  }

  private onSocketEnd(): void {
    if (this.connState === 'Closed') return
    this.readEnd = true
    if (!this.halfClose) {
      this.closeNow('RemoteClose', false)
      return
    }
    this.guard(() => this.filterManager.onRead())
    // Both directions done: nothing more can happen on this connection.
    if (this.writeEnd && this.connState === 'Open') this.socket.once('finish', () => this.closeNow('RemoteClose', false))
  }

  private onSocketDrain(): void {
    if (this.above && this.socket.writableLength <= this.limit / 2) {
      this.above = false
      for (const cb of [...this.callbacks]) this.guard(() => cb.onBelowWriteBufferLowWatermark())
    }
  }

  private checkHighWatermark(): void {
    if (!this.above && this.socket.writableLength > this.limit) {
      this.above = true
      for (const cb of [...this.callbacks]) this.guard(() => cb.onAboveWriteBufferHighWatermark())
    }
  }

  private onSocketClose(): void {
    if (this.connState === 'Closed') return
    this.finishClose(this.localCloseRaised ? 'LocalClose' : 'RemoteClose')
  }

  private raiseLocalClose(): void {
    if (this.localCloseRaised) return
    this.localCloseRaised = true
  }

  private closeNow(event: ConnectionEvent, reset: boolean): void {
    if (this.connState === 'Closed') return
    if (event === 'LocalClose') this.raiseLocalClose()
    if (reset && 'resetAndDestroy' in this.socket && !this.socket.destroyed && !this.connecting) this.socket.resetAndDestroy()
    else this.socket.destroy()
    this.finishClose(event)
  }

  private finishClose(event: ConnectionEvent): void {
    if (this.connState === 'Closed') return
    this.connState = 'Closed'
    this.closeTimer?.disableTimer()
    this.streamInfo.endTimeMonotonic ??= performance.now()
    this.raiseEvent(event)
  }
}

export type { Connection }
