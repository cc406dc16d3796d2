import type { MessagePort } from 'node:worker_threads'

/** What every timed/fixed load task has. Sent to a piscina worker (structured clone). */
export interface TaskBase {
  host: string
  port: number
  connections: number
  /**
   * Epoch ms (Date.now()) when the measured window opens. Connections are opened (and, when
   * timed, traffic flows) before it, so the window sees a steady state.
   */
  startAt: number
  /** Length of the measured window (timed mode). */
  durationMs: number
  /**
   * Fixed mode: every connection does exactly this many requests, starting at `startAt`, and
   * the round ends when all are done. Every request counts.
   */
  requestsPerConnection?: number
  /** Give up (fixed mode) this long after `startAt`. */
  timeoutMs: number
}

/** TCP: request/response pairs, or a bulk stream one way. */
export interface TcpLoadTask extends TaskBase {
  /**
   * `rr`: request/response pairs over keep-alive connections, one outstanding request each.
   * `upload`: write as fast as possible (the upstream discards). `download`: read what the
   * upstream sends as fast as it can.
   */
  kind: 'rr' | 'upload' | 'download'
  requestSize: number
  responseSize: number
  /** Write size for `upload`. */
  chunkSize: number
}

/** One HTTP request, as the load generator sends it. `{conn}` in path or body: the slot number. */
export interface HttpRequestSpec {
  method: string
  path: string
  headers: Record<string, string>
  /** Filler bytes as the body (uploads). */
  bodySize?: number
  /** A text body; `{conn}` is replaced by the connection's slot number. */
  body?: string
}

/** HTTP/1.1 over raw `net` sockets, one request outstanding per connection. */
export interface HttpLoadTask extends TaskBase {
  kind: 'http'
  request: HttpRequestSpec
  /** Keep-alive (true) or `Connection: close` and one TCP connection per request (false). */
  keepAlive: boolean
  /** When set, a 2xx response with another body length counts as `bad-body-length`. */
  expectBodyBytes?: number
  /** Sent once on each connection before the window (e.g. to save the state a GET reads). */
  setup?: HttpRequestSpec
}

/** The Dapr gRPC state API through @grpc/grpc-js, one call outstanding per connection. */
export interface GrpcLoadTask extends TaskBase {
  kind: 'grpc'
  op: 'save' | 'get'
  store: string
  /** Size of each saved value (GetState checks it reads as much). */
  valueSize: number
}

export type RateLoadTask = TcpLoadTask | HttpLoadTask | GrpcLoadTask

export interface LoadResult {
  /** Requests completed (rr, http, grpc) or bytes moved (streams) inside the measured window. */
  ops: number
  /** Bytes read and written by the client inside the window (HTTP: heads included). */
  bytes: number
  /** Actual measured window, ms (timer-accurate, not exactly durationMs). */
  windowMs: number
  /** Latency in µs, hdr-histogram-js `encodeIntoCompressedBase64` (request/response kinds). */
  histogram?: string
  /** Errors by kind (errno code, `closed`, `short-response`, `http-503`, `grpc-UNAVAILABLE`, …). */
  errors: Record<string, number>
  /** Connections that were established at least once. */
  connected: number
}

/**
 * idle-conns: open `connections` keep-alive connections and hold them; on command, send one
 * request on each; on command, close them. The phases are driven by the runner over `control`
 * (it samples the proxy's RSS between them).
 */
export interface IdleLoadTask {
  kind: 'idle'
  host: string
  port: number
  connections: number
  path: string
  /** Connects in flight at once (a burst of 10,000 SYNs overflows accept queues). */
  openConcurrency: number
  /** Requests in flight at once in the serve phase. */
  serveConcurrency: number
  openTimeoutMs: number
  serveTimeoutMs: number
  expectBodyBytes: number
  control: MessagePort
}

/** Worker → runner over `control`. */
export type IdleReport =
  | { phase: 'opened'; opened: number; ms: number }
  | { phase: 'served'; served: number; ms: number }

/** Runner → worker over `control`. */
export type IdleCommand = { cmd: 'serve' } | { cmd: 'close' }

export interface IdleLoadResult {
  kind: 'idle'
  opened: number
  served: number
  /** Connections still open when told to close (the peer closed none while idle). */
  stillOpen: number
  openMs: number
  serveMs: number
  errors: Record<string, number>
}

export type LoadTask = RateLoadTask | IdleLoadTask
