import type { BufferInstance } from '../../../envoy/buffer/buffer.js'
import {
  type ClientConnection, type DispatchStatus, type Http1Settings, type Protocol, RESET_DETAILS_REUSED_CONNECTION_CLOSED,
  type RequestEncoder, type ResponseDecoder, type Stream, type StreamResetReason,
} from '../../../envoy/http/codec.js'
import type { HeaderMap } from '../../../envoy/http/header-map.js'
import type { Connection, ConnectionCallbacks, ConnectionEvent } from '../../../envoy/network/connection.js'
import { hasToken, isConnectionUpgrade } from '../headers.js'
import { type Http1CodecStats, Http1ResponseCodeDetails as Details } from './codec-stats.js'
import { type Framing, Http1Output, encodeBody, encodeLastChunk, encodeRequestHead } from './encoder.js'
import { Http1Parser, ParseResult } from './parser.js'
import { Http1StreamBase, type Http1StreamCodec } from './stream-base.js'

const OK: DispatchStatus = { ok: true }
const CONTINUE = 0
const COMPLETED = 1
const FAILED = -1

/** One upstream request (Envoy's RequestEncoderImpl + its pending response). */
class ClientStream extends Http1StreamBase implements RequestEncoder {
  readonly codec: ClientConnectionImpl
  readonly decoder: ResponseDecoder
  isHead = false
  isConnect = false
  upgradeRequest = false
  requestStarted = false
  requestComplete = false
  /** Response headers went up (later bytes are body). */
  headersDelivered = false
  /** Any response byte arrived. */
  responseBytes = false
  responseComplete = false
  resetCalled = false
  private framing: Framing | undefined
  /** readDisable(true) calls not yet undone: given back when the exchange ends. */
  private readDisables = 0

  constructor(codec: ClientConnectionImpl, decoder: ResponseDecoder) {
    super()
    this.codec = codec
    this.decoder = decoder
  }

  get stream(): Stream {
    return this
  }

  protected get streamCodec(): Http1StreamCodec {
    return this.codec
  }

  // Http.RequestEncoder
  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.requestStarted || this.resetCalled) return
    this.requestStarted = true
    const method = headers.get(':method')
    this.isHead = method === 'HEAD'
    this.isConnect = method === 'CONNECT'
    this.upgradeRequest = isConnectionUpgrade(headers)
    this.framing = encodeRequestHead(this.codec.output, headers, endStream)
    if (endStream) this.endRequest(undefined)
    else this.codec.output.flushSoon()
  }

  encodeData(data: BufferInstance, endStream: boolean): void {
    if (!this.requestStarted || this.requestComplete || this.resetCalled) return
    encodeBody(this.codec.output, data, this.framing!.chunked)
    if (endStream) this.endRequest(undefined)
    else this.codec.output.flushSoon()
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (!this.requestStarted || this.requestComplete || this.resetCalled) return
    this.endRequest(this.codec.enableTrailers ? trailers : undefined)
  }

  // Http.Stream

  /**
   * Counted per stream, so that an exchange that ends while its reader pushed back (a slow
   * client) does not leave the connection paused: a paused idle connection never sees the
   * upstream's FIN. Calls after the end are ignored; the next stream owns the connection then.
   */
  override readDisable(disable: boolean): void {
    if (this.responseComplete || this.resetCalled) return
    if (disable) this.readDisables++
    else if (this.readDisables > 0) this.readDisables--
    else return
    super.readDisable(disable)
  }

  /** The exchange is over: undo this stream's outstanding read-disables. */
  releaseReadDisables(): void {
    for (; this.readDisables > 0; this.readDisables--) super.readDisable(false)
  }

  override resetStream(reason: StreamResetReason): void {
    if (this.resetCalled || this.responseComplete) return
    this.codec.onStreamReset(this, reason, '')
    // HTTP/1 cannot abandon one exchange and keep the connection.
    this.codec.connection.close('NoFlush')
  }

  private endRequest(trailers: HeaderMap | undefined): void {
    const out = this.codec.output
    if (this.framing!.chunked) encodeLastChunk(out, trailers)
    this.requestComplete = true
    out.flush()
  }
}

/**
 * The HTTP/1.1 client codec (Envoy's Http1::ClientConnectionImpl): one request at a time on
 * an upstream connection; responses framed by Content-Length, chunked coding or the close.
 */
export class ClientConnectionImpl implements ClientConnection, ConnectionCallbacks {
  readonly connection: Connection
  readonly output: Http1Output
  readonly enableTrailers: boolean
  aboveHighWatermark = 0
  private readonly stats: Http1CodecStats
  private readonly parser: Http1Parser
  private pending: ClientStream | undefined
  private canReuse = true
  /** Exchanges completed on this connection: a stream after the first one is on a reused connection. */
  private completed = 0
  private proto: Protocol = 'HTTP/1.1'
  private error: DispatchStatus | undefined

  constructor(connection: Connection, settings: Http1Settings, stats: Http1CodecStats) {
    this.connection = connection
    this.stats = stats
    this.enableTrailers = settings.enableTrailers
    this.output = new Http1Output(connection)
    this.parser = new Http1Parser('response', { ...settings, headersWithUnderscores: 'ALLOW' }, stats)
    connection.addConnectionCallbacks(this)
  }

  // Http.ClientConnection
  newStream(decoder: ResponseDecoder): RequestEncoder {
    const s = new ClientStream(this, decoder)
    this.pending = s
    return s
  }

