import type { Logger } from 'pino'
import { durationToMs } from '../../protobuf/duration.js'
import type { HttpProtocolOptions as UpstreamHttpProtocolOptions } from '../../protobuf/generated/envoy/extensions/upstreams/http/v3.js'
import type { BufferInstance } from '../../../envoy/buffer/buffer.js'
import type { Http1Settings, RequestEncoder, ResponseDecoder } from '../../../envoy/http/codec.js'
import type { HeaderMap } from '../../../envoy/http/header-map.js'
import type { ClientConnection } from '../../../envoy/network/client-connection.js'
import { FilterStatus } from '../../../envoy/network/filter.js'
import type { ClusterInfo } from '../../../envoy/upstream/cluster-info.js'
import type {
  Cancellable, ConnectCallbacks, HttpConnPool, HttpPoolCallbacks, NewStreamOptions, PoolFailureReason,
} from '../../../envoy/upstream/cluster-manager.js'
import type { Host } from '../../../envoy/upstream/host.js'
import { ClientConnectionImpl as ClientCodec } from './client-connection-impl.js'
import { type Http1CodecStats, http1CodecStats } from './codec-stats.js'
import { startTimer } from '../../event/timer-impl.js'
import type { Timer } from '../../../envoy/event/timer.js'

const HOUR = 60 * 60 * 1000
const UPSTREAM_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'

interface PendingStream {
  decoder: ResponseDecoder
  callbacks: HttpPoolCallbacks
  cancelled: boolean
  /** Only a connection that has carried no request will do (NewStreamOptions.freshConnection). */
  fresh: boolean
}

/** One upstream connection and its codec. */
class ActiveClient {
  readonly connection: ClientConnection
  readonly codec: ClientCodec
  requests = 0
  busy = false
  closed = false
  /** A request is on the connection and has not ended both ways (Envoy's "active rq" for destroy stats). */
  streamActive = false
  idleTimer: Timer | undefined

  constructor(connection: ClientConnection, codec: ClientCodec) {
    this.connection = connection
    this.codec = codec
  }
}

/** Watches a request for its end so the connection is only reused after both directions finish. */
class TrackedEncoder implements RequestEncoder {
  private readonly inner: RequestEncoder
  requestDone = false
  private readonly onRequestDone: () => void

  constructor(inner: RequestEncoder, onRequestDone: () => void) {
    this.inner = inner
    this.onRequestDone = onRequestDone
  }

  get stream(): RequestEncoder['stream'] {
    return this.inner.stream
  }

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.inner.encodeHeaders(headers, endStream)
    if (endStream) this.done()
  }

  encodeData(data: BufferInstance, endStream: boolean): void {
    this.inner.encodeData(data, endStream)
    if (endStream) this.done()
  }

  encodeTrailers(trailers: HeaderMap): void {
    this.inner.encodeTrailers(trailers)
    this.done()
  }

  private done(): void {
    if (this.requestDone) return
    this.requestDone = true
    this.onRequestDone()
  }
}

const NOOP: Cancellable = { cancel() {} }

/** Codec settings for upstream responses: Envoy's defaults (60 KiB, 100 headers). */
function upstreamSettings(info: ClusterInfo): Http1Settings {
  const opts = info.config.typed_extension_protocol_options[UPSTREAM_OPTIONS] as unknown as UpstreamHttpProtocolOptions | undefined
  const common = opts?.common_http_protocol_options ?? info.config.common_http_protocol_options
  const h1 = opts?.explicit_http_config?.http_protocol_options ?? info.config.http_protocol_options
  return {
    maxHeadersBytes: 60 * 1024,
    maxHeadersCount: common?.max_headers_count ?? 100,
    acceptHttp10: true,
    defaultHostForHttp10: '',
    allowAbsoluteUrl: false,
    enableTrailers: h1?.enable_trailers ?? false,
    allowChunkedLength: h1?.allow_chunked_length ?? false,
    headersWithUnderscores: common?.headers_with_underscores_action ?? 'ALLOW',
  }
}

/** The pools of every host share one set of codec stats per cluster. */
const codecStatsByCluster = new WeakMap<ClusterInfo, Http1CodecStats>()

/**
 * HTTP/1.1 connections to one host from one worker (Envoy's Http1 ConnPoolImpl). One request
 * per connection at a time; idle connections are reused, requests wait while connections open.
 */
export class Http1ConnPoolImpl implements HttpConnPool {
  private readonly host: Host
  private readonly info: ClusterInfo
  private readonly connect: (host: Host, cb: ConnectCallbacks) => Cancellable
  private readonly log: Logger
  private readonly settings: Http1Settings
  private readonly codecStats: Http1CodecStats
  private readonly idleTimeoutMs: number
  private readonly maxRequestsPerConnection: number
  private readonly idle: ActiveClient[] = []
  private readonly pending: PendingStream[] = []
  private connecting = 0
  /** Open connections (idle or busy). */
  private clients = 0
  private draining = false

