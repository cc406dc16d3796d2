import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { BufferImpl } from '../buffer/buffer-impl.js'
import { StreamInfoImpl } from '../stream-info/stream-info-impl.js'
import type { AccessLogInstance } from '../../envoy/access-log/access-log.js'
import type { BufferInstance } from '../../envoy/buffer/buffer.js'
import type { RequestDecoder, ResponseEncoder, StreamCallbacks, StreamResetReason } from '../../envoy/http/codec.js'
import type { DownstreamWatermarkCallbacks, FilterChainFactoryCallbacks } from '../../envoy/http/filter.js'
import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { Connection } from '../../envoy/network/connection.js'
import type { Route } from '../../envoy/router/router.js'
import { ResponseFlag } from '../../envoy/stream-info/stream-info.js'
import type { ConnectionManagerConfig } from './conn-manager-config.js'
import { mutateRequestHeaders, normalizeHost, normalizePath } from './conn-manager-utility.js'
import { FilterManager, type FilterManagerOwner } from './filter-manager.js'
import { HeaderMapImpl } from './header-map-impl.js'
import { startTimer } from '../event/timer-impl.js'
import type { Timer } from '../../envoy/event/timer.js'

/** What a stream needs from its connection manager. */
export interface StreamOwner {
  readonly config: ConnectionManagerConfig
  readonly connection: Connection
  readonly log: Logger
  /** The stream finished (response sent and request consumed, or reset). */
  onStreamDone(stream: ActiveStream, closeConnection: boolean): void
  /** True when this response should carry `connection: close` (drain, max requests). */
  shouldCloseAfterResponse(): boolean
  /** An exception escaped filter code: counted, logged; the stream is reset. */
  onFilterException(err: unknown): void
  /** The codec's protocol for this connection (`HTTP/1.1`, `HTTP/1.0`). */
  protocol(): string
}

function codeClass(code: number): 1 | 2 | 3 | 4 | 5 {
  const c = Math.floor(code / 100)
  return (c >= 1 && c <= 5 ? c : 5) as 1 | 2 | 3 | 4 | 5
}

let nextStreamId = 1

/**
 * One request on a downstream connection (Envoy's ConnectionManagerImpl::ActiveStream): the
 * request side from the codec, the HTTP filter chain, the response back to the codec, timers,
 * stats and access logs.
 */
export class ActiveStream implements RequestDecoder, FilterManagerOwner, StreamCallbacks {
  readonly streamId = nextStreamId++
  readonly streamInfo: StreamInfoImpl
  readonly log: Logger
  private readonly owner: StreamOwner
  private readonly encoder: ResponseEncoder
  private readonly filterManager: FilterManager
  private readonly accessLogHandlers: AccessLogInstance[] = []
  private readonly watermarkCallbacks = new Set<DownstreamWatermarkCallbacks>()
  private requestHeaders: HeaderMap | undefined
  private cachedRoute: Route | undefined | null = null
  private requestComplete = false
  private responseComplete = false
  private done = false
  private closeConnection = false
  private resetLocally = false
  private idleTimer: Timer | undefined
  private requestTimer: Timer | undefined
  private durationTimer: Timer | undefined
  private readonly start = performance.now()

  constructor(owner: StreamOwner, encoder: ResponseEncoder) {
    this.owner = owner
    this.encoder = encoder
    this.log = owner.log
    const c = owner.connection
    this.streamInfo = new StreamInfoImpl({
      downstreamLocalAddress: c.streamInfo.downstreamLocalAddress,
      downstreamRemoteAddress: c.streamInfo.downstreamRemoteAddress,
      downstreamDirectRemoteAddress: c.streamInfo.downstreamDirectRemoteAddress,
      connectionId: c.id,
    })
    Object.assign(this.streamInfo.dynamicMetadata, c.streamInfo.dynamicMetadata)
    this.filterManager = new FilterManager(this)
    encoder.stream.addCallbacks(this)
    const cfg = owner.config
    if (cfg.streamIdleTimeoutMs > 0) this.idleTimer = startTimer(cfg.streamIdleTimeoutMs, () => this.guard(() => this.onIdleTimeout()))
    if (cfg.requestTimeoutMs > 0) this.requestTimer = startTimer(cfg.requestTimeoutMs, () => this.guard(() => this.onRequestTimeout()))
    if (cfg.maxStreamDurationMs > 0) this.durationTimer = startTimer(cfg.maxStreamDurationMs, () => this.guard(() => this.onDurationTimeout()))
  }

