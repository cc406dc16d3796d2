import type { BufferInstance } from '../../../envoy/buffer/buffer.js'
import type {
  DispatchStatus, Http1Settings, Protocol, RequestDecoder, ResponseEncoder, ServerConnection,
  ServerConnectionCallbacks, Stream, StreamResetReason,
} from '../../../envoy/http/codec.js'
import type { HeaderMap } from '../../../envoy/http/header-map.js'
import type { Connection, ConnectionCallbacks, ConnectionCloseType, ConnectionEvent } from '../../../envoy/network/connection.js'
import { hasToken, removeTokens } from '../headers.js'
import { type Http1CodecStats, Http1ResponseCodeDetails as Details } from './codec-stats.js'
import {
  type Framing, Http1Output, encodeBody, encodeInformationalHead, encodeLastChunk, encodeResponseHead, statusReason,
} from './encoder.js'
import { Http1Parser, ParseResult } from './parser.js'
import { Http1StreamBase, type Http1StreamCodec } from './stream-base.js'

const OK: DispatchStatus = { ok: true }

/** One request/response exchange: the HCM's ResponseEncoder and the codec's view of it. */
class ServerStream extends Http1StreamBase implements ResponseEncoder {
  readonly codec: ServerConnectionImpl
  decoder!: RequestDecoder
  isHead = false
  isConnect = false
  upgrade = false
  keepAlive = true
  requestComplete = false
  responseStarted = false
  responseComplete = false
  resetCalled = false
  framing: Framing | undefined

  constructor(codec: ServerConnectionImpl) {
    super()
    this.codec = codec
  }

  get stream(): Stream {
    return this
  }

  protected get streamCodec(): Http1StreamCodec {
    return this.codec
  }

  // Http.ResponseEncoder
  encode1xxHeaders(headers: HeaderMap): void {
    // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
    if (this.responseStarted || this.resetCalled || this.codec.protocol() === 'HTTP/1.0') return
    encodeInformationalHead(this.codec.output, headers, Number(headers.get(':status') ?? 100))
    this.codec.output.flushSoon()
  }

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.responseStarted || this.resetCalled) return
    this.responseStarted = true
    const c = this.codec
    const status = Number(headers.get(':status') ?? 200)
    // Envoy answers "HTTP/1.0" only when it serves HTTP/1.0 (a 426 for it goes out as HTTP/1.1).
    const http10 = c.protocol() === 'HTTP/1.0' && c.acceptHttp10
    const tunnel = (this.upgrade && status === 101) || (this.isConnect && status >= 200 && status < 300)
    this.framing = encodeResponseHead(c.output, headers, {
      status,
      http10,
      isHead: this.isHead,
      isConnect: this.isConnect,
      endStream,
      // HTTP/1 cannot resync after an unread request body (or a refused upgrade): close after it.
      close: !this.keepAlive || c.mustClose() || (!this.requestComplete && !tunnel),
      keepAlive10: http10 && this.keepAlive,
    })
    if (endStream) this.endResponse()
    else c.output.flushSoon()
  }

  encodeData(data: BufferInstance, endStream: boolean): void {
    if (!this.responseStarted || this.responseComplete || this.resetCalled) return
    const f = this.framing!
    if (f.noBody) data.drain(data.length)
    else encodeBody(this.codec.output, data, f.chunked)
    if (endStream) this.endResponse()
    else this.codec.output.flushSoon()
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (!this.responseStarted || this.responseComplete || this.resetCalled) return
    this.endResponse(this.codec.enableTrailers ? trailers : undefined)
  }

  // Http.Stream

  override resetStream(reason: StreamResetReason): void {
    this.codec.onStreamReset(this, reason, '')
  }

  private endResponse(trailers?: HeaderMap): void {
    const out = this.codec.output
    if (this.framing!.chunked) encodeLastChunk(out, trailers)
    this.responseComplete = true
    out.flush()
    this.codec.onResponseComplete(this)
  }
}

