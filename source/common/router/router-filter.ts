import { performance } from 'node:perf_hooks'
import { BufferImpl } from '../buffer/buffer-impl.js'
import { startTimer } from '../event/timer-impl.js'
import type { BufferInstance } from '../../envoy/buffer/buffer.js'
import type { Timer } from '../../envoy/event/timer.js'
import { RESET_DETAILS_REUSED_CONNECTION_CLOSED, type StreamResetReason } from '../../envoy/http/codec.js'
import {
  type DownstreamWatermarkCallbacks, FilterDataStatus, type FilterDataStatusValue, FilterHeadersStatus,
  type FilterHeadersStatusValue, FilterTrailersStatus, type FilterTrailersStatusValue, type StreamDecoderFilter,
  type StreamDecoderFilterCallbacks,
} from '../../envoy/http/filter.js'
import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { RouteEntry } from '../../envoy/router/router.js'
import { ResponseFlag } from '../../envoy/stream-info/stream-info.js'
import type { ClusterManager, PoolFailureReason, ThreadLocalCluster } from '../../envoy/upstream/cluster-manager.js'
import { OutlierResult } from '../../envoy/upstream/outlier-detection.js'
import type { ConnectionManagerStats } from '../http/conn-manager-stats.js'
import { RetryState, resetReasonText } from './retry-state.js'
import { UpstreamRequest, type UpstreamRequestOwner } from './upstream-request.js'
import { ShadowWriter } from './shadow-writer.js'

/** The router's config, shared by every request of one HCM on one worker (Envoy's FilterConfig). */
export interface RouterConfig {
  readonly clusterManager: ClusterManager
  /** `http.<stat_prefix>.` stats, where the router's own counters live. */
  readonly stats: Pick<ConnectionManagerStats, 'no_route' | 'no_cluster' | 'rq_redirect' | 'rq_direct_response' | 'rq_total' | 'rq_reset_after_downstream_response_started'>
  readonly suppressEnvoyHeaders: boolean
  readonly respectExpectedRqTimeout: boolean
}

const UPSTREAM_RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: '

/**
 * The terminal HTTP filter (Envoy's Router::Filter): finds the route's cluster and a host,
 * sends the request upstream through the host's connection pool, retries under the route's
 * policy, enforces the route and per-try timeouts, and streams the response back with flow
 * control. Every failure becomes Envoy's local reply and response flag.
 */
export class RouterFilter implements StreamDecoderFilter, UpstreamRequestOwner, DownstreamWatermarkCallbacks {
  private readonly config: RouterConfig
  private cb!: StreamDecoderFilterCallbacks
  private route: RouteEntry | undefined
  private cluster: ThreadLocalCluster | undefined
  private headers: HeaderMap | undefined
  private upstream: UpstreamRequest | undefined
  private retry: RetryState | undefined
  /** Request body slices kept for retries (shared, not copied), while under the buffer limit. */
  private retryBody: Buffer[] | undefined = []
  private retryBodyBytes = 0
  /** Body that arrived before the upstream was ready. */
  private pendingBody = new BufferImpl()
  private pendingBodyOverLimit = false
  private trailers: HeaderMap | undefined
  private requestComplete = false
  private responseStarted = false
  private timeoutMs = 0
  private perTryTimeoutMs = 0
  /** 504, or 204 when an internal client sent `x-envoy-upstream-rq-timeout-alt-response`. */
  private timeoutResponseCode = 504
  private globalTimer: Timer | undefined
  private perTryTimer: Timer | undefined
  private retryTimer: Timer | undefined
  private attempts = 0
  /** The one resend after a reused connection was closed under the request has been used. */
  private resentOnFreshConnection = false
  private downstreamAbove = 0
  private shadow: ShadowWriter | undefined
  private done = false