  // Http.RequestDecoder

  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    const cfg = this.owner.config
    const stats = cfg.stats
    stats.downstream_rq_total.inc()
    stats.downstream_rq_http1_total.inc()
    stats.downstream_rq_active.inc()
    this.requestHeaders = headers
    this.requestComplete = endStream
    this.streamInfo.requestHeaders = headers
    this.streamInfo.protocol = this.owner.protocol()
    this.touch()
    if (endStream) this.onRequestComplete()
    this.installFilters()
    if (this.validateAndMutate(headers)) this.filterManager.decodeHeaders(headers, endStream)
  }

  decodeData(data: BufferInstance, endStream: boolean): void {
    this.touch()
    this.streamInfo.bytesReceived += data.length
    if (endStream) {
      this.requestComplete = true
      this.onRequestComplete()
    }
    if (this.done) {
      data.drain(data.length)
      return
    }
    this.filterManager.decodeData(data, endStream)
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.touch()
    this.requestComplete = true
    this.onRequestComplete()
    if (!this.done) this.filterManager.decodeTrailers(trailers)
  }

  sendLocalReply(code: number, body: string, details: string, modifyHeaders?: (h: HeaderMap) => void): void {
    if (this.done) return
    if (this.filterManager.responseStarted()) {
      // Too late for a reply: the status line is out. End the stream instead.
      this.streamInfo.responseCodeDetails ??= details
      this.resetStream()
      return
    }
    const info = this.streamInfo
    info.responseCode = code
    info.responseCodeDetails = details
    const headers = new HeaderMapImpl()
    headers.set(':status', String(code))
    const reply = { code, body, contentType: 'text/plain' }
    this.owner.config.localReply.rewrite(info, headers, reply)
    modifyHeaders?.(headers)
    if (this.requestHeaders === undefined) {
      // A codec error before any request: the connection closes after this reply.
      this.closeConnection = true
    }
    const isHead = this.requestHeaders?.get(':method') === 'HEAD'
    if (reply.body !== '') {
      headers.set('content-type', reply.contentType)
      headers.set('content-length', String(Buffer.byteLength(reply.body)))
    } else {
      headers.set('content-length', '0')
    }
    const bodyless = reply.body === '' || isHead
    this.filterManager.encodeHeaders(headers, bodyless)
    if (!bodyless && !this.done) this.filterManager.encodeData(new BufferImpl(reply.body), true)
  }

  // Http.StreamCallbacks (the downstream stream)

  onResetStream(reason: StreamResetReason): void {
    if (this.done) return
    const stats = this.owner.config.stats
    if (!this.responseComplete) {
      stats.downstream_rq_rx_reset.inc()
      if (!this.resetLocally) this.streamInfo.setResponseFlag(ResponseFlag.DownstreamConnectionTermination)
      this.log.debug({ stream: this.streamId, reason }, 'downstream reset')
    }
    this.finish(true)
  }

  onAboveWriteBufferHighWatermark(): void {
    for (const cb of this.watermarkCallbacks) cb.onAboveWriteBufferHighWatermark()
  }

  onBelowWriteBufferLowWatermark(): void {
    for (const cb of this.watermarkCallbacks) cb.onBelowWriteBufferLowWatermark()
  }

  // FilterManagerOwner

  connection(): Connection | undefined {
    return this.owner.connection
  }

  route(): Route | undefined {
    if (this.cachedRoute === null) {
      this.cachedRoute = this.requestHeaders === undefined
        ? undefined
        : this.owner.config.routeConfig.route(this.requestHeaders, this.streamInfo, Math.random())
      this.streamInfo.routeName = this.cachedRoute?.name
    }
    return this.cachedRoute
  }

  clearRouteCache(): void {
    this.cachedRoute = null
  }

  perFilterConfig(name: string): unknown {
    return this.route()?.perFilterConfig(name)
  }

  get bufferLimit(): number {
    return this.owner.connection.bufferLimit()
  }

  encode1xxToCodec(headers: HeaderMap): void {
    this.encoder.encode1xxHeaders(headers)
  }

  encodeHeadersToCodec(headers: HeaderMap, endStream: boolean): void {
    const cfg = this.owner.config
    const info = this.streamInfo
    const code = Number(headers.get(':status') ?? 0)
    info.responseCode = code
    info.responseHeaders = headers
    info.firstDownstreamTxByteSent ??= performance.now()
    for (const h of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding']) {
      if (!(code === 101 && h === 'connection')) headers.remove(h)
    }
    if (cfg.serverHeaderTransformation === 'OVERWRITE') headers.set('server', cfg.serverName)
    else if (cfg.serverHeaderTransformation === 'APPEND_IF_ABSENT') headers.setIfAbsent('server', cfg.serverName)
    if (cfg.alwaysSetRequestIdInResponse) {
      const rid = this.requestHeaders?.get('x-request-id')
      if (rid !== undefined) headers.set('x-request-id', rid)
    }
    if (this.closeConnection || this.owner.shouldCloseAfterResponse()) {
      this.closeConnection = true
      headers.set('connection', 'close')
    }
    const stats = cfg.stats
    stats[`downstream_rq_${codeClass(code)}xx`].inc()
    this.encoder.encodeHeaders(headers, endStream)
    if (endStream) this.onResponseComplete()
  }

  encodeDataToCodec(data: BufferInstance, endStream: boolean): void {
    this.streamInfo.bytesSent += data.length
    this.touch()
    this.encoder.encodeData(data, endStream)
    if (endStream) this.onResponseComplete()
  }

  encodeTrailersToCodec(trailers: HeaderMap): void {
    this.encoder.encodeTrailers(trailers)
    this.onResponseComplete()
  }

  resetStream(): void {
    if (this.done) return
    this.owner.config.stats.downstream_rq_tx_reset.inc()
    // Our own reset: the flags are the resetter's (UC, UT, ...), not DC/LR (Envoy).
    this.resetLocally = true
    this.closeConnection = true
    this.encoder.stream.resetStream('LocalReset')
    this.finish(true)
  }

  readDisable(disable: boolean): void {
    const stats = this.owner.config.stats
    if (disable) stats.downstream_flow_control_paused_reading_total.inc()
    else stats.downstream_flow_control_resumed_reading_total.inc()
    this.owner.connection.readDisable(disable)
  }

  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void {
    this.watermarkCallbacks.add(cb)
    if (this.owner.connection.aboveHighWatermark()) cb.onAboveWriteBufferHighWatermark()
  }

  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void {
    this.watermarkCallbacks.delete(cb)
  }

  guard(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.owner.onFilterException(err)
      if (!this.done) {
        if (!this.filterManager.responseStarted()) this.sendLocalReply(500, 'Internal Server Error', 'filter_exception')
        else this.resetStream()
      }
    }
  }

  /** Called by the connection when it goes away with this stream still open. */
  onConnectionClosed(): void {
    if (!this.done) this.onResetStream('ConnectionTermination')
  }

  private installFilters(): void {
    const fm = this.filterManager
    const handlers = this.accessLogHandlers
    const callbacks: FilterChainFactoryCallbacks = {
      addStreamDecoderFilter: (f) => fm.addDecoderFilter(f),
      addStreamEncoderFilter: (f) => fm.addEncoderFilter(f),
      addStreamFilter: (f) => {
        fm.addDecoderFilter(f)
        fm.addEncoderFilter(f)
      },
      addAccessLogHandler: (h) => handlers.push(h),
    }
    for (const entry of this.owner.config.filters) {
      fm.installingName = entry.name
      this.guard(() => entry.factory(callbacks))
    }
    fm.installingName = undefined
    if (this.owner.config.flushAccessLogOnNewRequest) this.emitAccessLogs('DownstreamStart')
  }

  /** The HCM's request checks and edge mutations; false if a local reply was sent instead. */
  private validateAndMutate(headers: HeaderMap): boolean {
    const cfg = this.owner.config
    const method = headers.get(':method')
    const path = headers.get(':path')
    const upgrade = headers.get('upgrade')
    const isUpgrade = upgrade !== undefined && (headers.get('connection') ?? '').toLowerCase().includes('upgrade')
    if (method === 'CONNECT' && cfg.upgrades.get('connect') !== true) {
      this.sendLocalReply(403, '', 'connect_not_allowed')
      return false
    }
    if (method !== 'CONNECT' && (path === undefined || !path.startsWith('/'))) {
      cfg.stats.downstream_rq_non_relative_path.inc()
      this.sendLocalReply(404, '', 'absolute_path_rejected')
      return false
    }
    if (isUpgrade) {
      const type = upgrade.toLowerCase()
      const routeSays = this.route()?.routeEntry?.upgradeEnabled(type)
      if (!(routeSays ?? cfg.upgrades.get(type) ?? false)) {
        cfg.stats.downstream_rq_ws_on_non_ws_route.inc()
        this.sendLocalReply(403, '', 'upgrade_failed')
        return false
      }
      cfg.stats.downstream_cx_upgrades_total.inc()
    }
    const expect = headers.get('expect')
    if (expect !== undefined && expect.toLowerCase() === '100-continue' && !cfg.proxy100Continue) {
      headers.remove('expect')
      const cont = new HeaderMapImpl()
      cont.set(':status', '100')
      this.encoder.encode1xxHeaders(cont)
    }
    const local = this.owner.connection.localAddress
    normalizeHost(headers, cfg, local.kind === 'ip' ? local.port : undefined)
    const norm = normalizePath(headers, cfg)
    if (norm === 'reject') {
      cfg.stats.downstream_rq_failed_path_normalization.inc()
      this.sendLocalReply(400, '', 'path_normalization_failed')
      return false
    }
    if (norm === 'redirect') {
      cfg.stats.downstream_rq_redirected_with_normalized_path.inc()
      const location = headers.get(':path')!
      this.sendLocalReply(307, '', 'path_normalization_redirect', (h) => h.set('location', location))
      return false
    }
    const r = mutateRequestHeaders(headers, this.owner.connection, cfg, isUpgrade)
    if (r.remoteIp !== undefined && r.fromXff) {
      this.streamInfo.downstreamRemoteAddress = r.remoteIp.includes(':') ? `[${r.remoteIp}]:0` : `${r.remoteIp}:0`
    }
    this.internal = r.internal
    this.cachedRoute = null
    return true
  }

  /** Whether the client is trusted with `x-envoy-*` headers (the router reads it). */
  internal = false

  private touch(): void {
    this.idleTimer?.refresh()
  }

  private onRequestComplete(): void {
    this.streamInfo.lastDownstreamRxByteReceived ??= performance.now()
    if (this.requestTimer !== undefined) {
      this.requestTimer.disableTimer()
      this.requestTimer = undefined
    }
    if (this.responseComplete) this.finish(false)
  }

  private onResponseComplete(): void {
    if (this.responseComplete) return
    this.responseComplete = true
    this.streamInfo.lastDownstreamTxByteSent = performance.now()
    if (!this.requestComplete) {
      // HTTP/1 cannot read past an unfinished request body reliably: close after this one.
      this.owner.config.stats.downstream_rq_response_before_rq_complete.inc()
      this.closeConnection = true
    }
    this.finish(false)
  }

  private onIdleTimeout(): void {
    this.owner.config.stats.downstream_rq_idle_timeout.inc()
    this.streamInfo.setResponseFlag(ResponseFlag.StreamIdleTimeout)
    this.timeoutReply(408, 'stream timeout', 'stream_idle_timeout')
  }

  private onRequestTimeout(): void {
    if (this.requestComplete) return
    this.owner.config.stats.downstream_rq_timeout.inc()
    this.timeoutReply(408, 'request timeout', 'request_overall_timeout')
  }

  private onDurationTimeout(): void {
    this.owner.config.stats.downstream_rq_max_duration_reached.inc()
    this.streamInfo.setResponseFlag(ResponseFlag.DurationTimeout)
    this.timeoutReply(408, 'downstream duration timeout', 'max_duration_timeout')
  }

  private timeoutReply(code: number, body: string, details: string): void {
    if (this.done) return
    this.closeConnection = true
    if (this.filterManager.responseStarted()) this.resetStream()
    else this.sendLocalReply(code, body, details)
  }

  private finish(reset: boolean): void {
    if (this.done) return
    if (!reset && !(this.responseComplete && (this.requestComplete || this.closeConnection))) return
    this.done = true
    for (const t of [this.idleTimer, this.requestTimer, this.durationTimer]) t?.disableTimer()
    this.encoder.stream.removeCallbacks(this)
    this.filterManager.destroy()
    const info = this.streamInfo
    info.endTimeMonotonic = performance.now()
    const stats = this.owner.config.stats
    if (this.requestHeaders !== undefined) {
      stats.downstream_rq_active.dec()
      stats.downstream_rq_completed.inc()
      stats.downstream_rq_time.recordValue(info.endTimeMonotonic - this.start)
    }
    this.emitAccessLogs('DownstreamEnd')
    this.owner.onStreamDone(this, this.closeConnection || reset)
  }

  private emitAccessLogs(type: 'DownstreamStart' | 'DownstreamEnd'): void {
    for (const l of this.owner.config.accessLogs) l.log(this.streamInfo, type)
    for (const l of this.accessLogHandlers) l.log(this.streamInfo, type)
  }
}