  constructor(host: Host, info: ClusterInfo, connect: (host: Host, cb: ConnectCallbacks) => Cancellable, log: Logger) {
    this.host = host
    this.info = info
    this.connect = connect
    this.log = log
    this.settings = upstreamSettings(info)
    let cs = codecStatsByCluster.get(info)
    if (cs === undefined) {
      cs = http1CodecStats(info.scope)
      codecStatsByCluster.set(info, cs)
    }
    this.codecStats = cs
    const opts = info.config.typed_extension_protocol_options[UPSTREAM_OPTIONS] as unknown as UpstreamHttpProtocolOptions | undefined
    const common = opts?.common_http_protocol_options ?? info.config.common_http_protocol_options
    this.idleTimeoutMs = durationToMs(common?.idle_timeout, HOUR)
    this.maxRequestsPerConnection = common?.max_requests_per_connection ?? info.config.max_requests_per_connection ?? 0
  }

  newStream(decoder: ResponseDecoder, callbacks: HttpPoolCallbacks, options?: NewStreamOptions): Cancellable {
    const rm = this.info.resourceManager('default')
    const stats = this.info.stats
    if (!rm.requests.tryAcquire()) {
      stats.upstream_rq_pending_overflow.inc()
      callbacks.onPoolFailure('Overflow', 'overflow', this.host)
      return NOOP
    }
    const fresh = options?.freshConnection === true
    const client = fresh ? undefined : this.idle.pop()
    if (client !== undefined) {
      this.attach(client, { decoder, callbacks, cancelled: false, fresh })
      return NOOP
    }
    if (!rm.pendingRequests.tryAcquire()) {
      rm.requests.release()
      stats.upstream_rq_pending_overflow.inc()
      callbacks.onPoolFailure('Overflow', 'overflow', this.host)
      return NOOP
    }
    stats.upstream_rq_pending_total.inc()
    stats.upstream_rq_pending_active.inc()
    const p: PendingStream = { decoder, callbacks, cancelled: false, fresh }
    this.pending.push(p)
    if (this.connecting < this.pending.length) this.newConnection()
    return {
      cancel: () => {
        if (p.cancelled) return
        p.cancelled = true
        const i = this.pending.indexOf(p)
        if (i >= 0) {
          this.pending.splice(i, 1)
          this.releasePending()
          rm.requests.release()
        }
      },
    }
  }

  drainConnections(): void {
    this.draining = true
    for (const c of this.idle.splice(0)) this.closeClient(c)
  }

  private releasePending(): void {
    this.info.stats.upstream_rq_pending_active.dec()
    this.info.resourceManager('default').pendingRequests.release()
  }

  private newConnection(): void {
    this.connecting++
    this.connect(this.host, {
      onConnected: (conn) => {
        this.connecting--
        this.clients++
        this.info.stats.upstream_cx_http1_total.inc()
        const codec = new ClientCodec(conn, this.settings, this.codecStats)
        const client = new ActiveClient(conn, codec)
        conn.addReadFilter({
          initializeReadFilterCallbacks: () => {},
          onNewConnection: () => FilterStatus.Continue,
          onData: (data) => {
            if (data.length > 0) {
              const status = codec.dispatch(data)
              if (!status.ok) {
                this.info.stats.upstream_cx_protocol_error.inc()
                this.log.debug({ host: this.host.addressString, details: status.details }, 'upstream protocol error')
                conn.close('NoFlush')
              }
            }
            return FilterStatus.StopIteration
          },
        })
        // No half-close (as Envoy's codec client): the upstream's FIN is a RemoteClose event, so an
        // idle connection the upstream closed leaves the pool at once instead of sitting in
        // CLOSE-WAIT until a request is written to it.
        conn.addConnectionCallbacks({
          onEvent: (e) => {
            if (e === 'Connected') return
            client.closed = true
            this.clients--
            client.idleTimer?.disableTimer()
            const i = this.idle.indexOf(client)
            if (i >= 0) this.idle.splice(i, 1)
            if (client.streamActive) {
              const stats = this.info.stats
              stats.upstream_cx_destroy_with_active_rq.inc()
              if (e === 'RemoteClose') stats.upstream_cx_destroy_remote_with_active_rq.inc()
              else stats.upstream_cx_destroy_local_with_active_rq.inc()
            } else if (i >= 0) {
              this.log.debug({ host: this.host.addressString, event: e }, 'idle upstream connection closed')
            }
            // Ends a close-delimited body, or resets the request in flight (connection termination).
            codec.onRemoteClose()
            // Requests queued behind max_connections get a connection in place of this one.
            if (this.pending.length > this.connecting && !this.draining) this.newConnection()
          },
          onAboveWriteBufferHighWatermark: () => {},
          onBelowWriteBufferLowWatermark: () => {},
        })
        conn.initializeReadFilters()
        this.onClientReady(client)
      },
      onFailed: (reason, details) => {
        this.connecting--
        // Over max_connections, Envoy's pool queues the request (upstream_cx_overflow) until one
        // of its connections is free; only max_pending_requests fails requests.
        if (reason === 'Overflow' && this.clients > 0) {
          // A request that wanted a fresh connection takes an idle one rather than wait for ever.
          for (const p of this.pending) p.fresh = false
          const idle = this.idle.pop()
          if (idle !== undefined) this.onClientReady(idle)
          return
        }
        this.failPending(reason, details)
      },
    })
  }

