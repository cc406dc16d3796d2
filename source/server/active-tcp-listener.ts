import net from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { BufferImpl } from '../common/buffer/buffer-impl.js'
import { addressFromSocket } from '../common/network/address-impl.js'
import { ConnectionImpl, newConnectionId, type SocketLike } from '../common/network/connection-impl.js'
import type { InternalListenerRegistry } from '../common/network/internal-listener-registry.js'
import { socketFromFd, TcpAcceptor } from '../common/network/tcp-acceptor.js'
import { StreamInfoImpl } from '../common/stream-info/stream-info-impl.js'
import { type Address, addressToString } from '../envoy/network/address.js'
import type { Connection } from '../envoy/network/connection.js'
import { OverloadActionNames, ProactiveResources, type ThreadLocalOverloadState } from '../envoy/server/overload.js'
import type { Counter, Gauge, Histogram, Scope } from '../envoy/stats/stats.js'
import { ActiveTcpSocket, type ListenerFilterResult } from './active-tcp-socket.js'
import type { ListenerImpl } from './listener-impl.js'

/** How a worker receives connections for one listener. */
export type WorkerSocket =
  /** Listen on this descriptor (a dup of main's socket, or this worker's SO_REUSEPORT socket). */
  | { kind: 'fd'; fd: number }
  /** Main accepts and hands over each connection's descriptor (exact balance, pipes). */
  | { kind: 'handoff' }
  /** An internal listener: no socket; connections come from this worker's registry. */
  | { kind: 'internal' }

interface ListenerStats {
  cxTotal: Counter
  cxDestroy: Counter
  cxActive: Gauge
  cxLength: Histogram
  workerCxTotal: Counter
  workerCxActive: Gauge
  preCxActive: Gauge
  preCxTimeout: Counter
  noFilterChainMatch: Counter
  listenerFilterError: Counter
  listenerFilterRemoteClose: Counter
  filterException: Counter
  rxTotal: Counter
  txTotal: Counter
  serverTotalConnections: Gauge
  envoyBugs: Counter
  acceptError: Counter
  globalCxOverflow: Counter
}

function ipOf(a: Address): string {
  return a.kind === 'ip' ? a.ip : ''
}

/**
 * One listener on one worker (Envoy's ActiveTcpListener): accepts, runs listener filters, picks
 * the filter chain, builds the connection's filters and tracks it until it closes.
 */
export class ActiveTcpListener {
  readonly listener: ListenerImpl
  private readonly log: Logger
  private readonly stats: ListenerStats
  private readonly connections = new Set<Connection>()
  private acceptor: TcpAcceptor | undefined
  private readonly overload: ThreadLocalOverloadState | undefined
  /** Whether a global connection limit applies (a monitor exists; no ignore_global_conn_limit). */
  private readonly limitConnections: boolean
  private internal: InternalListenerRegistry | undefined
  private onEmpty: (() => void) | undefined

  constructor(listener: ListenerImpl, workerIndex: number, rootScope: Scope, log: Logger, overload?: ThreadLocalOverloadState) {
    this.listener = listener
    this.log = log
    this.overload = overload
    this.limitConnections = overload !== undefined && !listener.config.ignore_global_conn_limit &&
      overload.isResourceMonitorEnabled(ProactiveResources.DownstreamConnections)
    const s = listener.scope
    const w = s.createScope(`worker_${workerIndex}`)
    this.stats = {
      cxTotal: s.counter('downstream_cx_total'),
      cxDestroy: s.counter('downstream_cx_destroy'),
      cxActive: s.gauge('downstream_cx_active'),
      cxLength: s.histogram('downstream_cx_length_ms', 'Milliseconds'),
      workerCxTotal: w.counter('downstream_cx_total'),
      workerCxActive: w.gauge('downstream_cx_active'),
      preCxActive: s.gauge('downstream_pre_cx_active'),
      preCxTimeout: s.counter('downstream_pre_cx_timeout'),
      noFilterChainMatch: s.counter('no_filter_chain_match'),
      listenerFilterError: s.counter('downstream_listener_filter_error'),
      listenerFilterRemoteClose: s.counter('downstream_listener_filter_remote_close'),
      filterException: s.counter('downstream_cx_filter_exception'),
      rxTotal: s.counter('downstream_cx_rx_bytes_total'),
      txTotal: s.counter('downstream_cx_tx_bytes_total'),
      serverTotalConnections: rootScope.gauge('server.total_connections'),
      envoyBugs: rootScope.counter('server.envoy_bug_failures'),
      // envoy-ts: Envoy has no stat for failed accept() calls (it logs them).
      acceptError: s.counter('downstream_cx_accept_error'),
      globalCxOverflow: s.counter('downstream_global_cx_overflow'),
    }
  }

