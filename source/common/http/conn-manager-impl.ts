import { performance } from 'node:perf_hooks'
import { OverloadActionNames } from '../../envoy/server/overload.js'
import type { Logger } from 'pino'
import { BufferImpl } from '../buffer/buffer-impl.js'
import type { BufferInstance } from '../../envoy/buffer/buffer.js'
import type { ResponseEncoder, ServerConnection, ServerConnectionCallbacks } from '../../envoy/http/codec.js'
import type { Connection, ConnectionEvent } from '../../envoy/network/connection.js'
import type { DrainDecision } from '../../envoy/network/drain-decision.js'
import {
  FilterStatus, type FilterStatusValue, type ReadFilter, type ReadFilterCallbacks, type WriteFilter,
} from '../../envoy/network/filter.js'
import type { Counter } from '../../envoy/stats/stats.js'
import { ActiveStream, type StreamOwner } from './active-stream.js'
import type { ConnectionManagerConfig } from './conn-manager-config.js'
import { ServerConnectionImpl } from './http1/server-connection-impl.js'
import type { Http1CodecStats } from './http1/codec-stats.js'
import { startTimer } from '../event/timer-impl.js'
import type { Timer } from '../../envoy/event/timer.js'

/**
 * The HTTP connection manager (Envoy's ConnectionManagerImpl): a network read filter that
 * feeds the connection's bytes to an HTTP/1 codec and runs one ActiveStream per request, one
 * at a time (pipelined requests wait in the codec). Also a write filter, to count bytes sent.
 */
export class ConnectionManagerImpl implements ReadFilter, WriteFilter, ServerConnectionCallbacks, StreamOwner {
  readonly config: ConnectionManagerConfig
  readonly log: Logger
  private readonly drain: DrainDecision
  private readonly codecStats: Http1CodecStats
  private readonly envoyBugs: Counter
  private callbacks!: ReadFilterCallbacks
  private codec: ServerConnection | undefined
  private readonly streams = new Set<ActiveStream>()
  private requests = 0
  private closing = false
  private idleTimer: Timer | undefined
  private durationTimer: Timer | undefined
  /** `request_headers_timeout`: armed while a request's header bytes are arriving. */
  private headersTimer: Timer | undefined
  private unsubscribeDrain: (() => void) | undefined
  private readonly start = performance.now()

  constructor(config: ConnectionManagerConfig, drain: DrainDecision, codecStats: Http1CodecStats, envoyBugs: Counter, log: Logger) {
    this.config = config
    this.drain = drain
    this.codecStats = codecStats
    this.envoyBugs = envoyBugs
    this.log = log
  }

  get connection(): Connection {
    return this.callbacks.connection()
  }

