import type { Registry } from '../envoy/registry/registry.js'
import { setup as setupFileAccessLog } from './access-loggers/file/config.js'
import { setup as setupStreamAccessLogs } from './access-loggers/stream/config.js'
import { setup as setupTcpProxy } from './filters/network/tcp_proxy/config.js'

/**
 * Registers every built-in extension. Called once in main and once in each worker: each thread
 * has its own module graph, and registration is explicit (no import side effects).
 */
export function setupAllExtensions(registry: Registry): void {
  for (const setup of BUILT_INS) setup(registry)
}

const BUILT_INS: ReadonlyArray<(r: Registry) => void> = [
  setupFileAccessLog,
  setupStreamAccessLogs,
  setupTcpProxy,
]