/**
 * The HTTP/1.1 server codec (Envoy's Http1::ServerConnectionImpl). One request at a time:
 * pipelined requests stay in the connection's read buffer (and reading stops) until the
 * response in flight is complete; then parsing resumes on its own.
 */
export class ServerConnectionImpl implements ServerConnection, ConnectionCallbacks {
  readonly connection: Connection
  readonly output: Http1Output
  readonly enableTrailers: boolean
  readonly acceptHttp10: boolean
  /** How many high-watermark events are outstanding (replayed to callbacks added later). */
  aboveHighWatermark = 0
  private readonly callbacks: ServerConnectionCallbacks
  private readonly settings: Http1Settings
  private readonly stats: Http1CodecStats
  private readonly parser: Http1Parser
  private active: ServerStream | undefined
  private proto: Protocol = 'HTTP/1.1'
  /** The buffer the HCM dispatches from (the connection's read buffer), for resuming pipelined requests. */
  private input: BufferInstance | undefined
  private readDisabled = false
  private resumeScheduled = false
  private remoteEnded = false
  /** Set once the connection is to close: nothing more is parsed. */
  private closing = false
  private error: DispatchStatus | undefined

  constructor(connection: Connection, callbacks: ServerConnectionCallbacks, settings: Http1Settings, stats: Http1CodecStats) {
    this.connection = connection
    this.callbacks = callbacks
    this.settings = settings
    this.stats = stats
    this.enableTrailers = settings.enableTrailers
    this.acceptHttp10 = settings.acceptHttp10
    this.output = new Http1Output(connection)
    this.parser = new Http1Parser('request', settings, stats)
    connection.addConnectionCallbacks(this)
  }

  // Http.ServerConnection
  dispatch(data: BufferInstance): DispatchStatus {
    this.input = data
    if (this.error !== undefined || this.closing) {
      data.drain(data.length)
      return this.error ?? OK
    }
    const parser = this.parser
    for (;;) {
      const s = this.active
      if (s !== undefined && s.requestComplete) {
        // A response is in flight: keep pipelined bytes where they are and stop reading more.
        if (data.length > 0 && !this.readDisabled) {
          this.readDisabled = true
          this.connection.readDisable(true)
        }
        return OK
      }
      if (this.closing || this.connection.state() !== 'Open') return OK
      const r = parser.execute(data)
      if (r === ParseResult.NeedMore) {
        if (s !== undefined && parser.body.length > 0) s.decoder.decodeData(parser.takeBody(), false)
        return OK
      }
      if (r === ParseResult.Headers) {
        if (!this.onHeaders()) return this.error!
      } else if (r === ParseResult.MessageComplete) {
        this.onMessageComplete()
      } else {
        return this.onProtocolError(parser.errorCode, parser.errorDetails)
      }
    }
  }

  onRemoteEnd(): void {
    this.remoteEnded = true
    const s = this.active
    if (s === undefined || s.requestComplete) return
    if (s.upgrade || s.isConnect) {
      // The client finished its side of the tunnel.
      s.requestComplete = true
      const body = this.parser.takeBody()
      s.decoder.decodeData(body, true)
      if (s.responseComplete) this.onResponseComplete(s)
      return
    }
    // A request cut short cannot be answered meaningfully.
    this.onStreamReset(s, 'ConnectionTermination', 'downstream_remote_disconnect')
  }

  protocol(): Protocol {
    return this.proto
  }

  hasActiveStream(): boolean {
    return this.active !== undefined
  }

  // Network.ConnectionCallbacks
  onEvent(event: ConnectionEvent): void {
    void event
  }

  onAboveWriteBufferHighWatermark(): void {
    this.aboveHighWatermark++
    this.active?.runWatermarkCallbacks(true)
  }

  onBelowWriteBufferLowWatermark(): void {
    if (this.aboveHighWatermark > 0) this.aboveHighWatermark--
    this.active?.runWatermarkCallbacks(false)
  }

