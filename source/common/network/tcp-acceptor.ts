import net from 'node:net'
import { type NativeAcceptorHandle, nativeSocket } from './native-socket.js'

/** Accept errors that mean "out of a resource": back off and try again. */
export const RESOURCE_ACCEPT_ERRORS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM'])

/** First pause after an accept error, and the most it grows to while errors persist. */
export const ACCEPT_BACKOFF_INITIAL_MS = 100
export const ACCEPT_BACKOFF_MAX_MS = 1000

/** What a TcpAcceptor reports to its owner (the listener on this thread). */
export interface TcpAcceptorCallbacks {
  /** A new connection's descriptor, non-blocking and close-on-exec; the callee owns it. */
  onAccept(fd: number): void
  /**
   * accept() failed with `code` (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...). Accepting is paused for
   * `pauseMs`; the connections waiting meanwhile stay in the kernel's queue.
   */
  onAcceptError(code: string, pauseMs: number): void
}

/**
 * Accepts on a listen descriptor with the native acceptor instead of net.Server, because
 * libuv's accept silently drops every pending connection when out of descriptors (its "EMFILE
 * trick"). Here an accept error pauses accepting for 100 ms, doubling up to 1 s while the error
 * persists, then resumes; a successful accept resets the pause. Never throws after start.
 */
export class TcpAcceptor {
  private handle: NativeAcceptorHandle | undefined
  private readonly callbacks: TcpAcceptorCallbacks
  private backoffMs = 0
  private resumeTimer: NodeJS.Timeout | undefined
  private held = false

  /** Listens on `fd` (which it then owns) and starts accepting. Throws on a bad descriptor. */
  constructor(fd: number, backlog: number, callbacks: TcpAcceptorCallbacks) {
    this.callbacks = callbacks
    this.handle = nativeSocket().acceptorStart(fd, backlog, (cfd, error) => this.onNative(cfd, error))
  }

  /**
   * Holds accepting while `held` (the overload manager's stop_accepting_connections): the
   * kernel keeps queueing connections up to the backlog. Releasing resumes unless an accept-error
   * pause is still running (its timer resumes then).
   */
  setHeld(held: boolean): void {
    if (held === this.held || this.handle === undefined) return
    this.held = held
    if (held) nativeSocket().acceptorPause(this.handle)
    else if (this.resumeTimer === undefined) nativeSocket().acceptorResume(this.handle)
  }

  /** Stops accepting for good and closes the listen descriptor. */
  close(): void {
    if (this.resumeTimer !== undefined) clearTimeout(this.resumeTimer)
    this.resumeTimer = undefined
    const h = this.handle
    this.handle = undefined
    if (h !== undefined) nativeSocket().acceptorClose(h)
  }

  private onNative(fd: number, error: string | undefined): void {
    if (error !== undefined || fd < 0) {
      this.backoffMs = this.backoffMs === 0 ? ACCEPT_BACKOFF_INITIAL_MS : Math.min(this.backoffMs * 2, ACCEPT_BACKOFF_MAX_MS)
      const pause = this.backoffMs
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = undefined
        if (this.handle !== undefined && !this.held) nativeSocket().acceptorResume(this.handle)
      }, pause)
      this.callbacks.onAcceptError(error ?? 'EIO', pause)
      return
    }
    this.backoffMs = 0
    this.callbacks.onAccept(fd)
  }
}

/**
 * Wraps an accepted descriptor in a net.Socket (half-open allowed, no Nagle). Undefined, with
 * the descriptor closed, when that fails (out of memory): the connection cannot be served.
 */
export function socketFromFd(fd: number): net.Socket | undefined {
  try {
    const socket = new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true })
    socket.setNoDelay(true)
    return socket
  } catch {
    try { nativeSocket().close(fd) } catch { /* already gone */ }
    return undefined
  }
}