  /** A connection failed: the oldest waiting request fails with it (Envoy fails what it would have served). */
  private failPending(reason: PoolFailureReason, details: string): void {
    while (this.pending.length > this.connecting) {
      const p = this.pending.shift()!
      this.releasePending()
      this.info.resourceManager('default').requests.release()
      if (!p.cancelled) p.callbacks.onPoolFailure(reason, details, this.host)
      if (reason !== 'Overflow') break
    }
  }

  private onClientReady(client: ActiveClient): void {
    for (let i = 0; i < this.pending.length;) {
      const p = this.pending[i]!
      if (!p.cancelled && p.fresh && client.requests > 0) {
        i++
        continue
      }
      this.pending.splice(i, 1)
      this.releasePending()
      if (p.cancelled) continue
      this.attach(client, p)
      return
    }
    this.makeIdle(client)
  }

  private makeIdle(client: ActiveClient): void {
    if (client.closed) return
    if (this.draining) {
      this.closeClient(client)
      return
    }
    client.busy = false
    if (this.idleTimeoutMs > 0) {
      client.idleTimer = startTimer(this.idleTimeoutMs, () => {
        const i = this.idle.indexOf(client)
        if (i >= 0) this.idle.splice(i, 1)
        this.info.stats.upstream_cx_idle_timeout.inc()
        this.closeClient(client)
      }).unref()
    }
    this.idle.push(client)
  }

  private closeClient(client: ActiveClient): void {
    client.idleTimer?.disableTimer()
    client.closed = true
    client.connection.close('NoFlush')
  }

  private attach(client: ActiveClient, p: PendingStream): void {
    if (client.idleTimer !== undefined) {
      client.idleTimer.disableTimer()
      client.idleTimer = undefined
    }
    client.busy = true
    client.streamActive = true
    client.requests++
    const stats = this.info.stats
    const host = this.host
    stats.upstream_rq_total.inc()
    stats.upstream_rq_active.inc()
    host.stats.rq_total.inc()
    host.stats.rq_active.inc()
    let responseDone = false
    let finished = false
    const finish = (reuse: boolean): void => {
      if (finished) return
      finished = true
      stats.upstream_rq_active.dec()
      host.stats.rq_active.dec()
      this.info.resourceManager('default').requests.release()
      if (reuse) client.streamActive = false
      const max = this.maxRequestsPerConnection
      if (reuse && !client.closed && client.codec.reusable() && (max === 0 || client.requests < max)) this.onClientReady(client)
      else if (!client.closed) this.closeClient(client)
    }
    const decoder = p.decoder
    let tracked: TrackedEncoder | undefined
    const responseEnd = (): void => {
      responseDone = true
      // HTTP/1: the connection is reusable only once the request went out whole as well.
      if (tracked?.requestDone === true) finish(true)
      else finish(false)
    }
    const wrapped: ResponseDecoder = {
      decode1xxHeaders: (h) => decoder.decode1xxHeaders(h),
      decodeHeaders: (h, end) => {
        decoder.decodeHeaders(h, end)
        if (end) responseEnd()
      },
      decodeData: (d, end) => {
        decoder.decodeData(d, end)
        if (end) responseEnd()
      },
      decodeTrailers: (t) => {
        decoder.decodeTrailers(t)
        responseEnd()
      },
    }
    const inner = client.codec.newStream(wrapped)
    tracked = new TrackedEncoder(inner, () => { if (responseDone) finish(true) })
    inner.stream.addCallbacks({
      onResetStream: () => finish(false),
      onAboveWriteBufferHighWatermark: () => {},
      onBelowWriteBufferLowWatermark: () => {},
    })
    const local = (client.connection as { boundLocalAddress?: () => string | undefined }).boundLocalAddress?.()
    p.callbacks.onPoolReady(tracked, host, local)
  }
}
