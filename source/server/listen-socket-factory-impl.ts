import fs from 'node:fs'
import net from 'node:net'
import type { Logger } from 'pino'
import { ErrorCode } from '../common/errors/codes.js'
import { EnvoyTsError } from '../common/errors/envoy-ts-error.js'
import { nativeSocket } from '../common/network/native-socket.js'
import { TcpAcceptor } from '../common/network/tcp-acceptor.js'
import { type Address, addressToString } from '../envoy/network/address.js'
import type { Counter } from '../envoy/stats/stats.js'
import type { WorkerSocket } from './active-tcp-listener.js'

/**
 * How a listener's connections reach workers (DESIGN.md, "Listen sockets"):
 * `shared`: one socket, every worker listens on its own dup; `reuse_port`: one SO_REUSEPORT
 * socket per worker index, the kernel balances; `handoff`: main accepts and hands each connection
 * to the least loaded worker (exact_balance, and unix-socket listeners).
 *
 * Main owns every listen socket and listens on it itself, so a socket's kernel accept queue lives
 * as long as the listener, not as long as the worker: a worker that dies closes only its own dup,
 * connections keep being accepted into the queue (none refused, none reset), and its replacement
 * gets a dup of the same socket and accepts what queued meanwhile.
 */
export type SocketMode = 'shared' | 'reuse_port' | 'handoff'

/** Hands an accepted descriptor to a worker; resolves false if the worker did not take it. */
export type Handoff = (fd: number) => Promise<boolean>

/** One listener's socket(s) on main (Envoy's ListenSocketFactory). Main thread only. */
export class ListenSocketFactoryImpl {
  readonly listenerName: string
  readonly mode: SocketMode
  private readonly configured: Address
  private bound: Address | undefined
  private readonly backlog: number
  private fd = -1
  /** reuse_port: main's socket for each worker index (index 0 is `fd`), listening. */
  private readonly perWorker: number[] = []
  private acceptor: net.Server | undefined
  /** Handoff mode on an IP address: main accepts with the native acceptor (see below). */
  private tcpAcceptor: TcpAcceptor | undefined
  private readonly log: Logger
  private readonly acceptErrors: Counter | undefined

  /** `acceptErrors`: the listener's `downstream_cx_accept_error`, for main's own accepts. */
  constructor(listenerName: string, address: Address, mode: SocketMode, log: Logger, backlog: number, acceptErrors?: Counter) {
    this.listenerName = listenerName
    this.backlog = backlog
    this.configured = address
    this.mode = address.kind === 'pipe' ? 'handoff' : mode
    this.log = log
    this.acceptErrors = acceptErrors
  }

  /** The address as bound (the real port when 0 was configured). */
  address(): Address {
    return this.bound ?? this.configured
  }

  /** Binds and listens (main keeps the socket; see the class comment). Throws ETS_ERR_LISTENER_BIND. */
  async bind(handoff: Handoff): Promise<void> {
    const a = this.configured
    try {
      if (a.kind === 'pipe') {
        await this.listenPipe(a.path, handoff)
        this.bound = a
        return
      }
      if (a.kind !== 'ip') throw new Error(`cannot bind ${addressToString(a)}`)
      const native = nativeSocket()
      this.fd = native.createListenSocket(a.ip, a.port, a.family, this.mode === 'reuse_port')
      const local = native.localAddress(this.fd)
      this.bound = { kind: 'ip', ip: a.ip, port: local.port, family: a.family }
      if (this.mode === 'handoff') await this.listenHandoff(handoff)
      else {
        native.listen(this.fd, this.backlog)
        if (this.mode === 'reuse_port') this.perWorker[0] = this.fd
      }
    } catch (err) {
      const e = err as { code?: string; message: string }
      throw new EnvoyTsError(ErrorCode.LISTENER_BIND,
        `cannot bind listener '${this.listenerName}' to ${addressToString(a)}: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}`)
    }
  }

  /**
   * Worker `index`'s way in: a new descriptor (a dup of main's socket for that index) that the
   * worker then owns and closes. A restarted worker gets a dup of the same socket as before.
   */
  socketForWorker(index: number): WorkerSocket {
    if (this.mode === 'handoff') return { kind: 'handoff' }
    if (this.fd < 0) throw new Error(`listener '${this.listenerName}' is closed`)
    const native = nativeSocket()
    if (this.mode === 'shared') return { kind: 'fd', fd: native.dup(this.fd) }
    let fd = this.perWorker[index]
    if (fd === undefined) {
      const a = this.address()
      if (a.kind !== 'ip') throw new Error('reuse_port needs an IP address')
      fd = native.createListenSocket(a.ip, a.port, a.family, true)
      try {
        native.listen(fd, this.backlog)
      } catch (err) {
        native.close(fd)
        throw err
      }
      this.perWorker[index] = fd
    }
    return { kind: 'fd', fd: native.dup(fd) }
  }

  /** Stops main's part in accepting: closes the acceptor and main's descriptors. */
  async close(): Promise<void> {
    const tcpAcceptor = this.tcpAcceptor
    const acceptor = this.acceptor
    this.tcpAcceptor = undefined
    this.acceptor = undefined
    // The native acceptor owns main's descriptor and closes it; net.Server closes its own.
    if (tcpAcceptor !== undefined) tcpAcceptor.close()
    else if (acceptor !== undefined) await new Promise<void>((resolve) => acceptor.close(() => resolve()))
    else {
      const native = nativeSocket()
      for (const fd of new Set([this.fd, ...this.perWorker])) if (fd >= 0) native.close(fd)
    }
    this.perWorker.length = 0
    this.fd = -1
  }

  private listenHandoff(handoff: Handoff): Promise<void> {
    // Not net.Server: on EMFILE libuv drops the pending connections without a word. The native
    // acceptor counts the error and pauses (100 ms, up to 1 s); each descriptor goes straight
    // to a worker.
    this.tcpAcceptor = new TcpAcceptor(this.fd, 511, {
      onAccept: (fd) => {
        handoff(fd).then((taken) => {
          if (!taken) nativeSocket().close(fd)
        }, () => nativeSocket().close(fd))
      },
      onAcceptError: (code, pauseMs) => {
        this.acceptErrors?.inc()
        this.log.warn({ listener: this.listenerName, code, pause_ms: pauseMs }, 'accept failed: pausing accept on this listener')
      },
    })
    return Promise.resolve()
  }

  private listenPipe(path: string, handoff: Handoff): Promise<void> {
    try {
      if (fs.statSync(path).isSocket()) fs.unlinkSync(path)
    } catch {
      // Nothing there yet.
    }
    const server = this.acceptor = this.acceptorServer(handoff)
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => {
        server.off('error', reject)
        resolve()
      })
    })
  }

  private acceptorServer(handoff: Handoff): net.Server {
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
      const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
      if (fd === undefined || fd < 0) {
        socket.destroy()
        return
      }
      let copy: number
      try {
        copy = nativeSocket().dup(fd)
      } catch (err) {
        this.log.error({ listener: this.listenerName, err }, 'cannot hand over an accepted connection')
        socket.destroy()
        return
      }
      // Main's descriptor closes; the worker's copy keeps the connection open.
      socket.destroy()
      handoff(copy).then((taken) => {
        if (!taken) nativeSocket().close(copy)
      }, () => nativeSocket().close(copy))
    })
    server.on('error', (err) => this.log.error({ listener: this.listenerName, err }, 'acceptor error'))
    return server
  }
}
