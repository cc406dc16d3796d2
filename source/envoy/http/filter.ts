import type { Logger } from 'pino'
import type { AccessLogInstance, AccessLogManager } from '../access-log/access-log.js'
import type { BufferInstance } from '../buffer/buffer.js'
import type { Connection } from '../network/connection.js'
import type { DrainDecision } from '../network/drain-decision.js'
import type { Registry, TypedFactory } from '../registry/registry.js'
import type { Route } from '../router/router.js'
import type { RuntimeSnapshot } from '../runtime/runtime.js'
import type { Scope } from '../stats/stats.js'
import type { StreamInfo } from '../stream-info/stream-info.js'
import type { ClusterManager } from '../upstream/cluster-manager.js'
import type { HeaderMap } from './header-map.js'
import type { ServiceInvoker } from '../runtime-api/invoker.js'
import type { RuntimeHostApi } from '../runtime-api/runtime-host.js'

/**
 * HTTP filters (Envoy's Http::StreamDecoderFilter / StreamEncoderFilter). One instance per
 * request, on the connection's worker. Decoder filters see the request in order, encoder
 * filters see the response in reverse order; the router is the last decoder filter.
 */
export const FilterHeadersStatus = {
  Continue: 'Continue',
  /** Stop here; headers are released by `continueDecoding`/`continueEncoding`. */
  StopIteration: 'StopIteration',
  /** Stop and buffer the body too until continued (subject to the buffer limit: 413 / 500). */
  StopAllIterationAndBuffer: 'StopAllIterationAndBuffer',
} as const
export type FilterHeadersStatusValue = (typeof FilterHeadersStatus)[keyof typeof FilterHeadersStatus]

export const FilterDataStatus = {
  Continue: 'Continue',
  /** Keep this data in the filter manager's buffer; it is passed on when iteration resumes. */
  StopIterationAndBuffer: 'StopIterationAndBuffer',
  /** Like StopIterationAndBuffer, but past the limit the stream is flow-controlled instead of failed. */
  StopIterationAndWatermark: 'StopIterationAndWatermark',
  /** The filter took the data itself (e.g. the router sent it upstream). */
  StopIterationNoBuffer: 'StopIterationNoBuffer',
} as const
export type FilterDataStatusValue = (typeof FilterDataStatus)[keyof typeof FilterDataStatus]

export const FilterTrailersStatus = { Continue: 'Continue', StopIteration: 'StopIteration' } as const
export type FilterTrailersStatusValue = (typeof FilterTrailersStatus)[keyof typeof FilterTrailersStatus]

/** What every HTTP filter can reach (Envoy's StreamFilterCallbacks). */
export interface StreamFilterCallbacks {
  connection(): Connection | undefined
  streamId(): number
  streamInfo(): StreamInfo
  /** The route for this request, matched once and cached (recomputed after `clearRouteCache`). */
  route(): Route | undefined
  clearRouteCache(): void
  /** Ends the request now (no response if none has started). */
  resetStream(): void
  /** The most specific `typed_per_filter_config` for `filterName` (route, then virtual host, then route config). */
  perFilterConfig<T>(filterName: string): T | undefined
  /** Runs `fn` guarded like a filter callback; for timers a filter sets. */
  dispatch(fn: () => void): void
  readonly log: Logger
}

/** Watermark events of the downstream connection, for filters that must pause their producers. */
export interface DownstreamWatermarkCallbacks {
  onAboveWriteBufferHighWatermark(): void
  onBelowWriteBufferLowWatermark(): void
}

export interface StreamDecoderFilterCallbacks extends StreamFilterCallbacks {
  /** Resumes iteration after StopIteration / StopIterationAndBuffer. */
  continueDecoding(): void
  /** The body buffered so far by StopIterationAndBuffer, if any. */
  decodingBuffer(): BufferInstance | undefined
  /** Adds data to the buffered body (when called from decodeHeaders/decodeData/decodeTrailers). */
  addDecodedData(data: BufferInstance, streaming: boolean): void
  /** Sends data to the filters after this one. */
  injectDecodedDataToFilterChain(data: BufferInstance, endStream: boolean): void
  requestHeaders(): HeaderMap
  /** Adds request trailers (only while decoding the last data frame). */
  addDecodedTrailers(): HeaderMap
  /**
   * Answers the request from here: runs the encoder filters and local_reply_config mappers.
   * `details` goes to `%RESPONSE_CODE_DETAILS%`; `modifyHeaders` may add headers.
   */
  sendLocalReply(code: number, body: string, details: string, modifyHeaders?: (headers: HeaderMap) => void): void
  /** The response path, used by the router: these run the encoder filters. */
  encode1xxHeaders(headers: HeaderMap): void
  encodeHeaders(headers: HeaderMap, endStream: boolean, details: string): void
  encodeData(data: BufferInstance, endStream: boolean): void
  encodeTrailers(trailers: HeaderMap): void
  /** The router's upstream is above its write limit: stop reading the downstream. */
  onDecoderFilterAboveWriteBufferHighWatermark(): void
  onDecoderFilterBelowWriteBufferLowWatermark(): void
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void
  /** Bytes a decoder filter may buffer (`per_connection_buffer_limit_bytes`, or the buffer filter's). */
  decoderBufferLimit(): number
  setDecoderBufferLimit(limit: number): void
}

