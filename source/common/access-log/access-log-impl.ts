import type { AccessLog } from '../protobuf/generated/envoy/config/accesslog/v3.js'
import type { AccessLogFactoryContext, AccessLogInstance } from '../../envoy/access-log/access-log.js'
import type { Registry } from '../../envoy/registry/registry.js'

/**
 * Builds the access logs of a config (`access_log: [...]`): each entry's filter plus the logger
 * its `typed_config` names. Throws ConfigError naming `path` for an unknown logger.
 */
export function createAccessLogs(configs: readonly AccessLog[], _path: string, _registry: Registry, _ctx: AccessLogFactoryContext): AccessLogInstance[] {
  if (configs.length > 0) throw new Error('access logs are not implemented yet')
  return []
}
