import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { xxHash64 } from '../../../../common/upstream/load-balancers/hash.js'
import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import { addressToString } from '../../../../envoy/network/address.js'
import type { ClientConnection } from '../../../../envoy/network/client-connection.js'
import type { Connection, ConnectionCallbacks, ConnectionEvent } from '../../../../envoy/network/connection.js'
import { FilterStatus, type FilterStatusValue, type ReadFilter, type ReadFilterCallbacks } from '../../../../envoy/network/filter.js'
import { ResponseFlag } from '../../../../envoy/stream-info/stream-info.js'
import type { Cancellable, ClusterManager, PoolFailureReason } from '../../../../envoy/upstream/cluster-manager.js'
import type { Host } from '../../../../envoy/upstream/host.js'
import type { LoadBalancerContext } from '../../../../envoy/upstream/load-balancer.js'
import type { TcpProxyConfig } from './tcp-proxy-config.js'
import { startTimer, startPeriodicTimer } from '../../../../common/event/timer-impl.js'
import type { Timer } from '../../../../envoy/event/timer.js'

/**
 * Proxies one downstream connection to one upstream connection (Envoy's TcpProxy::Filter):
 * holds downstream reads until the upstream is connected, then copies bytes both ways with
 * half-close, flow control through write-buffer watermarks, idle and duration timeouts.
 */
export class TcpProxyFilter implements ReadFilter, ConnectionCallbacks {
  private readonly config: TcpProxyConfig
  private readonly clusterManager: ClusterManager
  private readonly log: Logger
  private callbacks!: ReadFilterCallbacks
  private downstream!: Connection
  private upstream: ClientConnection | undefined
  private pending: Cancellable | undefined
  private clusterName: string | undefined
  private attempts = 0
  private idleTimer: Timer | undefined
  private durationTimer: Timer | undefined
  private flushTimer: Timer | undefined
  private retryTimer: Timer | undefined
  private downstreamPaused = false
  private logged = false
  private closing = false

  constructor(config: TcpProxyConfig, clusterManager: ClusterManager, log: Logger) {
    this.config = config
    this.clusterManager = clusterManager
    this.log = log
  }

