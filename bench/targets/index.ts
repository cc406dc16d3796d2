import { direct } from './direct.js'
import { envoy } from './envoy.js'
import { envoyTs } from './envoy-ts.js'
import { haproxy } from './haproxy.js'
import { nginx } from './nginx.js'
import { nodeNetPipe } from './node-net-pipe.js'
import { nodeHttpProxy, nodeUndici } from './node-peers.js'
import type { Target } from './types.js'

/** Every target by name, in table order. */
export const TARGETS: readonly Target[] = [direct, envoyTs, nginx, haproxy, nodeUndici, nodeHttpProxy, nodeNetPipe, envoy]

/** The rows of every table besides the peers: the limit, and what is measured. */
export const BASE_TARGETS: readonly string[] = ['direct', 'envoy-ts']

/** `--peers all`: every peer (those not installed are skipped, with the install command). */
export const ALL_PEERS: readonly string[] = ['nginx', 'haproxy', 'node-undici', 'node-http-proxy', 'node-net-pipe', 'envoy']

/** The default peers: all but the real Envoy, which is rarely installed. */
export const DEFAULT_PEERS: readonly string[] = ['nginx', 'haproxy', 'node-undici', 'node-http-proxy', 'node-net-pipe']

export const DEFAULT_TARGETS: readonly string[] = [...BASE_TARGETS, ...DEFAULT_PEERS]

export function findTarget(name: string): Target | undefined {
  return TARGETS.find((t) => t.name === name)
}
