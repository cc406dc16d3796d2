import type { Registry } from '../envoy/registry/registry.js'
import { setup as setupFileAccessLog } from './access-loggers/file/config.js'
import { setup as setupStreamAccessLogs } from './access-loggers/stream/config.js'
import { setup as setupBuffer } from './filters/http/buffer/config.js'
import { setup as setupCors } from './filters/http/cors/config.js'
import { setup as setupDaprApi } from './filters/http/dapr-api/config.js'
import { setup as setupFault } from './filters/http/fault/config.js'
import { setup as setupHealthCheck } from './filters/http/health-check/config.js'
import { setup as setupHttpLocalRateLimit } from './filters/http/local-ratelimit/config.js'
import { setup as setupRouter } from './filters/http/router/config.js'
import { setup as setupProxyProtocol } from './filters/listener/proxy-protocol/config.js'
import { setup as setupConnectionLimit } from './filters/network/connection-limit/config.js'
import { setup as setupEcho } from './filters/network/echo/config.js'
import { setup as setupHttpConnectionManager } from './filters/network/http-connection-manager/config.js'
import { setup as setupNetworkLocalRateLimit } from './filters/network/local-ratelimit/config.js'
import { setup as setupTcpProxy } from './filters/network/tcp-proxy/config.js'
import { setup as setupDownstreamConnectionsMonitor } from './resource-monitors/downstream-connections/config.js'
// Runtime API: the filter and its embedded components.
import { setup as setupRuntimeApi } from './filters/network/runtime-api/config.js'
import { setup as setupBindingsHttp } from './runtime/bindings/http/config.js'
import { setup as setupConfigurationInMemory } from './runtime/configuration/in-memory/config.js'
import { setup as setupFileLocal } from './runtime/file/local/config.js'
import { setup as setupLockInMemory } from './runtime/lock/in-memory/config.js'
import { setup as setupPubSubInMemory } from './runtime/pubsub/in-memory/config.js'
import { setup as setupSecretStoreLocalEnv } from './runtime/secretstores/local-env/config.js'
import { setup as setupSecretStoreLocalFile } from './runtime/secretstores/local-file/config.js'
import { setup as setupSequencerInMemory } from './runtime/sequencer/in-memory/config.js'
import { setup as setupStateInMemory } from './runtime/state/in-memory/config.js'
// Runtime API: Redis-backed components (one client per component per thread).
import { setup as setupConfigurationRedis } from './runtime/configuration/redis/config.js'
import { setup as setupLockRedis } from './runtime/lock/redis/config.js'
import { setup as setupPubSubRedis } from './runtime/pubsub/redis/config.js'
import { setup as setupSequencerRedis } from './runtime/sequencer/redis/config.js'
import { setup as setupStateRedis } from './runtime/state/redis/config.js'

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
  setupEcho,
  setupConnectionLimit,
  setupNetworkLocalRateLimit,
  setupProxyProtocol,
  setupHttpConnectionManager,
  setupRouter,
  setupHealthCheck,
  setupCors,
  setupFault,
  setupHttpLocalRateLimit,
  setupBuffer,
  setupDaprApi,
  setupDownstreamConnectionsMonitor,
  // Runtime API
  setupRuntimeApi,
  setupStateInMemory,
  setupPubSubInMemory,
  setupLockInMemory,
  setupSequencerInMemory,
  setupConfigurationInMemory,
  setupSecretStoreLocalFile,
  setupSecretStoreLocalEnv,
  setupFileLocal,
  setupBindingsHttp,
  setupStateRedis,
  setupPubSubRedis,
  setupLockRedis,
  setupSequencerRedis,
  setupConfigurationRedis,
]
