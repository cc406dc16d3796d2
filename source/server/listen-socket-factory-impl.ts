import fs from 'node:fs'
import net from 'node:net'
import type { Logger } from 'pino'
import { ErrorCode } from '../common/errors/codes.js'
import { EnvoyTsError } from '../common/errors/envoy-ts-error.js'
import { nativeSocket } from '../common/network/native-socket.js'
import { type Address, addressToString } from '../envoy/network/address.js'
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
  private readonly log: Logger

  constructor(listenerName: string, address: Address, mode: SocketMode, log: Logger) {
    this.listenerName = listenerName
    this.configured = address
    this.mode = address.kind === 'pipe' ? 'handoff' : mode
    this.log = log
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
    const acceptor = this.acceptor
    this.acceptor = undefined
    if (acceptor !== undefined) await new Promise<void>((resolve) => acceptor.close(() => resolve()))
    else if (this.fd >= 0) nativeSocket().close(this.fd)
    this.fd = -1
  }

  private listenHandoff(handoff: Handoff): Promise<void> {
    const server = this.acceptor = this.acceptorServer(handoff)
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ fd: this.fd, backlog: 511 }, () => {
        server.off('error', reject)
        resolve()
      })
    })
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