  /** Starts accepting on `socket`; resolves once listening. */
  start(socket: WorkerSocket, internal?: InternalListenerRegistry): Promise<void> {
    if (socket.kind === 'handoff') return Promise.resolve()
    if (socket.kind === 'internal') {
      this.internal = internal
      internal?.register(this.listener.name, (s, local, remote) => this.onAccept(s, local, remote))
      return Promise.resolve()
    }
    try {
      // Not net.Server: libuv drops every pending connection without a word when accept() runs
      // out of descriptors; the TcpAcceptor counts the error and backs off instead.
      this.acceptor = new TcpAcceptor(socket.fd, this.listener.backlog, {
        onAccept: (fd) => {
          const s = socketFromFd(fd)
          if (s !== undefined) this.onAccept(s)
        },
        onAcceptError: (code, pauseMs) => this.onAcceptError(code, pauseMs),
      })
    } catch (err) {
      return Promise.reject(err)
    }
    return Promise.resolve()
  }

  /** accept() failed (EMFILE, ENFILE, ENOBUFS, ENOMEM): counted; the acceptor backs off. */
  private onAcceptError(code: string, pauseMs: number): void {
    this.stats.acceptError.inc()
    // One line per pause, not per connection: the pause bounds the rate (at most 10 a second).
    this.log.warn({ listener: this.listener.name, code, pause_ms: pauseMs }, 'accept failed: pausing accept on this listener')
  }

