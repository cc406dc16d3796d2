import { performance } from 'node:perf_hooks'
import type { HeaderMapView, ResponseFlagValue, StreamInfo } from '../../envoy/stream-info/stream-info.js'

export interface StreamInfoAddresses {
  downstreamLocalAddress: string
  downstreamRemoteAddress: string
  downstreamDirectRemoteAddress?: string
  connectionId: number
}

export class StreamInfoImpl implements StreamInfo {
  readonly startTime = Date.now()
  readonly startTimeMonotonic = performance.now()
  endTimeMonotonic: number | undefined = undefined
  lastDownstreamRxByteReceived: number | undefined = undefined
  firstUpstreamTxByteSent: number | undefined = undefined
  lastUpstreamTxByteSent: number | undefined = undefined
  firstUpstreamRxByteReceived: number | undefined = undefined
  lastUpstreamRxByteReceived: number | undefined = undefined
  firstDownstreamTxByteSent: number | undefined = undefined
  lastDownstreamTxByteSent: number | undefined = undefined
  protocol: string | undefined = undefined
  responseCode: number | undefined = undefined
  responseCodeDetails: string | undefined = undefined
  responseFlags = 0
  connectionTerminationDetails: string | undefined = undefined
  bytesReceived = 0
  bytesSent = 0
  upstreamBytesSent = 0
  upstreamBytesReceived = 0
  readonly downstreamLocalAddress: string
  /** Writable here: the HCM replaces it with the client address it trusts from x-forwarded-for. */
  downstreamRemoteAddress: string
  readonly downstreamDirectRemoteAddress: string
  readonly connectionId: number
  requestedServerName: string | undefined = undefined
  upstreamHost: string | undefined = undefined
  upstreamHostname: string | undefined = undefined
  upstreamCluster: string | undefined = undefined
  upstreamLocalAddress: string | undefined = undefined
  upstreamTransportFailureReason: string | undefined = undefined
  upstreamRequestAttemptCount = 0
  routeName: string | undefined = undefined
  virtualClusterName: string | undefined = undefined
  healthCheck = false
  requestHeaders: HeaderMapView | undefined = undefined
  responseHeaders: HeaderMapView | undefined = undefined
  responseTrailers: HeaderMapView | undefined = undefined
  readonly dynamicMetadata: Record<string, Record<string, unknown>> = {}
  readonly filterState = new Map<string, unknown>()

  constructor(a: StreamInfoAddresses) {
    this.downstreamLocalAddress = a.downstreamLocalAddress
    this.downstreamRemoteAddress = a.downstreamRemoteAddress
    this.downstreamDirectRemoteAddress = a.downstreamDirectRemoteAddress ?? a.downstreamRemoteAddress
    this.connectionId = a.connectionId
  }

  setResponseFlag(flag: ResponseFlagValue): void {
    this.responseFlags |= flag
  }

  hasResponseFlag(flag: ResponseFlagValue): boolean {
    return (this.responseFlags & flag) !== 0
  }
}
