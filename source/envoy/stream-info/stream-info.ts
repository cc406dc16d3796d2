/**
 * What is known about one downstream request (HTTP) or connection (TCP) while it runs and
 * when it is logged (Envoy's StreamInfo). Filled by the connection, the codec, the router and
 * filters on the worker that owns the stream; read by access loggers and local reply mappers.
 */

/**
 * Envoy's response flags, in Envoy's print order. Each value is a bit; `responseFlags` is a set
 * of them. The short code is what `%RESPONSE_FLAGS%` prints, the long one
 * `%RESPONSE_FLAGS_LONG%`.
 */
export const ResponseFlag = {
  FailedLocalHealthCheck: 1 << 0,
  NoHealthyUpstream: 1 << 1,
  UpstreamRequestTimeout: 1 << 2,
  LocalReset: 1 << 3,
  UpstreamRemoteReset: 1 << 4,
  UpstreamConnectionFailure: 1 << 5,
  UpstreamConnectionTermination: 1 << 6,
  UpstreamOverflow: 1 << 7,
  NoRouteFound: 1 << 8,
  DelayInjected: 1 << 9,
  FaultInjected: 1 << 10,
  RateLimited: 1 << 11,
  DownstreamConnectionTermination: 1 << 12,
  UpstreamRetryLimitExceeded: 1 << 13,
  StreamIdleTimeout: 1 << 14,
  InvalidEnvoyRequestHeaders: 1 << 15,
  DownstreamProtocolError: 1 << 16,
  UpstreamMaxStreamDurationReached: 1 << 17,
  NoFilterConfigFound: 1 << 18,
  DurationTimeout: 1 << 19,
  UpstreamProtocolError: 1 << 20,
  NoClusterFound: 1 << 21,
  OverloadManager: 1 << 22,
  DnsResolutionFailed: 1 << 23,
  DropOverLoad: 1 << 24,
  DownstreamRemoteReset: 1 << 25,
} as const
export type ResponseFlagValue = (typeof ResponseFlag)[keyof typeof ResponseFlag]

/** Short and long names of each flag, in print order. */
export const RESPONSE_FLAG_NAMES: ReadonlyArray<readonly [ResponseFlagValue, string, string]> = [
  [ResponseFlag.FailedLocalHealthCheck, 'LH', 'FailedLocalHealthCheck'],
  [ResponseFlag.NoHealthyUpstream, 'UH', 'NoHealthyUpstream'],
  [ResponseFlag.UpstreamRequestTimeout, 'UT', 'UpstreamRequestTimeout'],
  [ResponseFlag.LocalReset, 'LR', 'LocalReset'],
  [ResponseFlag.UpstreamRemoteReset, 'UR', 'UpstreamRemoteReset'],
  [ResponseFlag.UpstreamConnectionFailure, 'UF', 'UpstreamConnectionFailure'],
  [ResponseFlag.UpstreamConnectionTermination, 'UC', 'UpstreamConnectionTermination'],
  [ResponseFlag.UpstreamOverflow, 'UO', 'UpstreamOverflow'],
  [ResponseFlag.NoRouteFound, 'NR', 'NoRouteFound'],
  [ResponseFlag.DelayInjected, 'DI', 'DelayInjected'],
  [ResponseFlag.FaultInjected, 'FI', 'FaultInjected'],
  [ResponseFlag.RateLimited, 'RL', 'RateLimited'],
  [ResponseFlag.DownstreamConnectionTermination, 'DC', 'DownstreamConnectionTermination'],
  [ResponseFlag.UpstreamRetryLimitExceeded, 'URX', 'UpstreamRetryLimitExceeded'],
  [ResponseFlag.StreamIdleTimeout, 'SI', 'StreamIdleTimeout'],
  [ResponseFlag.InvalidEnvoyRequestHeaders, 'IH', 'InvalidEnvoyRequestHeaders'],
  [ResponseFlag.DownstreamProtocolError, 'DPE', 'DownstreamProtocolError'],
  [ResponseFlag.UpstreamMaxStreamDurationReached, 'UMSDR', 'UpstreamMaxStreamDurationReached'],
  [ResponseFlag.NoFilterConfigFound, 'NFCF', 'NoFilterConfigFound'],
  [ResponseFlag.DurationTimeout, 'DT', 'DurationTimeout'],
  [ResponseFlag.UpstreamProtocolError, 'UPE', 'UpstreamProtocolError'],
  [ResponseFlag.NoClusterFound, 'NC', 'NoClusterFound'],
  [ResponseFlag.OverloadManager, 'OM', 'OverloadManager'],
  [ResponseFlag.DnsResolutionFailed, 'DF', 'DnsResolutionFailed'],
  [ResponseFlag.DropOverLoad, 'DO', 'DropOverLoad'],
  [ResponseFlag.DownstreamRemoteReset, 'DR', 'DownstreamRemoteReset'],
]

