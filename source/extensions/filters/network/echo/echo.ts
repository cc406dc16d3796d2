import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import {
  FilterStatus, type FilterStatusValue, type ReadFilter, type ReadFilterCallbacks,
} from '../../../../envoy/network/filter.js'

/**
 * Writes every byte it reads back to the peer (Envoy's EchoFilter). Terminal: nothing after it
 * sees the data. Half-close is on, so the peer's FIN is echoed as our FIN once the data before
 * it has been written back.
 */
export class EchoFilter implements ReadFilter {
  private callbacks: ReadFilterCallbacks | undefined

  // Network.ReadFilter
  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.callbacks = callbacks
  }

  onNewConnection(): FilterStatusValue {
    this.callbacks!.connection().enableHalfClose(true)
    return FilterStatus.Continue
  }

  onData(data: BufferInstance, endStream: boolean): FilterStatusValue {
    // write() moves the bytes out of the read buffer.
    this.callbacks!.connection().write(data, endStream)
    return FilterStatus.StopIteration
  }
}
