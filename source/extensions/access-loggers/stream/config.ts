import type {
  StderrAccessLog, StdoutAccessLog,
} from '../../../common/protobuf/generated/envoy/extensions/access_loggers/stream/v3.js'
import { ACCESS_LOGGERS, type AccessLogInstanceFactory } from '../../../envoy/access-log/access-log.js'
import type { Registry } from '../../../envoy/registry/registry.js'
import { createFormatter } from '../../../common/formatter/json-formatter.js'
import { createFileAccessLog } from '../file/config.js'

/** Like Envoy, the stream loggers are file loggers on the process's stdout and stderr. */
export const stdoutAccessLogFactory: AccessLogInstanceFactory = {
  name: 'envoy.access_loggers.stdout',
  configType: 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  createAccessLogInstance(config, ctx) {
    const c = config as StdoutAccessLog
    return createFileAccessLog('/dev/stdout', createFormatter(c.log_format, 'log_format'), ctx)
  },
}

export const stderrAccessLogFactory: AccessLogInstanceFactory = {
  name: 'envoy.access_loggers.stderr',
  configType: 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
  createAccessLogInstance(config, ctx) {
    const c = config as StderrAccessLog
    return createFileAccessLog('/dev/stderr', createFormatter(c.log_format, 'log_format'), ctx)
  },
}

export function setup(r: Registry): void {
  const category = r.category<AccessLogInstanceFactory>(ACCESS_LOGGERS)
  category.register(stdoutAccessLogFactory)
  category.register(stderrAccessLogFactory)
}
