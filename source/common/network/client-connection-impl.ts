import net from 'node:net'
import type { Logger } from 'pino'
import type { Address } from '../../envoy/network/address.js'
import type { ClientConnection } from '../../envoy/network/client-connection.js'
import { StreamInfoImpl } from '../stream-info/stream-info-impl.js'
import { ConnectionImpl, newConnectionId } from './connection-impl.js'
import { startTimer } from '../event/timer-impl.js'
import type { Timer } from '../../envoy/event/timer.js'

export interface ClientConnectionOptions {
  remote: Address
  connectTimeoutMs: number
  bufferLimit?: number
  log: Logger
}

function unspecifiedLocal(remote: Address): Address {
  return remote.kind === 'ip' ? { kind: 'ip', ip: remote.family === 6 ? '::' : '0.0.0.0', port: 0, family: remote.family } : remote
}

/** A connection to an upstream host (Envoy's ClientConnectionImpl). */
export class ClientConnectionImpl extends ConnectionImpl implements ClientConnection {
  private readonly remote: Address
  private readonly tcp: net.Socket
  private readonly connectTimeoutMs: number
  private failure: string | undefined
  private timer: Timer | undefined

  constructor(o: ClientConnectionOptions) {
    const socket = new net.Socket({ allowHalfOpen: true })
    const id = newConnectionId()
    super({
      id,
      socket,
      localAddress: unspecifiedLocal(o.remote),
      remoteAddress: o.remote,
      streamInfo: new StreamInfoImpl({ downstreamLocalAddress: '', downstreamRemoteAddress: '', connectionId: id }),
      log: o.log,
      ...(o.bufferLimit !== undefined ? { bufferLimit: o.bufferLimit } : {}),
    })
    this.remote = o.remote
    this.tcp = socket
    this.connectTimeoutMs = o.connectTimeoutMs
  }

  connect(): void {
    this.connecting = true
    if (this.connectTimeoutMs > 0) {
      this.timer = startTimer(this.connectTimeoutMs, () => {
        this.failure = 'connect timeout'
        this.close('NoFlush')
      })
    }
    this.socket.once('connect', () => {
      this.connecting = false
      this.timer?.disableTimer()
      this.socket.setNoDelay(true)
      this.raiseEvent('Connected')
    })
    this.socket.once('error', (err: NodeJS.ErrnoException) => {
      if (this.connecting) this.failure = err.code === 'ECONNREFUSED' ? 'connection refused' : err.message
    })
    this.socket.once('close', () => {
      this.timer?.disableTimer()
    })
    const r = this.remote
    if (r.kind === 'ip') this.tcp.connect({ host: r.ip, port: r.port, family: r.family })
    else if (r.kind === 'pipe') this.tcp.connect({ path: r.path })
    else throw new Error('internal addresses are connected through the internal listener registry')
  }

  connectFailureReason(): string | undefined {
    return this.failure
  }

  /** The local address once connected (`%UPSTREAM_LOCAL_ADDRESS%`). */
  boundLocalAddress(): string | undefined {
    const a = this.tcp.localAddress
    if (a === undefined) return undefined
    return a.includes(':') ? `[${a}]:${this.tcp.localPort}` : `${a}:${this.tcp.localPort}`
  }
}
