import { performance } from 'node:perf_hooks'
import type { BufferInstance } from '../../envoy/buffer/buffer.js'
import type { RequestEncoder, ResponseDecoder, StreamCallbacks, StreamResetReason } from '../../envoy/http/codec.js'
import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { Cancellable, HttpConnPool, NewStreamOptions, PoolFailureReason } from '../../envoy/upstream/cluster-manager.js'
import type { Host } from '../../envoy/upstream/host.js'

/** What an UpstreamRequest reports to its router. */
export interface UpstreamRequestOwner {
  onPoolReady(req: UpstreamRequest): void
  onPoolFailure(req: UpstreamRequest, reason: PoolFailureReason, details: string): void
  onUpstream1xxHeaders(req: UpstreamRequest, headers: HeaderMap): void
  onUpstreamHeaders(req: UpstreamRequest, headers: HeaderMap, endStream: boolean): void
  onUpstreamData(req: UpstreamRequest, data: BufferInstance, endStream: boolean): void
  onUpstreamTrailers(req: UpstreamRequest, trailers: HeaderMap): void
  /** `details`: the codec's, e.g. RESET_DETAILS_REUSED_CONNECTION_CLOSED. */
  onUpstreamReset(req: UpstreamRequest, reason: StreamResetReason, details: string): void
  onUpstreamAboveWriteBufferHighWatermark(): void
  onUpstreamBelowWriteBufferLowWatermark(): void
}

/**
 * One attempt of a request to one upstream host (Envoy's UpstreamRequest): asks the host's
 * pool for a stream, then carries request and response for the router.
 */
export class UpstreamRequest implements ResponseDecoder, StreamCallbacks {
  readonly host: Host
  readonly startedAt = performance.now()
  encoder: RequestEncoder | undefined
  upstreamLocalAddress: string | undefined
  responseStarted = false
  responseComplete = false
  requestComplete = false
  private readonly owner: UpstreamRequestOwner
  private pending: Cancellable | undefined
  private finished = false
  private readDisabled = 0

  constructor(owner: UpstreamRequestOwner, host: Host) {
    this.owner = owner
    this.host = host
  }

  /**
   * Asks the pool for a stream. Separate from the constructor because a pool with an idle
   * connection answers at once, and the owner must already know this request then.
   */
  start(pool: HttpConnPool, options?: NewStreamOptions): void {
    const pending = pool.newStream(this, {
      onPoolReady: (encoder, _host, local) => {
        this.pending = undefined
        if (this.finished) {
          encoder.stream.resetStream('LocalReset')
          return
        }
        this.encoder = encoder
        this.upstreamLocalAddress = local
        encoder.stream.addCallbacks(this)
        this.owner.onPoolReady(this)
      },
      onPoolFailure: (reason, details) => {
        this.pending = undefined
        if (!this.finished) this.owner.onPoolFailure(this, reason, details)
      },
    }, options)
    // Still waiting (the callbacks above clear it when they run first).
    if (this.encoder === undefined && !this.finished) this.pending = pending
  }

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.encoder!.encodeHeaders(headers, endStream)
    if (endStream) this.requestComplete = true
  }

  encodeData(data: BufferInstance, endStream: boolean): void {
    this.encoder!.encodeData(data, endStream)
    if (endStream) this.requestComplete = true
  }

  encodeTrailers(trailers: HeaderMap): void {
    this.encoder!.encodeTrailers(trailers)
    this.requestComplete = true
  }

  /** Pauses or resumes reading the upstream response (downstream flow control). */
  readDisable(disable: boolean): void {
    if (this.encoder === undefined) return
    this.readDisabled += disable ? 1 : -1
    this.encoder.stream.readDisable(disable)
  }

  /** Abandons this attempt: cancels the pool request or resets the stream. */
  reset(): void {
    if (this.finished) return
    this.finished = true
    this.pending?.cancel()
    this.pending = undefined
    if (this.encoder !== undefined && !this.responseComplete) {
      this.encoder.stream.removeCallbacks(this)
      this.encoder.stream.resetStream('LocalReset')
    }
  }

  // Http.ResponseDecoder

  decode1xxHeaders(headers: HeaderMap): void {
    if (!this.finished) this.owner.onUpstream1xxHeaders(this, headers)
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.finished) return
    this.responseStarted = true
    if (endStream) this.complete()
    this.owner.onUpstreamHeaders(this, headers, endStream)
  }

  decodeData(data: BufferInstance, endStream: boolean): void {
    if (this.finished && !this.responseComplete) return
    if (endStream) this.complete()
    this.owner.onUpstreamData(this, data, endStream)
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.complete()
    this.owner.onUpstreamTrailers(this, trailers)
  }

  // Http.StreamCallbacks

  onResetStream(reason: StreamResetReason, details: string): void {
    if (this.finished) return
    this.finished = true
    this.owner.onUpstreamReset(this, reason, details)
  }

  onAboveWriteBufferHighWatermark(): void {
    this.owner.onUpstreamAboveWriteBufferHighWatermark()
  }

  onBelowWriteBufferLowWatermark(): void {
    this.owner.onUpstreamBelowWriteBufferLowWatermark()
  }

  private complete(): void {
    this.responseComplete = true
    this.finished = true
    this.encoder?.stream.removeCallbacks(this)
  }
}
