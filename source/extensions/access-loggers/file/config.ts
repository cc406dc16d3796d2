import type { FileAccessLog as FileAccessLogConfig } from '../../../common/protobuf/generated/envoy/extensions/access_loggers/file/v3.js'
import {
  ACCESS_LOGGERS, type AccessLogFactoryContext, type AccessLogFile, type AccessLogInstance, type AccessLogInstanceFactory,
} from '../../../envoy/access-log/access-log.js'
import type { Registry } from '../../../envoy/registry/registry.js'
import type { AccessLogType, StreamInfo } from '../../../envoy/stream-info/stream-info.js'
import { ErrorCode } from '../../../common/errors/codes.js'
import { ConfigError } from '../../../common/errors/envoy-ts-error.js'
import { createFormatter, createJsonFormatter, createTextFormatter } from '../../../common/formatter/json-formatter.js'
import type { Formatter } from '../../../common/formatter/substitution-formatter.js'

/** Formats each entry and appends it to a file of the thread's AccessLogManager. */
export class FileAccessLog implements AccessLogInstance {
  private readonly file: AccessLogFile
  private readonly formatter: Formatter

  constructor(file: AccessLogFile, formatter: Formatter) {
    this.file = file
    this.formatter = formatter
  }

  // AccessLog.Instance
  log(info: StreamInfo, type: AccessLogType): void {
    this.file.write(this.formatter.format(info, type))
  }
}

/** The formatter of a FileAccessLog: `log_format`, one of the deprecated fields, or the default. */
function fileFormatter(c: FileAccessLogConfig): Formatter {
  if (c.log_format !== undefined) return createFormatter(c.log_format, 'log_format')
  if (c.format !== undefined && c.format !== '') return createTextFormatter(c.format, 'format')
  if (c.json_format !== undefined) return createJsonFormatter(c.json_format, 'json_format', { preserveTypes: false })
  if (c.typed_json_format !== undefined) return createJsonFormatter(c.typed_json_format, 'typed_json_format', { preserveTypes: true })
  return createFormatter(undefined, 'log_format')
}

/**
 * Opens `path` through the manager (one writer per path and thread) and wraps it. Errors name
 * fields relative to `typed_config`; createAccessLogs adds the rest of the path.
 */
export function createFileAccessLog(path: string, formatter: Formatter, ctx: AccessLogFactoryContext): FileAccessLog {
  let file: AccessLogFile
  try {
    file = ctx.accessLogManager.createAccessLogFile(path)
  } catch (err) {
    throw new ConfigError(ErrorCode.CONFIG_INVALID, [`path: ${(err as Error).message}`])
  }
  return new FileAccessLog(file, formatter)
}

export const fileAccessLogFactory: AccessLogInstanceFactory = {
  name: 'envoy.access_loggers.file',
  configType: 'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  createAccessLogInstance(config, ctx) {
    const c = config as FileAccessLogConfig
    if (typeof c.path !== 'string' || c.path === '') {
      throw new ConfigError(ErrorCode.CONFIG_INVALID, ['path: value length must be at least 1 characters'])
    }
    return createFileAccessLog(c.path, fileFormatter(c), ctx)
  },
}

export function setup(r: Registry): void {
  r.category<AccessLogInstanceFactory>(ACCESS_LOGGERS).register(fileAccessLogFactory)
}
