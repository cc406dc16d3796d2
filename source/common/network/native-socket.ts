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
}

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
