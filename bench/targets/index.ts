import { direct } from './direct.js'
import { envoy } from './envoy.js'
import { envoyTs } from './envoy-ts.js'
import { nodeNetPipe } from './node-net-pipe.js'
import type { Target } from './types.js'

/** Every target by name, in table order. */
export const TARGETS: readonly Target[] = [direct, nodeNetPipe, envoyTs, envoy]

export const DEFAULT_TARGETS: readonly string[] = ['direct', 'node-net-pipe', 'envoy-ts']

export function findTarget(name: string): Target | undefined {
  return TARGETS.find((t) => t.name === name)
}