export interface StreamEncoderFilterCallbacks extends StreamFilterCallbacks {
  continueEncoding(): void
  encodingBuffer(): BufferInstance | undefined
  addEncodedData(data: BufferInstance, streaming: boolean): void
  injectEncodedDataToFilterChain(data: BufferInstance, endStream: boolean): void
  responseHeaders(): HeaderMap | undefined
}

export interface StreamDecoderFilter {
  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void
  decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue
  decodeData(data: BufferInstance, endStream: boolean): FilterDataStatusValue
  decodeTrailers(trailers: HeaderMap): FilterTrailersStatusValue
  /** The request is done (end of stream reached this filter). */
  decodeComplete?(): void
  /** The stream is going away (completed or reset): release timers and upstreams. */
  onDestroy?(): void
}

export interface StreamEncoderFilter {
  setEncoderFilterCallbacks(callbacks: StreamEncoderFilterCallbacks): void
  encode1xxHeaders?(headers: HeaderMap): FilterHeadersStatusValue
  encodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue
  encodeData(data: BufferInstance, endStream: boolean): FilterDataStatusValue
  encodeTrailers(trailers: HeaderMap): FilterTrailersStatusValue
  encodeComplete?(): void
  onDestroy?(): void
}

export type StreamFilter = StreamDecoderFilter & StreamEncoderFilter

/** What an HTTP filter factory installs into (Envoy's FilterChainFactoryCallbacks). */
export interface FilterChainFactoryCallbacks {
  addStreamDecoderFilter(filter: StreamDecoderFilter): void
  addStreamEncoderFilter(filter: StreamEncoderFilter): void
  addStreamFilter(filter: StreamFilter): void
  addAccessLogHandler(handler: AccessLogInstance): void
}

export type HttpFilterFactoryCb = (callbacks: FilterChainFactoryCallbacks) => void

/** What an HTTP filter factory may use (Envoy's server FactoryContext for HTTP filters). */
export interface HttpFilterFactoryContext {
  readonly scope: Scope
  readonly log: Logger
  readonly registry: Registry
  readonly clusterManager: ClusterManager
  readonly accessLogManager: AccessLogManager
  readonly runtime: () => RuntimeSnapshot
  readonly drainDecision: DrainDecision
  /** True when `/healthcheck/fail` is in effect (the health check filter answers 503). */
  readonly healthCheckFailed: () => boolean
  /** The HCM's `stat_prefix` scope (`http.<stat_prefix>.`). */
  readonly httpScope: Scope
  readonly workerIndex: number
  /** Runtime API (the Dapr HTTP API filter): main's RuntimeHost, or a worker's proxy to it. */
  readonly runtimeHost: RuntimeHostApi
  /** Runtime API: this worker's service invoker; undefined on main. */
  readonly serviceInvoker: ServiceInvoker | undefined
}

/** An HTTP filter extension (Envoy's NamedHttpFilterConfigFactory). */
export interface NamedHttpFilterConfigFactory extends TypedFactory {
  /** The router is terminal: it must be last and only it may be last. */
  readonly isTerminalFilter: boolean
  /** Builds the per-request installer from the validated typed config. Throws ConfigError naming `path`. */
  createFilterFactory(config: unknown, ctx: HttpFilterFactoryContext, path: string): HttpFilterFactoryCb
  /**
   * Full name of the per-route config message accepted in `typed_per_filter_config`, if any,
   * and how to build it (once, at config time). What it returns is what `perFilterConfig` gives.
   */
  readonly perRouteConfigType?: string
  createRouteSpecificFilterConfig?(config: unknown, ctx: HttpFilterFactoryContext, path: string): unknown
}

/** Registry category name for HTTP filters. */
export const HTTP_FILTERS = 'http filter'
