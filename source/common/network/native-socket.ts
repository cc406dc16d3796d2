import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/**
 * The native socket helpers (source/common/network/native/listen-socket.c), built by node-gyp
 * when the package is installed. Node's `net` cannot bind without listening, listen without
 * polling, duplicate a descriptor, or set SO_REUSEPORT on Node 20; envoy-ts needs all of them to
 * share listen sockets between worker threads safely: main owns and listens on each socket (its
 * accept queue outlives any worker), each thread accepts on, and closes, its own descriptor.
 */
export interface NativeSocket {
  createListenSocket(ip: string, port: number, family: 4 | 6, reusePort: boolean): number
  /** listen(2) on a bound socket: connections queue in the kernel from then on. */
  listen(fd: number, backlog: number): void
  dup(fd: number): number
  close(fd: number): void
  localAddress(fd: number): { address: string; port: number }
  /**
   * Raises the soft RLIMIT_NOFILE to the hard limit. `before` is the soft limit found; -1 means
   * unlimited. Node itself raises it when it starts, so `before` usually equals `soft` already.
   */
  raiseFileLimit(): { before: number; soft: number; hard: number }
  /**
   * Calls listen(fd, backlog) and accepts on this thread's loop (see native/acceptor.c).
   * `callback(fd)` for each connection (the caller owns fd), `callback(-1, code)` on an accept
   * error, after which the acceptor is paused until `acceptorResume`. The acceptor owns `fd`.
   */
  acceptorStart(fd: number, backlog: number, callback: (fd: number, error?: string) => void): NativeAcceptorHandle
  acceptorPause(handle: NativeAcceptorHandle): void
  acceptorResume(handle: NativeAcceptorHandle): void
  /** Stops accepting and closes the listen descriptor. */
  acceptorClose(handle: NativeAcceptorHandle): void
}

/** An opaque acceptor created by `acceptorStart`. */
export type NativeAcceptorHandle = { readonly __nativeAcceptor: unique symbol }

const ADDON = fileURLToPath(new URL('../../../../source/common/network/native/build/Release/envoy_ts_net.node', import.meta.url))

let loaded: NativeSocket | undefined

export function nativeSocket(): NativeSocket {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)(ADDON) as NativeSocket
    } catch (err) {
      throw new Error(`the native socket addon is missing (${ADDON}): run \`npm run build:native\` (npm ci does it): ${(err as Error).message}`)
    }
  }
  return loaded
}
