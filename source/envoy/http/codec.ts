import type { BufferInstance } from '../buffer/buffer.js'
import type { HeaderMap } from './header-map.js'

/** Why a stream ended early (Envoy's StreamResetReason). */
export type StreamResetReason =
  | 'LocalReset'
  | 'LocalRefusedStreamReset'
  | 'RemoteReset'
  | 'RemoteRefusedStreamReset'
  | 'ConnectionFailure'
  | 'ConnectionTermination'
  | 'Overflow'
  | 'ProtocolError'

/**
 * The `details` of a `ConnectionTermination` reset when the upstream closed a connection that
 * had already carried a whole exchange (a reused keep-alive connection) before any byte of this
 * stream's response arrived: the request most likely crossed the upstream's close of an idle
 * connection and was never processed. The router sends such a request once more on a fresh
 * connection when it can replay the body (an envoy-ts addition).
 */
export const RESET_DETAILS_REUSED_CONNECTION_CLOSED = 'reused_connection_closed_before_response'

export interface StreamCallbacks {
  /** `details`: a transport failure text or a well-known value such as {@link RESET_DETAILS_REUSED_CONNECTION_CLOSED}; may be empty. */
  onResetStream(reason: StreamResetReason, details: string): void
  /** The stream's send side is above its limit: stop producing. */
  onAboveWriteBufferHighWatermark(): void
  onBelowWriteBufferLowWatermark(): void
}

/** One request/response exchange on a codec connection. */
export interface Stream {
  addCallbacks(cb: StreamCallbacks): void
  removeCallbacks(cb: StreamCallbacks): void
  /** Ends the stream now; callbacks get `onResetStream`. For HTTP/1 this closes the connection. */
  resetStream(reason: StreamResetReason): void
  /** Counted like Connection.readDisable. For HTTP/1 it pauses the whole connection. */
  readDisable(disable: boolean): void
  /** Bytes this stream has queued that the connection has not sent yet. */
  bufferedBytes(): number
}

/** Where a codec delivers a request (Envoy's RequestDecoder), implemented by the HCM. */
export interface RequestDecoder {
  decodeHeaders(headers: HeaderMap, endStream: boolean): void
  decodeData(data: BufferInstance, endStream: boolean): void
  decodeTrailers(trailers: HeaderMap): void
  /**
   * The codec found the request malformed (400), too large (413/431) or not allowed (e.g. an
   * HTTP/1.0 request with `accept_http_10` off: 426). The HCM answers with a local reply; the
   * codec then closes the connection once it is written. `details` is Envoy's response code
   * detail, e.g. `http1.invalid_characters`.
   */
  sendLocalReply(code: number, body: string, details: string): void
}

/** How the HCM answers a request (Envoy's ResponseEncoder). */
export interface ResponseEncoder {
  readonly stream: Stream
  /** `100 Continue` (and other 1xx) before the final headers. */
  encode1xxHeaders(headers: HeaderMap): void
  /** `:status` must be set. Without `content-length`, HTTP/1.1 responses are chunked. */
  encodeHeaders(headers: HeaderMap, endStream: boolean): void
  encodeData(data: BufferInstance, endStream: boolean): void
  encodeTrailers(trailers: HeaderMap): void
}

/** Called by a server codec for each new request (Envoy's ServerConnectionCallbacks). */
export interface ServerConnectionCallbacks {
  newStream(encoder: ResponseEncoder): RequestDecoder
  /**
   * The peer broke the protocol (once per connection), whether found while dispatching new bytes
   * or while resuming pipelined ones; the codec then sends the local reply and closes.
   */
  onProtocolError(details: string): void
}

/** The outcome of feeding bytes to a codec. */
export type DispatchStatus =
  | { ok: true }
  /** A protocol error: the connection must close (after a local reply, on the server side). */
  | { ok: false; details: string }

export type Protocol = 'HTTP/1.0' | 'HTTP/1.1'

/** A server-side HTTP codec over one connection (Envoy's ServerConnection). */
export interface ServerConnection {
  /** Parses `data` (draining what it consumed) and calls the decoders. */
  dispatch(data: BufferInstance): DispatchStatus
  /** The peer closed its sending side; a request in flight may still be answered. */
  onRemoteEnd(): void
  protocol(): Protocol
  /** True while a response is being written (pipelined requests wait). */
  hasActiveStream(): boolean
}

/** Where an upstream response lands (Envoy's ResponseDecoder), implemented by the router. */
export interface ResponseDecoder {
  decode1xxHeaders(headers: HeaderMap): void
  decodeHeaders(headers: HeaderMap, endStream: boolean): void
  decodeData(data: BufferInstance, endStream: boolean): void
  decodeTrailers(trailers: HeaderMap): void
}

/** How the router sends a request upstream (Envoy's RequestEncoder). */
export interface RequestEncoder {
  readonly stream: Stream
  /** `:method`, `:path`, `:authority` must be set. */
  encodeHeaders(headers: HeaderMap, endStream: boolean): void
  encodeData(data: BufferInstance, endStream: boolean): void
  encodeTrailers(trailers: HeaderMap): void
}

/** A client-side HTTP codec over one upstream connection (Envoy's ClientConnection). */
export interface ClientConnection {
  /** Starts a request; HTTP/1 allows one at a time. */
  newStream(decoder: ResponseDecoder): RequestEncoder
  dispatch(data: BufferInstance): DispatchStatus
  /** The upstream closed: ends a close-delimited body, or resets an unfinished response. */
  onRemoteClose(): void
  protocol(): Protocol
  /** False once the upstream said `Connection: close` or sent an HTTP/1.0 response without keep-alive. */
  reusable(): boolean
}

/** HTTP/1 codec settings (from `http_protocol_options`, `max_request_headers_kb`, ...). */
export interface Http1Settings {
  /** Request/response header bytes allowed (`max_request_headers_kb` × 1024; 60 KiB default). */
  maxHeadersBytes: number
  /** `common_http_protocol_options.max_headers_count` (100 default). */
  maxHeadersCount: number
  acceptHttp10: boolean
  defaultHostForHttp10: string
  allowAbsoluteUrl: boolean
  enableTrailers: boolean
  allowChunkedLength: boolean
  /** `headers_with_underscores_action`. */
  headersWithUnderscores: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER'
}
