import type { AccessLog } from '../protobuf/generated/envoy/config/accesslog/v3.js'
import {
  ACCESS_LOGGERS, type AccessLogFactoryContext, type AccessLogInstance, type AccessLogInstanceFactory,
} from '../../envoy/access-log/access-log.js'
import type { Registry } from '../../envoy/registry/registry.js'
import type { AccessLogType, StreamInfo } from '../../envoy/stream-info/stream-info.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { type AccessLogFilterOptions, type CompiledAccessLogFilter, compileAccessLogFilter } from './access-log-filter.js'
import { emptyConfigOf } from '../protobuf/empty-config.js'

/**
 * One configured access log: its filter, then its logger. Logging is data plane, so nothing
 * thrown by a logger escapes `log()`.
 */
class FilteredAccessLog implements AccessLogInstance {
  private readonly inner: AccessLogInstance
  private readonly filter: CompiledAccessLogFilter | undefined
  private readonly ctx: AccessLogFactoryContext

  constructor(inner: AccessLogInstance, filter: CompiledAccessLogFilter | undefined, ctx: AccessLogFactoryContext) {
    this.inner = inner
    this.filter = filter
    this.ctx = ctx
  }

  log(info: StreamInfo, type: AccessLogType): void {
    try {
      if (this.filter !== undefined && !this.filter(info, type)) return
      this.inner.log(info, type)
    } catch (err) {
      this.ctx.log.debug({ err: (err as Error).message }, 'access log failed')
    }
  }
}

function errorCode(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : undefined
}

/**
 * Builds the access logs of a config (`access_log: [...]`): each entry's filter plus the logger
 * its `typed_config` names (looked up by `@type`, then by name). Throws one ConfigError naming
 * `path` with every problem found: EXTENSION_UNKNOWN for an unknown logger, otherwise the
 * logger's or filter's own code.
 */
export function createAccessLogs(
  configs: readonly AccessLog[],
  path: string,
  registry: Registry,
  ctx: AccessLogFactoryContext,
  filterOptions: AccessLogFilterOptions = {},
): AccessLogInstance[] {
  const category = registry.category<AccessLogInstanceFactory>(ACCESS_LOGGERS)
  const out: AccessLogInstance[] = []
  const errors: string[] = []
  let code: string | undefined
  const fail = (c: string, messages: readonly string[]): void => {
    code ??= c
    errors.push(...messages)
  }
  configs.forEach((config, i) => {
    const at = `${path}[${i}]`
    const typeUrl = config.typed_config?.['@type']
    const factory = category.lookup(config.name, typeUrl)
    if (factory === undefined) {
      const type = typeUrl === undefined ? '' : ` with type URL: '${typeUrl}'`
      fail(ErrorCode.EXTENSION_UNKNOWN, [`${at}: Didn't find a registered implementation for name: '${config.name}'${type}`])
      return
    }
    try {
      const filter = config.filter === undefined ? undefined : compileAccessLogFilter(config.filter, `${at}.filter`, filterOptions)
      const instance = factory.createAccessLogInstance(config.typed_config ?? emptyConfigOf(factory.configType, `${at}.typed_config`), ctx)
      out.push(new FilteredAccessLog(instance, filter, ctx))
    } catch (err) {
      const c = errorCode(err)
      if (c === undefined) throw err
      // Loggers name fields relative to their typed_config; filters already carry the full path.
      const list = (err as { errors?: unknown }).errors
      const messages = Array.isArray(list) ? (list as string[]) : [(err as Error).message]
      fail(c, messages.map((m) => (m.startsWith(at) ? m : `${at}.typed_config.${m}`)))
    }
  })
  if (errors.length > 0) throw new ConfigError(code ?? ErrorCode.CONFIG_INVALID, errors)
  return out
}
