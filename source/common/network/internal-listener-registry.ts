import type { Logger } from 'pino'
import type { Address } from '../../envoy/network/address.js'
import type { ClientConnection } from '../../envoy/network/client-connection.js'
import { StreamInfoImpl } from '../stream-info/stream-info-impl.js'
import { ConnectionImpl, newConnectionId } from './connection-impl.js'
import { InternalSocket } from './internal-socket.js'

/** Accepts the server end of an in-process connection. */
export type InternalAcceptor = (socket: InternalSocket, local: Address, remote: Address) => void

/** A client connection over an in-process socket pair; connecting cannot fail. */
class InternalClientConnection extends ConnectionImpl implements ClientConnection {
  connect(): void {
    queueMicrotask(() => {
      if (this.state() === 'Open') this.raiseEvent('Connected')
    })
  }

  connectFailureReason(): string | undefined {
    return undefined
  }
}

let nextEndpoint = 1

/**
 * A worker's internal listeners (Envoy's internal_listener registry): listeners without a
 * socket, reached by name from inside the process (service invocation, internal upstreams).
 * Worker thread only; each worker has its own.
 */
export class InternalListenerRegistry {
  private readonly listeners = new Map<string, InternalAcceptor>()
  private readonly log: Logger

  constructor(log: Logger) {
    this.log = log
  }

  register(name: string, acceptor: InternalAcceptor): void {
    this.listeners.set(name, acceptor)
  }

  unregister(name: string): void {
    this.listeners.delete(name)
  }

  has(name: string): boolean {
    return this.listeners.has(name)
  }

  /**
   * Opens a connection to internal listener `name`; undefined when there is none (or it is
   * stopped). The caller owns the returned connection and calls `connect()`.
   */
  connect(name: string, bufferLimit?: number): ClientConnection | undefined {
    const accept = this.listeners.get(name)
    if (accept === undefined) return undefined
    const endpoint = String(nextEndpoint++)
    const [client, server] = InternalSocket.pair(`internal client ${endpoint}`, `internal listener ${name}`)
    const serverAddress: Address = { kind: 'internal', listenerName: name, endpointId: '' }
    const clientAddress: Address = { kind: 'internal', listenerName: name, endpointId: endpoint }
    const id = newConnectionId()
    const conn = new InternalClientConnection({
      id,
      socket: client,
      localAddress: clientAddress,
      remoteAddress: serverAddress,
      streamInfo: new StreamInfoImpl({ downstreamLocalAddress: '', downstreamRemoteAddress: '', connectionId: id }),
      log: this.log,
      ...(bufferLimit !== undefined ? { bufferLimit } : {}),
    })
    accept(server, serverAddress, clientAddress)
    return conn
  }
}