/** Read-only header access for loggers; names are matched case-insensitively. */
export interface HeaderMapView {
  get(name: string): string | undefined
  /** Every header in order, names lower-cased. */
  entries(): Iterable<readonly [string, string]>
}

/** Which kind of log entry this is (Envoy's AccessLogType, the subset envoy-ts emits). */
export type AccessLogType =
  | 'NotSet'
  | 'TcpUpstreamConnected'
  | 'TcpPeriodic'
  | 'TcpConnectionEnd'
  | 'DownstreamStart'
  | 'DownstreamPeriodic'
  | 'DownstreamEnd'
  | 'UpstreamPoolReady'
  | 'UpstreamPeriodic'
  | 'UpstreamEnd'

export interface StreamInfo {
  /** Wall clock at the start, epoch milliseconds (`%START_TIME%`). */
  readonly startTime: number
  /** Monotonic clock at the start (`performance.now()`), the base of every duration below. */
  readonly startTimeMonotonic: number
  /** Monotonic time the stream ended, once it has. */
  endTimeMonotonic: number | undefined
  /** Monotonic times of protocol milestones, when they happened. */
  lastDownstreamRxByteReceived: number | undefined
  firstUpstreamTxByteSent: number | undefined
  lastUpstreamTxByteSent: number | undefined
  firstUpstreamRxByteReceived: number | undefined
  lastUpstreamRxByteReceived: number | undefined
  firstDownstreamTxByteSent: number | undefined
  lastDownstreamTxByteSent: number | undefined

  /** `HTTP/1.0`, `HTTP/1.1`, ...; undefined for TCP. */
  protocol: string | undefined
  responseCode: number | undefined
  responseCodeDetails: string | undefined
  /** Bit set of ResponseFlag values. */
  responseFlags: number
  connectionTerminationDetails: string | undefined

  /** Body bytes (HTTP) or payload bytes (TCP) received from downstream. */
  bytesReceived: number
  /** Body bytes (HTTP) or payload bytes (TCP) sent to downstream. */
  bytesSent: number
  upstreamBytesSent: number
  upstreamBytesReceived: number

  /** `ip:port` strings; IPv6 in brackets. */
  readonly downstreamLocalAddress: string
  readonly downstreamRemoteAddress: string
  readonly downstreamDirectRemoteAddress: string
  readonly connectionId: number
  requestedServerName: string | undefined

  upstreamHost: string | undefined
  upstreamHostname: string | undefined
  upstreamCluster: string | undefined
  upstreamLocalAddress: string | undefined
  upstreamTransportFailureReason: string | undefined
  upstreamRequestAttemptCount: number

  routeName: string | undefined
  virtualClusterName: string | undefined
  /** Set on requests answered by the health check filter; `not_health_check_filter` skips them. */
  healthCheck: boolean

  requestHeaders: HeaderMapView | undefined
  responseHeaders: HeaderMapView | undefined
  responseTrailers: HeaderMapView | undefined

  /** `filter_metadata`-style data set by filters: namespace → fields. */
  readonly dynamicMetadata: Record<string, Record<string, unknown>>
  /** Plain filter state, key → serializable value (`%FILTER_STATE(key)%`). */
  readonly filterState: Map<string, unknown>

  setResponseFlag(flag: ResponseFlagValue): void
  hasResponseFlag(flag: ResponseFlagValue): boolean
}