  // Network.ReadFilter

  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.callbacks = callbacks
    this.downstream = callbacks.connection()
    this.downstream.addConnectionCallbacks(this)
  }

  onNewConnection(): FilterStatusValue {
    const stats = this.config.stats
    stats.downstream_cx_total.inc()
    // Bytes that arrive before the upstream is up wait in the socket, not in our memory.
    this.downstream.readDisable(true)
    this.downstream.enableHalfClose(true)
    this.clusterName = this.config.pickCluster()
    const info = this.downstream.streamInfo
    if (this.clusterName === undefined || this.clusterManager.getThreadLocalCluster(this.clusterName) === undefined) {
      stats.downstream_cx_no_route.inc()
      info.setResponseFlag(ResponseFlag.NoClusterFound)
      this.log.debug({ conn: this.downstream.id, cluster: this.clusterName }, 'tcp_proxy: no cluster')
      this.downstream.close('NoFlush', 'tcp_proxy: no cluster')
      return FilterStatus.StopIteration
    }
    info.upstreamCluster = this.clusterName
    if (this.config.maxDownstreamDurationMs > 0) {
      const jitter = this.config.maxDownstreamDurationMs * (this.config.durationJitterPercent / 100) * Math.random()
      this.durationTimer = startTimer(this.config.maxDownstreamDurationMs + jitter, () => this.onDurationTimeout())
    }
    if (this.config.accessLogFlushIntervalMs > 0) {
      this.flushTimer = startPeriodicTimer(this.config.accessLogFlushIntervalMs, () => this.emitAccessLog('TcpPeriodic'))
    }
    this.connectUpstream()
    return FilterStatus.StopIteration
  }

  onData(data: BufferInstance, endStream: boolean): FilterStatusValue {
    const n = data.length
    this.config.stats.downstream_cx_rx_bytes_total.add(n)
    this.downstream.streamInfo.bytesReceived += n
    if (this.upstream !== undefined) {
      this.downstream.streamInfo.upstreamBytesSent += n
      this.upstream.write(data, endStream)
      this.touch()
    }
    return FilterStatus.StopIteration
  }

  // Network.ConnectionCallbacks (downstream)

  onEvent(event: ConnectionEvent): void {
    if (event === 'Connected') return
    this.cancelPending()
    const up = this.upstream
    if (up !== undefined && up.state() === 'Open') {
      // The peer closed: let the upstream take what we already sent it (Envoy flushes).
      if (event === 'RemoteClose') {
        this.config.stats.upstream_flush_total.inc()
        up.close('FlushWrite')
      } else {
        up.close('NoFlush')
      }
    }
    this.finish()
  }

  onAboveWriteBufferHighWatermark(): void {
    // Downstream is slow: stop reading the upstream.
    this.upstream?.readDisable(true)
  }

  onBelowWriteBufferLowWatermark(): void {
    this.upstream?.readDisable(false)
  }

  private connectUpstream(): void {
    const cluster = this.clusterManager.getThreadLocalCluster(this.clusterName!)
    if (cluster === undefined) {
      this.config.stats.downstream_cx_no_route.inc()
      this.downstream.streamInfo.setResponseFlag(ResponseFlag.NoClusterFound)
      this.downstream.close('NoFlush', 'tcp_proxy: no cluster')
      return
    }
    this.attempts++
    this.downstream.streamInfo.upstreamRequestAttemptCount = this.attempts
    const context = this.lbContext()
    this.pending = cluster.tcpConnect(context, {
      onPoolReady: (conn, host) => this.onPoolReady(conn, host),
      onPoolFailure: (reason, details, host) => this.onPoolFailure(reason, details, host),
    })
  }

  private lbContext(): LoadBalancerContext {
    const c = this.config
    const down = this.downstream
    return {
      downstreamConnection: down,
      computeHashKey: () => {
        if (c.hashSourceIp && down.remoteAddress.kind === 'ip') return xxHash64(down.remoteAddress.ip)
        if (c.hashFilterStateKey !== undefined) {
          const v = down.streamInfo.filterState.get(c.hashFilterStateKey)
          if (v !== undefined) return xxHash64(String(v))
        }
        return undefined
      },
    }
  }

  private onPoolReady(conn: ClientConnection, host: Host): void {
    this.pending = undefined
    if (this.downstream.state() !== 'Open') {
      conn.close('NoFlush')
      return
    }
    const info = this.downstream.streamInfo
    this.upstream = conn
    info.upstreamHost = host.addressString
    info.upstreamHostname = host.hostname
    info.upstreamLocalAddress = (conn as { boundLocalAddress?: () => string | undefined }).boundLocalAddress?.()
    conn.enableHalfClose(true)
    conn.addReadFilter({
      initializeReadFilterCallbacks: () => {},
      onNewConnection: () => FilterStatus.Continue,
      onData: (data, endStream) => this.onUpstreamData(data, endStream),
    })
    conn.addConnectionCallbacks({
      onEvent: (e) => this.onUpstreamEvent(e),
      onAboveWriteBufferHighWatermark: () => this.pauseDownstream(),
      onBelowWriteBufferLowWatermark: () => this.resumeDownstream(),
    })
    conn.initializeReadFilters()
    if (this.config.idleTimeoutMs > 0) this.idleTimer = startTimer(this.config.idleTimeoutMs, () => this.onIdleTimeout())
    if (this.config.flushAccessLogOnConnected) this.emitAccessLog('TcpUpstreamConnected')
    // Release what the downstream sent while we connected.
    this.downstream.readDisable(false)
    this.callbacks.continueReading()
  }

  private onPoolFailure(reason: PoolFailureReason, details: string, host: Host | undefined): void {
    this.pending = undefined
    const info = this.downstream.streamInfo
    if (host !== undefined) info.upstreamHost = host.addressString
    info.upstreamTransportFailureReason = details
    if ((reason === 'RemoteConnectionFailure' || reason === 'Timeout' || reason === 'LocalConnectionFailure') &&
      this.attempts < this.config.maxConnectAttempts && this.downstream.state() === 'Open') {
      const delay = this.config.backoffMs(this.attempts + 1)
      if (delay > 0) this.retryTimer = startTimer(delay, () => this.connectUpstream())
      else this.connectUpstream()
      return
    }
    if (reason === 'Overflow') info.setResponseFlag(ResponseFlag.UpstreamOverflow)
    else if (reason === 'NoHealthyUpstream') info.setResponseFlag(ResponseFlag.NoHealthyUpstream)
    else {
      info.setResponseFlag(ResponseFlag.UpstreamConnectionFailure)
      if (this.attempts > 1) info.setResponseFlag(ResponseFlag.UpstreamRetryLimitExceeded)
    }
    this.log.debug({ conn: this.downstream.id, reason, details }, 'tcp_proxy: upstream connect failed')
    this.downstream.close('NoFlush', `tcp_proxy: ${details}`)
  }

  private onUpstreamData(data: BufferInstance, endStream: boolean): FilterStatusValue {
    const n = data.length
    const info = this.downstream.streamInfo
    info.bytesSent += n
    info.upstreamBytesReceived += n
    this.config.stats.downstream_cx_tx_bytes_total.add(n)
    this.downstream.write(data, endStream)
    this.touch()
    return FilterStatus.StopIteration
  }

  private onUpstreamEvent(e: ConnectionEvent): void {
    if (e === 'Connected') return
    if (this.downstream.state() === 'Open') {
      if (e === 'RemoteClose') this.downstream.streamInfo.setResponseFlag(ResponseFlag.UpstreamConnectionTermination)
      this.downstream.close(e === 'RemoteClose' ? 'FlushWrite' : 'NoFlush', 'tcp_proxy: upstream closed')
    }
  }

  private pauseDownstream(): void {
    if (this.downstreamPaused) return
    this.downstreamPaused = true
    this.config.stats.downstream_flow_control_paused_reading_total.inc()
    this.downstream.readDisable(true)
  }

  private resumeDownstream(): void {
    if (!this.downstreamPaused) return
    this.downstreamPaused = false
    this.config.stats.downstream_flow_control_resumed_reading_total.inc()
    this.downstream.readDisable(false)
  }

  private touch(): void {
    this.idleTimer?.refresh()
  }

  private onIdleTimeout(): void {
    this.config.stats.idle_timeout.inc()
    this.log.debug({ conn: this.downstream.id }, 'tcp_proxy: idle timeout')
    this.upstream?.close('NoFlush')
    this.downstream.close('NoFlush', 'tcp_proxy: idle timeout')
  }

  private onDurationTimeout(): void {
    this.config.stats.max_downstream_connection_duration.inc()
    this.downstream.streamInfo.setResponseFlag(ResponseFlag.DurationTimeout)
    this.upstream?.close('NoFlush')
    this.downstream.close('NoFlush', 'tcp_proxy: max_downstream_connection_duration')
  }

  private cancelPending(): void {
    this.pending?.cancel()
    this.pending = undefined
  }

  private finish(): void {
    if (this.closing) return
    this.closing = true
    for (const t of [this.idleTimer, this.durationTimer, this.retryTimer, this.flushTimer]) t?.disableTimer()
    this.downstream.streamInfo.endTimeMonotonic ??= performance.now()
    this.emitAccessLog('TcpConnectionEnd')
  }

  private emitAccessLog(type: 'TcpUpstreamConnected' | 'TcpPeriodic' | 'TcpConnectionEnd'): void {
    if (type === 'TcpConnectionEnd') {
      if (this.logged) return
      this.logged = true
    }
    for (const l of this.config.accessLogs) l.log(this.downstream.streamInfo, type)
  }

  /** For logs and tests: where this connection went. */
  describe(): string {
    return `${addressToString(this.downstream.remoteAddress)} -> ${this.downstream.streamInfo.upstreamHost ?? '?'}`
  }
}
