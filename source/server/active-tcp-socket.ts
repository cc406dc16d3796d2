import type { SocketLike } from '../common/network/connection-impl.js'
import { BufferImpl } from '../common/buffer/buffer-impl.js'
import type { Address } from '../envoy/network/address.js'
import { FilterStatus } from '../envoy/network/filter.js'
import type { ListenerFilter, ListenerFilterCallbacks } from '../envoy/network/listener-filter.js'
import { startTimer } from '../common/event/timer-impl.js'
import type { Timer } from '../envoy/event/timer.js'

/** What the listener filters decided for an accepted socket. */
export interface ListenerFilterResult {
  localAddress: Address
  remoteAddress: Address
  /** Bytes read by the filters and not consumed: the connection's first read. */
  data: BufferImpl
  dynamicMetadata: Record<string, Record<string, unknown>>
  /** Set when the filters timed out and `continue_on_listener_filters_timeout` let it through. */
  timedOut?: boolean
}

/**
 * An accepted socket while its listener filters run (Envoy's ActiveTcpSocket): reads only as
 * much as the filters ask for, under `listener_filters_timeout`, then hands over what is left.
 */
export class ActiveTcpSocket implements ListenerFilterCallbacks {
  localAddress: Address
  remoteAddress: Address
  readonly directRemoteAddress: Address
  private readonly socket: SocketLike
  private readonly filters: ListenerFilter[]
  private readonly buffer = new BufferImpl()
  private readonly metadata: Record<string, Record<string, unknown>> = {}
  private index = 0
  private waitingForData = false
  private done = false
  private timer: Timer | undefined
  private readonly onDone: (r: ListenerFilterResult | { error: 'filter' | 'timeout' | 'remote_close' }) => void
  private readonly onData = (chunk: Buffer): void => this.receive(chunk)
  private readonly onEnd = (): void => this.finish({ error: 'remote_close' })

  constructor(socket: SocketLike, local: Address, remote: Address, filters: ListenerFilter[], timeoutMs: number,
    continueOnTimeout: boolean, onDone: ActiveTcpSocket['onDone']) {
    this.socket = socket
    this.localAddress = local
    this.remoteAddress = remote
    this.directRemoteAddress = remote
    this.filters = filters
    this.onDone = onDone
    if (timeoutMs > 0) {
      this.timer = startTimer(timeoutMs, () => (continueOnTimeout ? this.succeed(true) : this.finish({ error: 'timeout' })))
    }
  }

  start(): void {
    this.runFilters()
  }

  // Network.ListenerFilterCallbacks

  restoreLocalAddress(a: Address): void {
    this.localAddress = a
  }

  setRemoteAddress(a: Address): void {
    this.remoteAddress = a
  }

  setDynamicMetadata(namespace: string, value: Record<string, unknown>): void {
    this.metadata[namespace] = { ...(this.metadata[namespace] ?? {}), ...value }
  }

  continueFilterChain(success: boolean): void {
    if (!success) {
      this.finish({ error: 'filter' })
      return
    }
    this.index++
    this.runFilters()
  }

  private runFilters(): void {
    while (!this.done && this.index < this.filters.length) {
      const f = this.filters[this.index]!
      if (!this.waitingForData) {
        const status = f.onAccept(this)
        if (this.done) return
        if (status === FilterStatus.StopIteration && f.maxReadBytes() === 0) return
        if (f.maxReadBytes() > 0) {
          this.waitingForData = true
          if (this.buffer.length === 0) {
            this.listen()
            return
          }
        } else {
          this.index++
          continue
        }
      }
      // A reading filter looks at what has arrived; it continues by returning Continue.
      const before = this.index
      const status = f.onData(this.buffer)
      if (this.done) return
      if (this.index !== before) continue
      if (status === FilterStatus.Continue) {
        this.waitingForData = false
        this.index++
        continue
      }
      this.listen()
      return
    }
    if (!this.done) this.succeed()
  }

  private listen(): void {
    if (this.socket.listenerCount('data') === 0) {
      this.socket.on('data', this.onData)
      this.socket.on('end', this.onEnd)
      // The listener paused the socket on accept; a 'data' listener alone does not restart an
      // explicitly paused stream.
      this.socket.resume()
    }
  }

  private receive(chunk: Buffer): void {
    this.buffer.add(chunk)
    this.runFilters()
  }

  private succeed(timedOut = false): void {
    this.finish({ localAddress: this.localAddress, remoteAddress: this.remoteAddress, data: this.buffer, dynamicMetadata: this.metadata, timedOut })
  }

  private finish(r: Parameters<ActiveTcpSocket['onDone']>[0]): void {
    if (this.done) return
    this.done = true
    this.timer?.disableTimer()
    this.socket.off('data', this.onData)
    this.socket.off('end', this.onEnd)
    // Stop the flow the 'data' listener started; the connection resumes it.
    this.socket.pause()
    if ('error' in r) this.filters[this.index]?.onClose?.()
    this.onDone(r)
  }
}