  /** A connection main accepted for us (exact balance): adopt its descriptor. */
  adoptFd(fd: number): void {
    const s = new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true })
    s.setNoDelay(true)
    this.onAccept(s)
  }

  /** Stops accepting; open connections go on. */
  stopListening(): Promise<void> {
    this.internal?.unregister(this.listener.name)
    this.internal = undefined
    this.acceptor?.close()
    this.acceptor = undefined
    return Promise.resolve()
  }

  activeConnections(): number {
    return this.connections.size
  }

  /** Calls `cb` once no connection is left (at once if none is). */
  whenEmpty(cb: () => void): void {
    if (this.connections.size === 0) cb()
    else this.onEmpty = cb
  }

  closeAllConnections(): void {
    for (const c of [...this.connections]) c.close('NoFlush', 'listener_closed')
  }

  /**
   * Applies the overload manager's stop_accepting_connections (the worker calls this every
   * refresh_interval): accepting holds while the action is saturated. bypass_overload_manager
   * listeners, internal listeners and exact-balance ones (main accepts) are not held.
   */
  applyOverload(): void {
    if (this.overload === undefined || this.acceptor === undefined || this.listener.config.bypass_overload_manager) return
    this.acceptor.setHeld(this.overload.getState(OverloadActionNames.StopAcceptingConnections).saturated)
  }

  private onAccept(socket: SocketLike, localAddress?: Address, remoteAddress?: Address): void {
    // Envoy's global downstream connection limit, exact across workers: over it, the new
    // connection is closed at once and counted (downstream_global_cx_overflow).
    if (this.limitConnections && this.internal === undefined) {
      const overload = this.overload!
      if (!overload.tryAllocateResource(ProactiveResources.DownstreamConnections, 1)) {
        this.stats.globalCxOverflow.inc()
        socket.destroy()
        return
      }
      socket.once('close', () => overload.deallocateResource(ProactiveResources.DownstreamConnections, 1))
    }
    const tcp = socket as net.Socket
    const local = localAddress ?? addressFromSocket(tcp.localAddress, tcp.localPort)
    const remote = remoteAddress ?? addressFromSocket(tcp.remoteAddress, tcp.remotePort)
    socket.on('error', () => {})
    const filters = this.listener.listenerFilterFactories
    if (filters.length === 0) {
      this.newConnection(socket, { localAddress: local, remoteAddress: remote, data: new BufferImpl(), dynamicMetadata: {} }, remote)
      return
    }
    this.stats.preCxActive.inc()
    socket.pause()
    const active = new ActiveTcpSocket(socket, local, remote, filters.map((f) => f()), this.listener.listenerFiltersTimeoutMs,
      this.listener.continueOnListenerFiltersTimeout, (r) => {
        this.stats.preCxActive.dec()
        if ('error' in r) {
          if (r.error === 'timeout') this.stats.preCxTimeout.inc()
          else if (r.error === 'remote_close') this.stats.listenerFilterRemoteClose.inc()
          else this.stats.listenerFilterError.inc()
          socket.destroy()
          return
        }
        // Envoy counts a timeout even when continue_on_listener_filters_timeout lets it through.
        if (r.timedOut === true) this.stats.preCxTimeout.inc()
        this.newConnection(socket, r, remote)
      })
    try {
      active.start()
    } catch (err) {
      this.log.error({ listener: this.listener.name, err }, 'listener filter threw; closing socket')
      this.stats.envoyBugs.inc()
      this.stats.listenerFilterError.inc()
      socket.destroy()
    }
  }

  private newConnection(socket: SocketLike, r: ListenerFilterResult, directRemote: Address): void {
    const chain = this.listener.filterChainManager.findFilterChain({
      destinationPort: r.localAddress.kind === 'ip' ? r.localAddress.port : 0,
      destinationIp: ipOf(r.localAddress),
      sourceIp: ipOf(r.remoteAddress),
      sourcePort: r.remoteAddress.kind === 'ip' ? r.remoteAddress.port : 0,
      directSourceIp: ipOf(directRemote),
    })
    if (chain === undefined) {
      this.stats.noFilterChainMatch.inc()
      this.log.debug({ listener: this.listener.name, remote: addressToString(r.remoteAddress) }, 'closing connection: no matching filter chain')
      socket.destroy()
      return
    }
    // Bytes the listener filters read but did not consume go back into the socket, so that the
    // connection reads them like any others (read-disable, byte counts), as Envoy leaves them in
    // the kernel. Handed over as initial data instead, a filter that stops and later continues
    // (tcp_proxy, once its upstream is up) would not see them until more bytes arrived.
    if (r.data.length > 0) socket.unshift(Buffer.concat(r.data.slices()))
    const id = newConnectionId()
    const info = new StreamInfoImpl({
      downstreamLocalAddress: addressToString(r.localAddress),
      downstreamRemoteAddress: addressToString(r.remoteAddress),
      downstreamDirectRemoteAddress: addressToString(directRemote),
      connectionId: id,
    })
    Object.assign(info.dynamicMetadata, r.dynamicMetadata)
    const connection = new ConnectionImpl({
      id,
      socket,
      localAddress: r.localAddress,
      remoteAddress: r.remoteAddress,
      directRemoteAddress: directRemote,
      streamInfo: info,
      log: this.log,
      bufferLimit: this.listener.perConnectionBufferLimitBytes,
      onFilterException: () => {
        this.stats.filterException.inc()
        this.stats.envoyBugs.inc()
      },
    })
    connection.setConnectionStats({ rxTotal: this.stats.rxTotal, txTotal: this.stats.txTotal })
    this.track(connection)
    for (const install of chain.factories) {
      try {
        install(connection, connection)
      } catch (err) {
        this.log.error({ listener: this.listener.name, err }, 'building the filter chain threw; closing connection')
        this.stats.filterException.inc()
        this.stats.envoyBugs.inc()
        connection.close('NoFlush', 'filter_chain_error')
        return
      }
    }
    if (!connection.initializeReadFilters() && connection.state() === 'Open') {
      connection.close('NoFlush', 'no_network_filters')
    }
  }

  private track(connection: ConnectionImpl): void {
    const s = this.stats
    s.cxTotal.inc()
    s.workerCxTotal.inc()
    s.cxActive.inc()
    s.workerCxActive.inc()
    s.serverTotalConnections.inc()
    this.connections.add(connection)
    connection.addConnectionCallbacks({
      onEvent: (e) => {
        if (e === 'Connected') return
        this.connections.delete(connection)
        s.cxDestroy.inc()
        s.cxActive.dec()
        s.workerCxActive.dec()
        s.serverTotalConnections.dec()
        s.cxLength.recordValue(performance.now() - connection.streamInfo.startTimeMonotonic)
        if (this.connections.size === 0 && this.onEmpty !== undefined) {
          const cb = this.onEmpty
          this.onEmpty = undefined
          cb()
        }
      },
      onAboveWriteBufferHighWatermark: () => {},
      onBelowWriteBufferLowWatermark: () => {},
    })
  }
}