  dispatch(data: BufferInstance): DispatchStatus {
    if (this.error !== undefined) {
      data.drain(data.length)
      return this.error
    }
    const parser = this.parser
    for (;;) {
      const s = this.pending
      if (s === undefined) {
        // Nothing was asked: bytes now are a protocol violation (a 408 on an idle connection, say).
        return data.length > 0 ? this.onProtocolError(undefined, Details.HttpCodecError) : OK
      }
      if (data.length > 0) s.responseBytes = true
      const r = parser.execute(data)
      if (r === ParseResult.NeedMore) {
        if (s.headersDelivered && parser.body.length > 0) s.decoder.decodeData(parser.takeBody(), false)
        return OK
      }
      let done = false
      if (r === ParseResult.Headers) {
        const h = this.onHeaders(s)
        if (h === FAILED) return this.error!
        done = h === COMPLETED
      } else if (r === ParseResult.MessageComplete) {
        this.onMessageComplete(s)
        done = true
      } else {
        return this.onProtocolError(s, parser.errorDetails)
      }
      // One response per request: anything after it is garbage (Envoy: "extraneous data").
      if (done) return data.length > 0 ? this.onProtocolError(undefined, Details.HttpCodecError) : OK
    }
  }

  onRemoteClose(): void {
    this.canReuse = false
    const s = this.pending
    if (s === undefined || s.responseComplete || s.resetCalled) return
    const parser = this.parser
    if (s.headersDelivered && parser.readsUntilClose()) {
      // The close delimits the body (or ends the tunnel).
      const body = parser.takeBody()
      parser.finishMessage()
      this.finishStream(s)
      s.decoder.decodeData(body, true)
      return
    }
    // A connected upstream that closes mid-exchange is a connection termination (Envoy's CodecClient).
    // On a reused connection, before any byte of the answer, the request most likely crossed
    // the upstream's close of an idle connection: say so, the router may send it again.
    const crossed = this.completed > 0 && !s.responseBytes
    this.onStreamReset(s, 'ConnectionTermination', crossed ? RESET_DETAILS_REUSED_CONNECTION_CLOSED : '')
  }

  protocol(): Protocol {
    return this.proto
  }

  reusable(): boolean {
    return this.canReuse && this.error === undefined
  }

  // Network.ConnectionCallbacks
  onEvent(event: ConnectionEvent): void {
    void event
  }

  onAboveWriteBufferHighWatermark(): void {
    this.aboveHighWatermark++
    this.pending?.runWatermarkCallbacks(true)
  }

  onBelowWriteBufferLowWatermark(): void {
    if (this.aboveHighWatermark > 0) this.aboveHighWatermark--
    this.pending?.runWatermarkCallbacks(false)
  }

  onStreamReset(s: ClientStream, reason: StreamResetReason, details: string): void {
    if (s.resetCalled) return
    s.resetCalled = true
    this.canReuse = false
    if (this.pending === s) this.pending = undefined
    this.output.clear()
    s.releaseReadDisables()
    s.runResetCallbacks(reason, details)
  }

  private onHeaders(s: ClientStream): number {
    const p = this.parser
    const status = p.statusCode
    const headers = p.headers
    if (status < 200 || status === 204) {
      if (p.transferEncoding !== undefined) return this.fail(s, Details.TransferEncodingNotAllowed)
      if (p.contentLength > 0) return this.fail(s, Details.ContentLengthNotAllowed)
      if (p.contentLength === 0) headers.remove('content-length')
    }
    if (status < 200 && status !== 101) {
      // 100 Continue goes up; other interim responses are dropped. The final response follows.
      p.setNoBody()
      p.finishMessage()
      if (status === 100) s.decoder.decode1xxHeaders(headers)
      return CONTINUE
    }
    const http11 = p.majorVersion === 1 && p.minorVersion === 1
    this.proto = http11 ? 'HTTP/1.1' : 'HTTP/1.0'
    if (http11 ? hasToken(p.connection, 'close') : !hasToken(p.connection, 'keep-alive')) this.canReuse = false
    if (status === 101 || (s.isConnect && status >= 200 && status < 300)) {
      if (status === 101 && !s.upgradeRequest) return this.fail(s, Details.HttpCodecError)
      // Switching protocols / tunnel established: raw bytes from here on, until the close.
      this.canReuse = false
      p.setUpgrade()
      s.headersDelivered = true
      s.decoder.decodeHeaders(headers, false)
      return CONTINUE
    }
    if (s.isHead || status === 204 || status === 304 || !p.hasBody()) {
      p.setNoBody()
      p.finishMessage()
      this.finishStream(s)
      s.decoder.decodeHeaders(headers, true)
      return COMPLETED
    }
    if (p.readsUntilClose()) this.canReuse = false
    s.headersDelivered = true
    s.decoder.decodeHeaders(headers, false)
    return CONTINUE
  }

  private onMessageComplete(s: ClientStream): void {
    const p = this.parser
    const body = p.takeBody()
    const trailers = p.trailers
    this.finishStream(s)
    if (trailers !== undefined) {
      if (body.length > 0) s.decoder.decodeData(body, false)
      s.decoder.decodeTrailers(trailers)
    } else {
      s.decoder.decodeData(body, true)
    }
  }

  /** The response is whole: settle reuse before the decoder hears the end (the pool reuses right away). */
  private finishStream(s: ClientStream): void {
    s.releaseReadDisables()
    s.responseComplete = true
    this.completed++
    if (this.pending === s) this.pending = undefined
    if (!s.requestComplete) this.canReuse = false
  }

  private fail(s: ClientStream, details: string): number {
    this.onProtocolError(s, details)
    return FAILED
  }

  private onProtocolError(s: ClientStream | undefined, details: string): DispatchStatus {
    this.stats.protocolError.inc()
    this.canReuse = false
    this.error = { ok: false, details }
    if (s !== undefined && !s.responseComplete) this.onStreamReset(s, 'ProtocolError', details)
    return this.error
  }
}
