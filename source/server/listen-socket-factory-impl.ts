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
 * socket per worker, the kernel balances; `handoff`: main accepts and hands each connection to
 * the least loaded worker (exact_balance, and unix-socket listeners).
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
  private fd = -1
  private acceptor: net.Server | undefined
  /** Handoff mode on an IP address: main accepts with the native acceptor (see below). */
  private tcpAcceptor: TcpAcceptor | undefined
  private readonly log: Logger
  private readonly acceptErrors: Counter | undefined

  /** `acceptErrors`: the listener's `downstream_cx_accept_error`, for main's own accepts. */
  constructor(listenerName: string, address: Address, mode: SocketMode, log: Logger, acceptErrors?: Counter) {
    this.listenerName = listenerName
    this.configured = address
    this.mode = address.kind === 'pipe' ? 'handoff' : mode
    this.log = log
    this.acceptErrors = acceptErrors
  }

  /** The address as bound (the real port when 0 was configured). */
  address(): Address {
    return this.bound ?? this.configured
  }

  /** Binds (without listening, except in handoff mode). Throws ETS_ERR_LISTENER_BIND. */
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
    } catch (err) {
      const e = err as { code?: string; message: string }
      throw new EnvoyTsError(ErrorCode.LISTENER_BIND,
        `cannot bind listener '${this.listenerName}' to ${addressToString(a)}: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}`)
    }
  }

  /** This worker's way in. Each call makes a new descriptor that the worker then owns. */
  socketForWorker(): WorkerSocket {
    if (this.mode === 'handoff') return { kind: 'handoff' }
    const native = nativeSocket()
    if (this.mode === 'shared') return { kind: 'fd', fd: native.dup(this.fd) }
    const a = this.address()
    if (a.kind !== 'ip') throw new Error('reuse_port needs an IP address')
    // Main's own socket holds the port (bound, never listening); each worker gets a sibling.
    return { kind: 'fd', fd: native.createListenSocket(a.ip, a.port, a.family, true) }
  }

  /** Stops main's part in accepting: closes the acceptor and main's descriptor. */
  async close(): Promise<void> {
    const tcpAcceptor = this.tcpAcceptor
    const acceptor = this.acceptor
    this.tcpAcceptor = undefined
    this.acceptor = undefined
    // The native acceptor owns main's descriptor and closes it; net.Server closes its own.
    if (tcpAcceptor !== undefined) tcpAcceptor.close()
    else if (acceptor !== undefined) await new Promise<void>((resolve) => acceptor.close(() => resolve()))
    else if (this.fd >= 0) nativeSocket().close(this.fd)
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