  constructor(config: RouterConfig) {
    this.config = config
  }

  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.cb = callbacks
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    const cb = this.cb
    const info = cb.streamInfo()
    const stats = this.config.stats
    const route = cb.route()
    if (route === undefined) {
      stats.no_route.inc()
      info.setResponseFlag(ResponseFlag.NoRouteFound)
      cb.sendLocalReply(404, '', 'route_not_found')
      return FilterHeadersStatus.StopIteration
    }
    const direct = route.directResponseEntry
    if (direct !== undefined) {
      const location = direct.newUri(headers)
      if (location !== undefined) stats.rq_redirect.inc()
      else stats.rq_direct_response.inc()
      cb.sendLocalReply(direct.responseCode, direct.body, 'direct_response', (h) => {
        if (location !== undefined) h.set('location', location)
        direct.finalizeResponseHeaders(h, info)
      })
      return FilterHeadersStatus.StopIteration
    }
    const entry = route.routeEntry!
    this.route = entry
    const clusterName = entry.clusterName()
    const cluster = clusterName === '' ? undefined : this.config.clusterManager.getThreadLocalCluster(clusterName)
    if (cluster === undefined) {
      stats.no_cluster.inc()
      info.setResponseFlag(ResponseFlag.NoClusterFound)
      cb.sendLocalReply(entry.clusterNotFoundResponseCode, '', 'cluster_not_found')
      return FilterHeadersStatus.StopIteration
    }
    this.cluster = cluster
    stats.rq_total.inc()
    info.upstreamCluster = clusterName
    this.headers = headers
    this.requestComplete = endStream
    this.setTimeouts(headers, entry)
    this.retry = new RetryState(entry.retryPolicy, headers, cluster.info.resourceManager(entry.priority).retries)
    if (headers.has('x-envoy-upstream-rq-timeout-alt-response')) this.timeoutResponseCode = 204
    for (const h of ['x-envoy-retry-on', 'x-envoy-max-retries', 'x-envoy-retriable-status-codes', 'x-envoy-upstream-rq-timeout-ms', 'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-upstream-rq-timeout-alt-response']) headers.remove(h)
    entry.finalizeRequestHeaders(headers, info, !this.config.suppressEnvoyHeaders)
    if (!this.config.suppressEnvoyHeaders) {
      const expected = this.perTryTimeoutMs > 0 ? this.perTryTimeoutMs : this.timeoutMs
      if (expected > 0) headers.set('x-envoy-expected-rq-timeout-ms', String(expected))
    }
    if (entry.requestMirrorPolicies.length > 0) {
      this.shadow = new ShadowWriter(this.config.clusterManager, entry.requestMirrorPolicies, headers)
      if (endStream) this.shadow.data(new BufferImpl(), true)
    }
    cb.addDownstreamWatermarkCallbacks(this)
    if (endStream) this.onRequestComplete()
    this.startAttempt()
    return FilterHeadersStatus.StopIteration
  }

  decodeData(data: BufferInstance, endStream: boolean): FilterDataStatusValue {
    if (this.done) {
      data.drain(data.length)
      return FilterDataStatus.StopIterationNoBuffer
    }
    this.keepForRetry(data)
    this.shadow?.data(data, endStream)
    if (endStream) this.requestComplete = true
    const up = this.upstream
    if (up?.encoder !== undefined && this.pendingBody.length === 0) {
      this.cb.streamInfo().upstreamBytesSent += data.length
      up.encodeData(data, endStream && this.trailers === undefined)
    } else {
      this.pendingBody.move(data)
      if (!this.pendingBodyOverLimit && this.pendingBody.length > this.cb.decoderBufferLimit()) {
        // Connecting is slow and the client is fast: stop reading it until we can send.
        this.pendingBodyOverLimit = true
        this.cb.onDecoderFilterAboveWriteBufferHighWatermark()
      }
    }
    if (endStream) this.onRequestComplete()
    return FilterDataStatus.StopIterationNoBuffer
  }

  decodeTrailers(trailers: HeaderMap): FilterTrailersStatusValue {
    this.trailers = trailers
    this.requestComplete = true
    this.shadow?.trailers(trailers)
    const up = this.upstream
    if (up?.encoder !== undefined && this.pendingBody.length === 0) up.encodeTrailers(trailers)
    this.onRequestComplete()
    return FilterTrailersStatus.StopIteration
  }

  onDestroy(): void {
    if (!this.done && this.upstream !== undefined && !this.upstream.responseComplete) {
      this.cluster?.info.stats.upstream_rq_tx_reset.inc()
      this.cluster?.info.stats.upstream_rq_cancelled.inc()
    }
    this.finish()
  }

  // Http.DownstreamWatermarkCallbacks: the client reads slower than the upstream sends.

  onAboveWriteBufferHighWatermark(): void {
    this.downstreamAbove++
    this.upstream?.readDisable(true)
    this.cluster?.info.stats.upstream_flow_control_paused_reading_total.inc()
  }

  onBelowWriteBufferLowWatermark(): void {
    if (this.downstreamAbove === 0) return
    this.downstreamAbove--
    this.upstream?.readDisable(false)
    this.cluster?.info.stats.upstream_flow_control_resumed_reading_total.inc()
  }

  // UpstreamRequestOwner

  onPoolReady(req: UpstreamRequest): void {
    if (req !== this.upstream) return
    req.host.outlierDetector.putResult(OutlierResult.LocalOriginConnectSuccess)
    const info = this.cb.streamInfo()
    info.upstreamLocalAddress = req.upstreamLocalAddress
    info.firstUpstreamTxByteSent = performance.now()
    const headers = this.attemptHeaders()
    const hasBody = this.retryBody === undefined || this.retryBodyBytes > 0 || this.pendingBody.length > 0 || this.trailers !== undefined || !this.requestComplete
    req.encodeHeaders(headers, !hasBody)
    if (this.attempts > 1 && this.retryBody !== undefined && this.retryBodyBytes > 0) {
      // A retry re-sends the body kept so far; later chunks follow as they arrive.
      const copy = new BufferImpl()
      for (const s of this.retryBody) copy.add(s)
      this.pendingBody = copy
    }
    if (this.pendingBody.length > 0) {
      const body = this.pendingBody
      this.pendingBody = new BufferImpl()
      info.upstreamBytesSent += body.length
      req.encodeData(body, this.requestComplete && this.trailers === undefined)
      if (this.pendingBodyOverLimit) {
        this.pendingBodyOverLimit = false
        this.cb.onDecoderFilterBelowWriteBufferLowWatermark()
      }
    } else if (hasBody && this.requestComplete && this.trailers === undefined) {
      req.encodeData(new BufferImpl(), true)
    }
    if (this.trailers !== undefined && this.requestComplete) req.encodeTrailers(this.trailers)
    for (let i = 0; i < this.downstreamAbove; i++) req.readDisable(true)
    if (this.requestComplete) this.startPerTryTimer()
  }

  onPoolFailure(req: UpstreamRequest, reason: PoolFailureReason, details: string): void {
    if (req !== this.upstream) return
    const info = this.cb.streamInfo()
    info.upstreamHost = req.host.addressString
    if (reason === 'Overflow') {
      info.setResponseFlag(ResponseFlag.UpstreamOverflow)
      this.upstream = undefined
      this.localReply(503, `${UPSTREAM_RESET_PREFIX}overflow`, 'upstream_reset_before_response_started{overflow}')
      return
    }
    req.host.outlierDetector.putResult(OutlierResult.LocalOriginConnectFailed)
    info.upstreamTransportFailureReason = details
    const text = reason === 'Timeout' ? 'connection timeout' : resetReasonText('ConnectionFailure')
    if (this.maybeRetry({ kind: 'connect-failure' })) return
    info.setResponseFlag(ResponseFlag.UpstreamConnectionFailure)
    this.upstream = undefined
    this.localReply(503, `${UPSTREAM_RESET_PREFIX}${text}`, `upstream_reset_before_response_started{${text.replace(/ /g, '_')}}`)
  }

  onUpstream1xxHeaders(req: UpstreamRequest, headers: HeaderMap): void {
    if (req === this.upstream && !this.responseStarted) this.cb.encode1xxHeaders(headers)
  }

  onUpstreamHeaders(req: UpstreamRequest, headers: HeaderMap, endStream: boolean): void {
    if (req !== this.upstream) return
    const code = Number(headers.get(':status') ?? 0)
    // Outlier detection and passive health checks see every response, retried or not (as in Envoy).
    req.host.outlierDetector.putHttpResponseCode(code)
    if (headers.get('x-envoy-immediate-health-check-fail') !== undefined) req.host.healthChecker.setUnhealthy('ImmediateHealthCheckFail')
    const info = this.cb.streamInfo()
    info.firstUpstreamRxByteReceived = performance.now()
    const retriable = this.retry?.retriable({ kind: 'headers', code, headers }) ?? false
    if (retriable && this.maybeRetry({ kind: 'headers', code, headers })) {
      this.countRetriedResponse(req, code)
      return
    }
    if (retriable && this.policyAttempts() > 1) info.setResponseFlag(ResponseFlag.UpstreamRetryLimitExceeded)
    this.clearPerTryTimer()
    this.responseStarted = true
    // Nothing will be sent again now, unless a policy retry may still want the body.
    if (this.retry?.enabled() !== true) this.retryBody = undefined
    this.countResponse(req, code)
    if (!this.config.suppressEnvoyHeaders) {
      headers.set('x-envoy-upstream-service-time', String(Math.round(performance.now() - req.startedAt)))
    }
    if (this.route?.includeAttemptCountInResponse === true) headers.set('x-envoy-attempt-count', String(this.attempts))
    this.route?.finalizeResponseHeaders(headers, info)
    if (endStream) this.onResponseComplete(req)
    this.cb.encodeHeaders(headers, endStream, 'via_upstream')
  }

  onUpstreamData(req: UpstreamRequest, data: BufferInstance, endStream: boolean): void {
    if (req !== this.upstream) return
    this.cb.streamInfo().upstreamBytesReceived += data.length
    if (endStream) this.onResponseComplete(req)
    this.cb.encodeData(data, endStream)
  }

  onUpstreamTrailers(req: UpstreamRequest, trailers: HeaderMap): void {
    if (req !== this.upstream) return
    this.onResponseComplete(req)
    this.cb.encodeTrailers(trailers)
  }

  onUpstreamReset(req: UpstreamRequest, reason: StreamResetReason, details: string): void {
    if (req !== this.upstream) return
    const stats = this.cluster!.info.stats
    stats.upstream_rq_rx_reset.inc()
    // A stale keep-alive connection is not the host's fault: no outlier or error accounting.
    if (details === RESET_DETAILS_REUSED_CONNECTION_CLOSED && this.resendOnFreshConnection()) return
    // An overflow is the cluster's circuit breaker, not the host's fault.
    if (reason !== 'Overflow') req.host.outlierDetector.putResult(OutlierResult.LocalOriginConnectFailed)
    const info = this.cb.streamInfo()
    if (this.responseStarted) {
      // Part of the response is out: the downstream can only be reset too.
      info.setResponseFlag(ResponseFlag.UpstreamConnectionTermination)
      this.config.stats.rq_reset_after_downstream_response_started.inc()
      this.finish()
      this.cb.resetStream()
      return
    }
    req.host.stats.rq_error.inc()
    if (this.maybeRetry({ kind: 'reset', reason })) return
    info.setResponseFlag(reason === 'ConnectionTermination' ? ResponseFlag.UpstreamConnectionTermination
      : reason === 'Overflow' ? ResponseFlag.UpstreamOverflow
      : reason === 'ProtocolError' ? ResponseFlag.UpstreamProtocolError
      : ResponseFlag.UpstreamRemoteReset)
    const text = resetReasonText(reason)
    this.upstream = undefined
    this.localReply(503, `${UPSTREAM_RESET_PREFIX}${text}`, `upstream_reset_before_response_started{${text.replace(/ /g, '_')}}`)
  }

  onUpstreamAboveWriteBufferHighWatermark(): void {
    this.cb.onDecoderFilterAboveWriteBufferHighWatermark()
  }

  onUpstreamBelowWriteBufferLowWatermark(): void {
    this.cb.onDecoderFilterBelowWriteBufferLowWatermark()
  }

  // Internals.

  private setTimeouts(headers: HeaderMap, entry: RouteEntry): void {
    this.timeoutMs = entry.timeoutMs
    this.perTryTimeoutMs = entry.retryPolicy?.perTryTimeoutMs ?? 0
    const t = headers.get('x-envoy-upstream-rq-timeout-ms')
    if (t !== undefined && /^\d+$/.test(t)) this.timeoutMs = Number(t)
    const pt = headers.get('x-envoy-upstream-rq-per-try-timeout-ms')
    if (pt !== undefined && /^\d+$/.test(pt)) this.perTryTimeoutMs = Number(pt)
    if (this.config.respectExpectedRqTimeout) {
      const e = headers.get('x-envoy-expected-rq-timeout-ms')
      if (e !== undefined && /^\d+$/.test(e)) this.timeoutMs = Number(e)
    }
    if (this.perTryTimeoutMs >= this.timeoutMs && this.timeoutMs > 0) this.perTryTimeoutMs = 0
  }

  private onRequestComplete(): void {
    this.cb.streamInfo().lastDownstreamRxByteReceived ??= performance.now()
    // The route timeout runs from the end of the request to the end of the response.
    if (this.timeoutMs > 0 && this.globalTimer === undefined) {
      this.globalTimer = startTimer(this.timeoutMs, () => this.cb.dispatch(() => this.onGlobalTimeout()))
    }
    if (this.upstream?.encoder !== undefined) this.startPerTryTimer()
  }

  private startAttempt(freshConnection = false): void {
    const cluster = this.cluster!
    const info = this.cb.streamInfo()
    const entry = this.route!
    const downstream = this.cb.connection()
    const headers = this.headers!
    const host = cluster.loadBalancer.chooseHost({
      ...(downstream !== undefined ? { downstreamConnection: downstream } : {}),
      computeHashKey: () => entry.hashPolicy?.generateHash({
        headers,
        sourceIp: downstream?.remoteAddress.kind === 'ip' ? downstream.remoteAddress.ip : undefined,
      }),
    })
    if (host === undefined) {
      cluster.info.stats.upstream_cx_none_healthy.inc()
      info.setResponseFlag(ResponseFlag.NoHealthyUpstream)
      this.localReply(503, 'no healthy upstream', 'no_healthy_upstream')
      return
    }
    this.attempts++
    info.upstreamRequestAttemptCount = this.attempts
    info.upstreamHost = host.addressString
    info.upstreamHostname = host.hostname
    if (entry.autoHostRewrite && host.hostname !== '') headers.set(':authority', host.hostname)
    const req = new UpstreamRequest(this, host)
    this.upstream = req
    req.start(cluster.httpConnPool(host), freshConnection ? { freshConnection } : undefined)
  }

  private attemptHeaders(): HeaderMap {
    const headers = this.attempts > 1 ? this.headers!.clone() : this.headers!
    if (this.route?.includeAttemptCountInRequest === true) headers.set('x-envoy-attempt-count', String(this.attempts))
    return headers
  }

  /** Attempts made under the retry policy (the reused-connection resend is not one). */
  private policyAttempts(): number {
    return this.resentOnFreshConnection ? this.attempts - 1 : this.attempts
  }

  /**
   * Keeps request body slices for a possible retry (or the reused-connection resend, until the
   * response starts), until the buffer limit makes that impossible.
   */
  private keepForRetry(data: BufferInstance): void {
    const resendable = !this.resentOnFreshConnection && !this.responseStarted
    if (this.retryBody === undefined || (this.retry?.enabled() !== true && !resendable)) {
      this.retryBody = undefined
      return
    }
    this.retryBodyBytes += data.length
    if (this.retryBodyBytes > this.cb.decoderBufferLimit()) {
      this.retryBody = undefined
      return
    }
    for (const s of data.slices()) this.retryBody.push(s)
  }

  /**
   * The request went out on a reused keep-alive connection that the upstream closed before any
   * byte of the answer: it most likely crossed the upstream's close of the idle connection and
   * was never processed. It is sent once more, on a fresh connection and whatever the retry
   * policy, when every body byte sent so far is still held (no body, or a body within the buffer
   * limit). An envoy-ts addition, counted as `upstream_rq_retry_reused_connection`.
   */
  private resendOnFreshConnection(): boolean {
    if (this.resentOnFreshConnection || this.responseStarted || this.done || !this.canResendBody()) return false
    this.resentOnFreshConnection = true
    this.cluster!.info.stats.upstream_rq_retry_reused_connection.inc()
    this.clearPerTryTimer()
    this.upstream = undefined
    this.scheduleAttempt(0, true)
    return true
  }

  /** Every body byte sent so far is still held (or there is none), so the request can go again. */
  private canResendBody(): boolean {
    return this.retryBody !== undefined || (this.retryBodyBytes === 0 && this.requestComplete)
  }

  /** Starts the next attempt after `delayMs`, on the stream's dispatcher. */
  private scheduleAttempt(delayMs: number, freshConnection = false): void {
    this.retryTimer = startTimer(delayMs, () => this.cb.dispatch(() => {
      this.retryTimer = undefined
      if (!this.done) this.startAttempt(freshConnection)
    }))
  }

  private maybeRetry(outcome: Parameters<RetryState['retriable']>[0]): boolean {
    const retry = this.retry
    const stats = this.cluster!.info.stats
    if (retry === undefined || !retry.retriable(outcome) || this.responseStarted) return false
    // A retry must be able to resend the whole body.
    if (!this.canResendBody()) return false
    const r = retry.tryRetry()
    if (r === 'exhausted') {
      stats.upstream_rq_retry_limit_exceeded.inc()
      this.cb.streamInfo().setResponseFlag(ResponseFlag.UpstreamRetryLimitExceeded)
      return false
    }
    if (r === 'overflow') {
      stats.upstream_rq_retry_overflow.inc()
      this.cb.streamInfo().setResponseFlag(ResponseFlag.UpstreamOverflow)
      return false
    }
    stats.upstream_rq_retry.inc()
    stats.upstream_rq_retry_backoff_exponential.inc()
    this.clearPerTryTimer()
    this.upstream?.reset()
    this.upstream = undefined
    this.scheduleAttempt(r)
    return true
  }

  private startPerTryTimer(): void {
    if (this.perTryTimeoutMs <= 0 || this.perTryTimer !== undefined || this.responseStarted) return
    const req = this.upstream
    this.perTryTimer = startTimer(this.perTryTimeoutMs, () => this.cb.dispatch(() => {
      this.perTryTimer = undefined
      if (req !== this.upstream || this.responseStarted) return
      this.cluster!.info.stats.upstream_rq_per_try_timeout.inc()
      req?.host.stats.rq_timeout.inc()
      req?.host.outlierDetector.putResult(OutlierResult.LocalOriginTimeout, 504)
      if (this.maybeRetry({ kind: 'per-try-timeout' })) return
      this.onTimeout()
    }))
  }

  private clearPerTryTimer(): void {
    this.perTryTimer?.disableTimer()
    this.perTryTimer = undefined
  }

  private onGlobalTimeout(): void {
    this.globalTimer = undefined
    if (this.done) return
    this.cluster!.info.stats.upstream_rq_timeout.inc()
    this.upstream?.host.stats.rq_timeout.inc()
    if (!this.responseStarted) this.upstream?.host.outlierDetector.putResult(OutlierResult.LocalOriginTimeout, 504)
    this.onTimeout()
  }

  private onTimeout(): void {
    const info = this.cb.streamInfo()
    info.setResponseFlag(ResponseFlag.UpstreamRequestTimeout)
    this.upstream?.reset()
    this.upstream = undefined
    if (this.responseStarted) {
      this.finish()
      this.cb.resetStream()
      return
    }
    this.localReply(this.timeoutResponseCode, 'upstream request timeout', 'upstream_response_timeout')
  }

  private countResponse(req: UpstreamRequest, code: number): void {
    const info = this.cluster!.info
    for (const c of info.responseCodeCounters(code, false)) c.inc()
    info.stats.upstream_rq_time.recordValue(performance.now() - req.startedAt)
    if (code >= 500) req.host.stats.rq_error.inc()
    else req.host.stats.rq_success.inc()
    if (this.policyAttempts() > 1) info.stats.upstream_rq_retry_success.inc()
  }

  /** An answer that is dropped for a retry: charged under the cluster's `retry.` stats, as Envoy does. */
  private countRetriedResponse(req: UpstreamRequest, code: number): void {
    for (const c of this.cluster!.info.responseCodeCounters(code, true)) c.inc()
    req.host.stats.rq_error.inc()
  }

  private onResponseComplete(req: UpstreamRequest): void {
    this.cb.streamInfo().lastUpstreamRxByteReceived = performance.now()
    this.cluster!.info.stats.upstream_rq_completed.inc()
    if (!req.requestComplete) {
      // The upstream answered before the request body was sent whole; it cannot be reused.
      req.reset()
    }
    this.finish()
  }

  private localReply(code: number, body: string, details: string): void {
    this.finish()
    this.cb.sendLocalReply(code, body, details)
  }

  private finish(): void {
    if (this.done) return
    this.done = true
    for (const t of [this.globalTimer, this.perTryTimer, this.retryTimer]) t?.disableTimer()
    this.globalTimer = this.perTryTimer = this.retryTimer = undefined
    this.retry?.release()
    this.cb.removeDownstreamWatermarkCallbacks(this)
    if (this.upstream !== undefined && !this.upstream.responseComplete) this.upstream.reset()
  }
}

