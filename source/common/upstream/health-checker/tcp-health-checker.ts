/**
 * `tcp_health_check` (Envoy's TcpHealthCheckerImpl). Without `receive`, a successful connect
 * passes (and the connection is closed). With it, `send` is written on every check and the check
 * passes once the bytes read so far contain every `receive` block in order; until then it waits
 * (a mismatch is only known when the timeout fires). A close before that is a NETWORK failure.
 * With `reuse_connection` (the default) the connection stays open between checks. A host that
 * closes it between checks (an idle timeout) costs nothing: the next check connects again. A
 * close during a check on a reused connection before any byte of the answer is taken for the
 * same idle close crossing our `send`, and the check is sent once more on a fresh connection.
 */
import net from 'node:net'
import type { HealthCheck } from '../../protobuf/generated/envoy/config/core/v3.js'
import type { ClusterHost } from '../cluster-host.js'
import { ActiveHealthCheckSession, HealthCheckerImplBase, type HealthCheckerContext } from './health-checker-base.js'
import { loadPayloadBytes, payloadMatches } from './payload.js'

/** Bytes kept while waiting for `receive` to match; past this the check just waits for its timeout. */
const MAX_RECEIVE_BUFFER = 64 * 1024

export class TcpHealthCheckerImpl extends HealthCheckerImplBase {
  readonly type = 'TCP' as const
  readonly send: Buffer
  readonly receive: Buffer[]

  constructor(config: HealthCheck, ctx: HealthCheckerContext) {
    super(config, ctx)
    const tcp = config.tcp_health_check!
    this.send = Buffer.concat(loadPayloadBytes(tcp.send === undefined ? [] : [tcp.send]).bytes)
    this.receive = loadPayloadBytes(tcp.receive).bytes
  }

  protected makeSession(host: ClusterHost): ActiveHealthCheckSession {
    return new TcpActiveHealthCheckSession(this, host)
  }
}

class TcpActiveHealthCheckSession extends ActiveHealthCheckSession {
  private readonly checker: TcpHealthCheckerImpl
  private socket: net.Socket | undefined
  private received: Buffer[] = []
  private receivedBytes = 0
  /** Closing on purpose: the close is not a failure. */
  private expectClose = false
  /** Checks passed on the current connection (more than 0: it is being reused). */
  private passedOnSocket = 0
  /** This check was already sent again after its reused connection closed. */
  private resent = false

  constructor(parent: TcpHealthCheckerImpl, host: ClusterHost) {
    super(parent, host)
    this.checker = parent
  }

  protected onInterval(): void {
    this.resent = false
    this.send()
  }

  private send(): void {
    if (this.socket === undefined) this.connect()
    if (this.checker.send.length > 0) this.socket!.write(this.checker.send)
  }

  protected onTimeout(): void {
    this.close()
  }

  protected onDestroy(): void {
    this.close()
  }

  private connect(): void {
    const t = this.host.healthCheckTarget()
    const socket = t.family === 0 ? net.connect({ path: t.ip }) : net.connect({ host: t.ip, port: t.port, family: t.family })
    socket.setNoDelay(true)
    this.socket = socket
    this.expectClose = false
    this.passedOnSocket = 0
    this.received = []
    this.receivedBytes = 0
    socket.on('connect', () => {
      if (this.socket !== socket || this.checker.receive.length > 0) return
      // A connect-only check: connected is healthy; close it.
      this.close()
      this.handleSuccess(false)
    })
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      if (this.socket !== socket) return
      this.socket = undefined
      // Between checks the host may close an idle connection: the next check opens a new one.
      if (this.expectClose || this.destroyed || !this.checkInFlight) return
      if (this.passedOnSocket > 0 && this.receivedBytes === 0 && !this.resent) {
        this.resent = true
        this.send()
        return
      }
      this.handleFailure('NETWORK')
    })
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (this.socket !== socket || this.receivedBytes > MAX_RECEIVE_BUFFER) return
    this.received.push(chunk)
    this.receivedBytes += chunk.length
    const data = this.received.length === 1 ? chunk : Buffer.concat(this.received, this.receivedBytes)
    this.received = [data]
    if (!payloadMatches(this.checker.receive, data)) return
    this.received = []
    this.receivedBytes = 0
    this.passedOnSocket++
    if (!this.checker.reuseConnection) this.close()
    this.handleSuccess(false)
  }

  private close(): void {
    const socket = this.socket
    if (socket === undefined) return
    this.expectClose = true
    this.socket = undefined
    socket.destroy()
  }
}