  // Network.ReadFilter

  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.callbacks = callbacks
  }

  onNewConnection(): FilterStatusValue {
    const stats = this.config.stats
    stats.downstream_cx_total.inc()
    stats.downstream_cx_http1_total.inc()
    stats.downstream_cx_active.inc()
    stats.downstream_cx_http1_active.inc()
    const conn = this.connection
    // Watermarks reach the active stream through the codec's stream callbacks.
    conn.addConnectionCallbacks({
      onEvent: (e) => this.onConnectionEvent(e),
      onAboveWriteBufferHighWatermark: () => {},
      onBelowWriteBufferLowWatermark: () => {},
    })
    if (this.config.idleTimeoutMs > 0) this.idleTimer = startTimer(this.config.idleTimeoutMs, () => this.onIdleTimeout())
    if (this.config.maxConnectionDurationMs > 0) this.durationTimer = startTimer(this.config.maxConnectionDurationMs, () => this.onMaxDuration())
    this.unsubscribeDrain = this.drain.onDrain(() => this.onDrainStarted())
    return FilterStatus.Continue
  }

  onData(data: BufferInstance, endStream: boolean): FilterStatusValue {
    this.config.stats.downstream_cx_rx_bytes_total.add(data.length)
    this.codec ??= new ServerConnectionImpl(this.connection, this, this.config.codec, this.codecStats)
    if (data.length > 0 && !this.closing) {
      const status = this.codec.dispatch(data)
      if (!status.ok) {
        this.closeConnection('FlushWriteAndDelay')
        return FilterStatus.StopIteration
      }
      // Part of a request's headers is buffered in the codec: it must complete in time.
      if (data.length > 0 && !this.codec.hasActiveStream() && this.headersTimer === undefined && this.config.requestHeadersTimeoutMs > 0) {
        this.headersTimer = startTimer(this.config.requestHeadersTimeoutMs, () => this.onRequestHeadersTimeout())
      }
    } else if (data.length > 0) {
      data.drain(data.length)
    }
    if (endStream) {
      this.codec.onRemoteEnd()
      if (this.streams.size === 0) this.closeConnection('FlushWrite')
    }
    return FilterStatus.StopIteration
  }

  // Network.WriteFilter

  onWrite(data: BufferInstance): FilterStatusValue {
    this.config.stats.downstream_cx_tx_bytes_total.add(data.length)
    return FilterStatus.Continue
  }

  // Http.ServerConnectionCallbacks

  onProtocolError(details: string): void {
    this.config.stats.downstream_cx_protocol_error.inc()
    this.log.debug({ conn: this.connection.id, details }, 'http1 protocol error; closing')
  }

  newStream(encoder: ResponseEncoder): ActiveStream {
    if (this.headersTimer !== undefined) {
      this.headersTimer.disableTimer()
      this.headersTimer = undefined
    }
    if (this.idleTimer !== undefined) {
      this.idleTimer.disableTimer()
      this.idleTimer = undefined
    }
    this.requests++
    const s = new ActiveStream(this, encoder)
    this.streams.add(s)
    return s
  }

  // StreamOwner

  protocol(): string {
    return this.codec?.protocol() ?? 'HTTP/1.1'
  }

  shouldCloseAfterResponse(): boolean {
    if (this.closing) return true
    const max = this.config.maxRequestsPerConnection
    if (max > 0 && this.requests >= max) {
      this.config.stats.downstream_cx_max_requests_reached.inc()
      return true
    }
    if (this.drain.drainClose()) {
      this.config.stats.downstream_cx_drain_close.inc()
      return true
    }
    // Overload manager: keep-alive off while disable_http_keepalive is saturated, and for that
    // share of responses while it scales (Envoy's bernoulli on the action's value).
    const keepAlive = this.config.overloadState?.getState(OverloadActionNames.DisableHttpKeepAlive)
    if (keepAlive !== undefined && keepAlive.value > 0 && (keepAlive.saturated || Math.random() < keepAlive.value)) {
      this.config.stats.downstream_cx_overload_disable_keepalive.inc()
      return true
    }
    return false
  }

  onStreamDone(stream: ActiveStream, closeConnection: boolean): void {
    this.streams.delete(stream)
    if (closeConnection) {
      this.closeConnection('FlushWriteAndDelay')
      return
    }
    if (this.streams.size === 0 && this.config.idleTimeoutMs > 0 && !this.closing) {
      this.idleTimer = startTimer(this.config.idleTimeoutMs, () => this.onIdleTimeout())
    }
  }

  onFilterException(err: unknown): void {
    this.envoyBugs.inc()
    this.log.error({ conn: this.connection.id, err }, 'http filter threw; resetting the stream')
  }

  private onConnectionEvent(e: ConnectionEvent): void {
    if (e === 'Connected') return
    const stats = this.config.stats
    stats.downstream_cx_destroy.inc()
    stats.downstream_cx_active.dec()
    stats.downstream_cx_http1_active.dec()
    if (e === 'RemoteClose') stats.downstream_cx_destroy_remote.inc()
    else stats.downstream_cx_destroy_local.inc()
    if (this.streams.size > 0) {
      stats.downstream_cx_destroy_active_rq.inc()
      if (e === 'RemoteClose') stats.downstream_cx_destroy_remote_active_rq.inc()
      else stats.downstream_cx_destroy_local_active_rq.inc()
    }
    stats.downstream_cx_length_ms.recordValue(performance.now() - this.start)
    this.closing = true
    this.clearTimers()
    for (const s of [...this.streams]) s.onConnectionClosed()
    this.streams.clear()
  }

  private clearTimers(): void {
    this.idleTimer?.disableTimer()
    this.durationTimer?.disableTimer()
    this.headersTimer?.disableTimer()
    this.idleTimer = undefined
    this.durationTimer = undefined
    this.headersTimer = undefined
    this.unsubscribeDrain?.()
    this.unsubscribeDrain = undefined
  }

  private closeConnection(type: 'FlushWrite' | 'FlushWriteAndDelay' | 'NoFlush'): void {
    if (this.connection.state() !== 'Open') return
    this.closing = true
    this.clearTimers()
    const conn = this.connection as Connection & { setDelayedCloseTimeout?: (ms: number) => void }
    conn.setDelayedCloseTimeout?.(this.config.delayedCloseTimeoutMs)
    conn.close(type)
  }

  /**
   * The request headers did not arrive in time (slowloris). There is no stream yet to carry a
   * local reply, so Envoy's 408 goes out as it is, and the connection closes.
   */
  private onRequestHeadersTimeout(): void {
    this.headersTimer = undefined
    if (this.closing) return
    this.config.stats.downstream_rq_header_timeout.inc()
    const body = 'request header timeout'
    const head = `HTTP/1.1 408 Request Timeout\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\n` +
      `connection: close\r\nserver: ${this.config.serverName}\r\n\r\n`
    this.connection.write(new BufferImpl(head + body), false)
    this.closeConnection('FlushWriteAndDelay')
  }

  private onIdleTimeout(): void {
    this.idleTimer = undefined
    if (this.streams.size > 0) return
    this.config.stats.downstream_cx_idle_timeout.inc()
    this.closeConnection('FlushWrite')
  }

  private onMaxDuration(): void {
    this.config.stats.downstream_cx_max_duration_reached.inc()
    if (this.streams.size === 0) this.closeConnection('FlushWrite')
    else this.closing = true
  }

  private onDrainStarted(): void {
    // Idle keep-alive connections close now; busy ones after their response (`connection: close`).
    // A connection that has not sent a request yet gets one answer first.
    if (this.streams.size === 0 && this.requests > 0) {
      this.config.stats.downstream_cx_drain_close.inc()
      this.closeConnection('FlushWrite')
    }
  }
}
