import type { BufferInstance } from '../../envoy/buffer/buffer.js'
import type { Connection } from '../../envoy/network/connection.js'
import {
  FilterStatus, type FilterStatusValue, type ReadFilter, type ReadFilterCallbacks, type WriteFilter,
  type WriteFilterCallbacks,
} from '../../envoy/network/filter.js'

interface ActiveReadFilter {
  filter: ReadFilter
  initialized: boolean
  index: number
}

/** What the filter manager needs from its connection. */
export interface FilterManagerConnection extends Connection {
  /** The connection's read buffer and whether the peer has sent FIN. */
  readBuffer(): BufferInstance
  readEndStream(): boolean
  /** Writes to the socket, past every write filter. */
  rawWrite(data: BufferInstance, endStream: boolean): void
}

/**
 * Runs a connection's read filters in order and write filters in reverse order, with Envoy's
 * stop/continue rules (Envoy's Network::FilterManagerImpl).
 */
export class FilterManagerImpl {
  private readonly connection: FilterManagerConnection
  private readonly readFilters: ActiveReadFilter[] = []
  /** Newest first: writes traverse filters in reverse order of addition. */
  private readonly writeFilters: WriteFilter[] = []

  constructor(connection: FilterManagerConnection) {
    this.connection = connection
  }

  addReadFilter(filter: ReadFilter): void {
    const entry: ActiveReadFilter = { filter, initialized: false, index: this.readFilters.length }
    this.readFilters.push(entry)
    const callbacks: ReadFilterCallbacks = {
      connection: () => this.connection,
      continueReading: () => this.continueReading(entry.index + 1, this.connection.readBuffer(), this.connection.readEndStream()),
      injectReadDataToFilterChain: (data, endStream) => this.continueReading(entry.index + 1, data, endStream),
    }
    filter.initializeReadFilterCallbacks(callbacks)
  }

  addWriteFilter(filter: WriteFilter): void {
    this.writeFilters.unshift(filter)
    const callbacks: WriteFilterCallbacks = {
      connection: () => this.connection,
      injectWriteDataToFilterChain: (data, endStream) => {
        const start = this.writeFilters.indexOf(filter) + 1
        if (this.runWriteFilters(start, data, endStream) === FilterStatus.Continue) this.connection.rawWrite(data, endStream)
      },
    }
    filter.initializeWriteFilterCallbacks?.(callbacks)
  }

  addFilter(filter: ReadFilter & WriteFilter): void {
    this.addReadFilter(filter)
    this.addWriteFilter(filter)
  }

  /** Calls `onNewConnection` down the chain (and `onData` if bytes are already waiting). */
  initializeReadFilters(): boolean {
    if (this.readFilters.length === 0) return false
    this.continueReading(0, this.connection.readBuffer(), this.connection.readEndStream())
    return true
  }

  /** New bytes (or FIN) arrived on the socket. */
  onRead(): void {
    this.continueReading(0, this.connection.readBuffer(), this.connection.readEndStream())
  }

  /** Runs the write filters; Continue means the data may go to the socket. */
  onWrite(data: BufferInstance, endStream: boolean): FilterStatusValue {
    return this.runWriteFilters(0, data, endStream)
  }

  hasWriteFilters(): boolean {
    return this.writeFilters.length > 0
  }

  private continueReading(from: number, buffer: BufferInstance, endStream: boolean): void {
    const filters = this.readFilters
    for (let i = from; i < filters.length; i++) {
      const entry = filters[i]!
      if (!entry.initialized) {
        entry.initialized = true
        if (entry.filter.onNewConnection() === FilterStatus.StopIteration || this.connection.state() !== 'Open') return
      }
      if (buffer.length > 0 || endStream) {
        if (entry.filter.onData(buffer, endStream) === FilterStatus.StopIteration || this.connection.state() !== 'Open') return
      }
    }
  }

  private runWriteFilters(from: number, data: BufferInstance, endStream: boolean): FilterStatusValue {
    const filters = this.writeFilters
    for (let i = from; i < filters.length; i++) {
      if (filters[i]!.onWrite(data, endStream) === FilterStatus.StopIteration) return FilterStatus.StopIteration
    }
    return FilterStatus.Continue
  }
}
