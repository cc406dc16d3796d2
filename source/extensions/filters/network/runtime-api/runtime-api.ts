import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import {
  FilterStatus, type FilterStatusValue, type ReadFilter, type ReadFilterCallbacks,
} from '../../../../envoy/network/filter.js'
import type { ConnectionDuplex } from '../../../../common/runtime-api/grpc/connection-duplex.js'
import type { RuntimeApiFilterConfig } from './config.js'

/**
 * The runtime API's terminal read filter: hands its connection to the config's gRPC server
 * (Layotto's and Dapr's services) and feeds it every byte read. The connection's lifetime is
 * the HTTP/2 session's: either closing ends the other.
 */
export class RuntimeApiFilter implements ReadFilter {
  private readonly config: RuntimeApiFilterConfig
  private callbacks: ReadFilterCallbacks | undefined
  private duplex: ConnectionDuplex | undefined

  constructor(config: RuntimeApiFilterConfig) {
    this.config = config
  }

  // Network.ReadFilter
  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.callbacks = callbacks
  }

  onNewConnection(): FilterStatusValue {
    const connection = this.callbacks!.connection()
    this.duplex = this.config.server().accept(connection)
    this.config.stats.cxTotal.inc()
    this.config.stats.cxActive.inc()
    connection.addConnectionCallbacks({
      onEvent: (e) => { if (e !== 'Connected') this.config.stats.cxActive.dec() },
      onAboveWriteBufferHighWatermark: () => {},
      onBelowWriteBufferLowWatermark: () => {},
    })
    return FilterStatus.Continue
  }

  onData(data: BufferInstance, endStream: boolean): FilterStatusValue {
    this.duplex!.onData(data, endStream)
    return FilterStatus.StopIteration
  }
}