  /** True when the connection is closing after the current response anyway. */
  mustClose(): boolean {
    return this.remoteEnded || this.error !== undefined
  }

  onResponseComplete(s: ServerStream): void {
    if (this.active !== s) return
    if (!s.requestComplete) {
      // Answered before the request ended (or a tunnel ended from our side): nothing more can be
      // parsed reliably on this connection.
      this.active = undefined
      this.closeSoon(s.upgrade || s.isConnect ? 'FlushWrite' : 'FlushWriteAndDelay')
      return
    }
    this.active = undefined
    if (s.framing?.close === true || this.mustClose()) {
      this.closeSoon('FlushWrite')
      return
    }
    if (this.readDisabled) {
      this.readDisabled = false
      this.connection.readDisable(false)
    }
    const input = this.input
    if (input !== undefined && input.length > 0 && !this.resumeScheduled) {
      // Parse the next pipelined request, after the HCM has finished with this one.
      this.resumeScheduled = true
      queueMicrotask(() => {
        this.resumeScheduled = false
        if (this.active === undefined && input.length > 0 && this.connection.state() === 'Open') this.dispatch(input)
      })
    }
  }

  onStreamReset(s: ServerStream, reason: StreamResetReason, details: string): void {
    // A finished exchange has nothing left to reset (and a pipelined successor must not suffer).
    if (s.resetCalled || (s.requestComplete && s.responseComplete)) return
    s.resetCalled = true
    if (this.active === s) this.active = undefined
    this.output.clear()
    s.runResetCallbacks(reason, details)
    // HTTP/1 has no way to cancel one exchange: the connection goes with it.
    this.closeSoon('NoFlush', details === '' ? undefined : details)
  }

  private onHeaders(): boolean {
    const p = this.parser
    const s = new ServerStream(this)
    this.active = s
    s.decoder = this.callbacks.newStream(s)
    const http11 = p.majorVersion === 1 && p.minorVersion === 1
    this.proto = http11 ? 'HTTP/1.1' : 'HTTP/1.0'
    const headers = p.headers
    const method = p.method
    s.isHead = method === 'HEAD'
    s.isConnect = method === 'CONNECT'
    if (!http11) {
      // Anything but HTTP/1.1 is treated as 1.0, as Envoy does.
      if (!this.settings.acceptHttp10) return this.fail(426, Details.LowVersion)
      if (!headers.has(':authority') && this.settings.defaultHostForHttp10 !== '') {
        headers.add(':authority', this.settings.defaultHostForHttp10)
      }
    }
    if (p.hostCount > 1) return this.fail(400, Details.HttpCodecError) // RFC 9112 §3.2
    if (!this.setPath(headers, p.url, s.isConnect)) return false
    if (!headers.has(':authority')) return this.fail(400, Details.MissingHost)

    const connection = p.connection
    // RFC 9112 §6.1: after an HTTP/1.0 message with Transfer-Encoding, framing cannot be trusted.
    s.keepAlive = http11 ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive') && p.transferEncoding === undefined
    if (p.upgrade !== undefined && hasToken(connection, 'upgrade')) {
      if (p.upgrade.toLowerCase() === 'h2c') {
        // h2c upgrades are not supported: serve the request as plain HTTP/1.1 (Envoy does the same).
        headers.remove('upgrade')
        headers.remove('http2-settings')
        const rest = removeTokens(headers.get('connection') ?? '', ['upgrade', 'http2-settings'])
        if (rest === '') headers.remove('connection')
        else headers.set('connection', rest)
      } else {
        s.upgrade = true
      }
    }
    if (s.isConnect) {
      if (p.contentLength > 0) return this.fail(400, Details.BodyDisallowed)
      if (p.contentLength === 0) headers.remove('content-length')
      if (p.transferEncoding !== undefined) return this.fail(501, Details.InvalidTransferEncoding)
    }
    if (s.upgrade || s.isConnect) p.setUpgrade()
    const endStream = !p.hasBody()
    if (endStream) s.requestComplete = true
    s.decoder.decodeHeaders(headers, endStream)
    return true
  }

