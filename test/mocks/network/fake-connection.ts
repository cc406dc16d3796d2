/**
 * Fakes of Connection and ReadFilterCallbacks for network filter tests. A FakeConnection runs
 * its read filters the way the filter manager does (in order, stopping at StopIteration) and
 * records what filters do to it: writes, closes, half-close, read-disable, callbacks.
 */
import { BufferImpl } from '../../../source/common/buffer/buffer-impl.js'
import { StreamInfoImpl } from '../../../source/common/stream-info/stream-info-impl.js'
import type { BufferInstance } from '../../../source/envoy/buffer/buffer.js'
import { addressToString, type Address } from '../../../source/envoy/network/address.js'
import type {
  Connection, ConnectionCallbacks, ConnectionCloseType, ConnectionEvent, ConnectionState,
} from '../../../source/envoy/network/connection.js'
import type { ReadFilter, ReadFilterCallbacks, WriteFilter } from '../../../source/envoy/network/filter.js'

let nextId = 1

export function ipAddress(ip: string, port: number): Address {
  return { kind: 'ip', ip, port, family: ip.includes(':') ? 6 : 4 }
}

export class FakeConnection implements Connection {
  readonly id = nextId++
  readonly localAddress: Address
  readonly remoteAddress: Address
  readonly directRemoteAddress: Address
  readonly streamInfo: StreamInfoImpl
  /** Every write, in order, with its bytes copied out. */
  readonly writes: Array<{ data: Buffer; endStream: boolean }> = []
  readonly closes: Array<{ type: ConnectionCloseType; details: string | undefined }> = []
  readonly callbacks: ConnectionCallbacks[] = []
  readonly readFilters: ReadFilter[] = []
  readonly writeFilters: WriteFilter[] = []
  readonly readBuffer = new BufferImpl()
  private connState: ConnectionState = 'Open'
  private halfClose = false
  private disableCount = 0
  private limit = 1024 * 1024

  constructor(remote: Address = ipAddress('10.0.0.1', 40000), local: Address = ipAddress('127.0.0.1', 10000)) {
    this.localAddress = local
    this.remoteAddress = remote
    this.directRemoteAddress = remote
    this.streamInfo = new StreamInfoImpl({
      downstreamLocalAddress: addressToString(local),
      downstreamRemoteAddress: addressToString(remote),
      connectionId: this.id,
    })
  }

  get label(): string {
    return `conn ${this.id} ${addressToString(this.remoteAddress)}`
  }

  /** Everything written so far as one Buffer. */
  written(): Buffer {
    return Buffer.concat(this.writes.map((w) => w.data))
  }

  /** True once a write carried endStream (our FIN). */
  wroteEnd(): boolean {
    return this.writes.some((w) => w.endStream)
  }

  /** Delivers bytes from the peer through the read filters; `end` is the peer's FIN. */
  receive(data: Buffer | string, end = false): void {
    this.readBuffer.add(typeof data === 'string' ? Buffer.from(data) : data)
    this.runReadFilters(0, this.readBuffer, end)
  }

  /** Raises a connection event on the registered callbacks (a peer close, say). */
  raiseEvent(event: ConnectionEvent): void {
    if (event !== 'Connected') this.connState = 'Closed'
    for (const cb of [...this.callbacks]) cb.onEvent(event)
  }

  // Network.FilterManager
  addReadFilter(filter: ReadFilter): void {
    const index = this.readFilters.length
    this.readFilters.push(filter)
    const callbacks: ReadFilterCallbacks = {
      connection: () => this,
      continueReading: () => this.runReadFilters(index + 1, this.readBuffer, false),
      injectReadDataToFilterChain: (data, endStream) => this.runReadFilters(index + 1, data, endStream),
    }
    filter.initializeReadFilterCallbacks(callbacks)
  }

  addWriteFilter(filter: WriteFilter): void {
    this.writeFilters.unshift(filter)
  }

  addFilter(filter: ReadFilter & WriteFilter): void {
    this.addReadFilter(filter)
    this.addWriteFilter(filter)
  }

  initializeReadFilters(): boolean {
    for (const f of this.readFilters) if (f.onNewConnection() === 'StopIteration') break
    return this.readFilters.length > 0
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

  close(type: ConnectionCloseType, details?: string): void {
    this.closes.push({ type, details })
    if (this.connState === 'Closed') return
    if (details !== undefined) this.streamInfo.connectionTerminationDetails ??= details
    this.raiseEvent('LocalClose')
  }

  write(data: BufferInstance, endStream: boolean): void {
    this.writes.push({ data: Buffer.from(data.peek()), endStream })
    data.drain(data.length)
  }

  readDisable(disable: boolean): void {
    if (disable) this.disableCount++
    else if (this.disableCount > 0) this.disableCount--
  }

  readEnabled(): boolean {
    return this.disableCount === 0
  }

  enableHalfClose(enabled: boolean): void {
    this.halfClose = enabled
  }

  isHalfCloseEnabled(): boolean {
    return this.halfClose
  }

  writeBufferedBytes(): number {
    return 0
  }

  aboveHighWatermark(): boolean {
    return false
  }

  setBufferLimits(limit: number): void {
    this.limit = limit
  }

  bufferLimit(): number {
    return this.limit
  }

  noDelay(enable: boolean): void {
    void enable
  }

  private runReadFilters(start: number, data: BufferInstance, endStream: boolean): void {
    for (let i = start; i < this.readFilters.length; i++) {
      if (this.readFilters[i]!.onData(data, endStream) === 'StopIteration') return
    }
  }
}
