import type { Logger } from 'pino'
import type { TypedFactory } from '../registry/registry.js'
import type { AccessLogType, StreamInfo } from '../stream-info/stream-info.js'

/**
 * Access logging (Envoy's AccessLog::Instance). An instance is built once per config on the
 * thread that logs (main for admin, each worker for listeners and HCMs) and called at the end
 * of each request or connection, on that thread.
 */
export interface AccessLogInstance {
  log(info: StreamInfo, type: AccessLogType): void
}

/** A file opened through the AccessLogManager: buffered, flushed on an interval, reopenable. */
export interface AccessLogFile {
  /** Appends one already formatted entry (including its newline). Never blocks. */
  write(entry: string): void
}

/**
 * Owns this thread's access log files: one writer per path, flushed every
 * `--file-flush-interval-msec` or when its buffer fills, reopened on SIGUSR1.
 */
export interface AccessLogManager {
  /** `/dev/stdout` and `/dev/stderr` map to the process's streams. */
  createAccessLogFile(path: string): AccessLogFile
  reopen(): void
  flush(): void
}

export interface AccessLogFactoryContext {
  readonly accessLogManager: AccessLogManager
  readonly log: Logger
}

/** An access logger extension (`envoy.access_loggers.file`, `envoy.access_loggers.stdout`, ...). */
export interface AccessLogInstanceFactory extends TypedFactory {
  /** `config` is the validated `typed_config` of the logger's `@type`. */
  createAccessLogInstance(config: unknown, ctx: AccessLogFactoryContext): AccessLogInstance
}

/** Registry category name for access loggers. */
export const ACCESS_LOGGERS = 'access logger'