  /**
   * :path (the parser set it to the request-target) and, for absolute-form targets, :authority
   * and :scheme; like Envoy's handlePath.
   */
  private setPath(headers: HeaderMap, url: string, isConnect: boolean): boolean {
    const c = url.charCodeAt(0)
    if (!isConnect && (c === 47 /* / */ || (c === 42 /* * */ && url.length === 1 && this.parser.method === 'OPTIONS'))) {
      return true
    }
    if (isConnect) {
      // authority-form: host:port (RFC 9112 §3.2.3); no :path.
      headers.remove(':path')
      const colon = url.lastIndexOf(':')
      if (colon <= 0 || !/^\d+$/.test(url.slice(colon + 1)) || url.includes('/') || url.includes('@')) {
        return this.fail(400, Details.InvalidUrl)
      }
      headers.set(':authority', url)
      return true
    }
    // Without allow_absolute_url the target goes up as it came (Envoy's compatible behaviour).
    if (!this.settings.allowAbsoluteUrl) return true
    // absolute-form: scheme "://" authority [path-abempty] ["?" query]
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#@]+)((?:[/?][^#]*)?)$/.exec(url)
    if (m === null) return this.fail(400, Details.InvalidUrl)
    const scheme = m[1]!.toLowerCase()
    if (scheme !== 'http' && scheme !== 'https') return this.fail(400, Details.InvalidScheme)
    // RFC 9112 §3.2.2: the target's authority replaces any Host header.
    headers.set(':authority', m[2]!)
    headers.add(':scheme', scheme)
    const rest = m[3]!
    headers.set(':path', rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest)
    return true
  }

  private onMessageComplete(): void {
    const s = this.active
    const p = this.parser
    if (s === undefined || s.requestComplete) return // headers-only: decodeHeaders carried the end
    s.requestComplete = true
    const body = p.takeBody()
    const trailers = p.trailers
    if (trailers !== undefined) {
      if (body.length > 0) s.decoder.decodeData(body, false)
      s.decoder.decodeTrailers(trailers)
    } else {
      s.decoder.decodeData(body, true)
    }
    if (s.responseComplete) this.onResponseComplete(s)
  }

  private fail(code: number, details: string): boolean {
    this.onProtocolError(code, details)
    return false
  }

  /**
   * A malformed request: ask the HCM for a local reply (while no response has started), then
   * close once it is written. Further dispatches return the same error.
   */
  private onProtocolError(code: number, details: string): DispatchStatus {
    this.stats.protocolError.inc()
    const status: DispatchStatus = { ok: false, details }
    this.error = status
    this.callbacks.onProtocolError(details)
    let s = this.active
    if (s === undefined) {
      s = new ServerStream(this)
      this.active = s
      s.decoder = this.callbacks.newStream(s)
    }
    // Nothing more will be read for this request: its reply ends the exchange.
    s.requestComplete = true
    const started = s.responseStarted
    if (!started) s.decoder.sendLocalReply(code, statusReason(code), details)
    if (s.responseComplete) {
      // onResponseComplete has scheduled the close.
    } else if (started) {
      // Too late for a reply: end the exchange.
      this.onStreamReset(s, 'ProtocolError', details)
    }
    // Otherwise the reply is still on its way (a filter paused it); onResponseComplete closes.
    return status
  }

  /** Closes after the current call stack, so the HCM finishes its stream bookkeeping first. */
  private closeSoon(type: ConnectionCloseType, details?: string): void {
    if (this.closing) return
    this.closing = true
    queueMicrotask(() => {
      this.output.flush()
      if (this.connection.state() === 'Open') this.connection.close(type, details)
    })
  }
}
