/** What one load thread does in one round. Sent to the piscina worker (structured clone). */
export interface TcpLoadTask {
  /**
   * `rr`: request/response pairs over keep-alive connections, one outstanding request each.
   * `upload`: write as fast as possible (the upstream discards). `download`: read what the
   * upstream sends as fast as it can.
   */
  kind: 'rr' | 'upload' | 'download'
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
   * Fixed mode (`rr` only): every connection does exactly this many requests, starting at
   * `startAt`, and the round ends when all are done. Every request counts.
   */
  requestsPerConnection?: number
  requestSize: number
  responseSize: number
  /** Write size for `upload`. */
  chunkSize: number
  /** Give up (fixed mode) this long after `startAt`. */
  timeoutMs: number
}

export interface TcpLoadResult {
  /** Requests completed (rr) or bytes moved (streams) inside the measured window. */
  ops: number
  /** Actual measured window, ms (timer-accurate, not exactly durationMs). */
  windowMs: number
  /** Latency in µs, hdr-histogram-js `encodeIntoCompressedBase64` (rr only). */
  histogram?: string
  /** Errors by kind (errno code, `closed`, `short-response`, `excess-bytes`, `timeout`). */
  errors: Record<string, number>
  /** Connections that were established at least once. */
  connected: number
}
