import fs from 'node:fs'
import type { Logger } from 'pino'
import type { AccessLogFile, AccessLogManager } from '../../envoy/access-log/access-log.js'
import { ErrorCode } from '../errors/codes.js'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { startTimer } from '../event/timer-impl.js'
import type { Timer } from '../../envoy/event/timer.js'

/** Envoy's `--file-flush-interval-msec` default. */
export const DEFAULT_FLUSH_INTERVAL_MS = 10000
/** A buffer this large is written at once instead of waiting for the interval. */
export const FLUSH_THRESHOLD_BYTES = 64 * 1024
/** Past this much unwritten data (writes failing or slow), new entries are dropped. */
export const MAX_BUFFER_BYTES = 1024 * 1024

export interface AccessLogManagerOptions {
  /** Called after each write reaches its file (tests, stats). */
  onFlush?: (path: string, bytes: number) => void
}

/** Counters of one manager, summed over its files. */
export interface AccessLogManagerStats {
  writeFailed: number
  writeDropped: number
  flushed: number
}

const STDIO: Record<string, number> = { '/dev/stdout': 1, '/dev/stderr': 2 }

/**
 * One path's writer. Entries are buffered as strings and written by one `write` call per
 * flush, on an O_APPEND fd, so lines from several threads or processes appending to the same
 * file never interleave mid-line.
 */
class AccessLogFileImpl implements AccessLogFile {
  readonly path: string
  private fd: number | undefined
  private readonly stdio: boolean
  private chunks: string[] = []
  private buffered = 0
  private bufferedEntries = 0
  private timer: Timer | undefined = undefined
  // An fs.write is in flight: its fd must not be closed, and the next write waits for it.
  private writing = false
  private flushAgain = false
  private reopenPending = false
  private failing = false
  private closed = false
  private readonly manager: AccessLogManagerImpl

  constructor(path: string, manager: AccessLogManagerImpl) {
    this.path = path
    this.manager = manager
    this.stdio = STDIO[path] !== undefined
    this.fd = this.stdio ? STDIO[path] : fs.openSync(path, 'a')
  }

  // AccessLogFile
  write(entry: string): void {
    if (this.closed) return
    if (this.buffered + entry.length > MAX_BUFFER_BYTES) {
      this.manager.stats.writeDropped++
      return
    }
    this.chunks.push(entry)
    this.buffered += entry.length
    this.bufferedEntries++
    // While writes fail, retry on the interval only, not on every entry.
    if (this.buffered >= FLUSH_THRESHOLD_BYTES && !this.failing) this.flushAsync()
    else this.armTimer()
  }

  /** Writes the buffer without blocking the loop (stdout and stderr are written in place). */
  flushAsync(): void {
    this.clearTimer()
    if (this.writing) {
      this.flushAgain = true
      return
    }
    if (this.buffered === 0 || !this.ensureOpen()) {
      this.armTimer()
      return
    }
    const [data, entries] = this.take()
    if (this.stdio) {
      this.writeSync(data, entries)
      this.armTimer()
      return
    }
    this.writing = true
    this.writeAll(this.fd!, data, 0, entries)
  }

  /**
   * Writes everything now, blocking (shutdown, tests). A background write still in flight
   * may land after this one; both stay whole lines.
   */
  flushSync(): void {
    this.clearTimer()
    if (this.buffered === 0 || !this.ensureOpen()) return
    const [data, entries] = this.take()
    this.writeSync(data, entries)
  }

  reopen(): void {
    if (this.stdio) return
    if (this.writing) {
      // Closing now could hand the fd number to another file while the write still uses it.
      this.reopenPending = true
      return
    }
    this.closeFd()
    this.ensureOpen()
  }

  close(): void {
    this.flushSync()
    this.clearTimer()
    this.closed = true
    // With a write in flight, its callback closes the fd.
    if (!this.writing) this.closeFd()
  }

  private take(): [Buffer, number] {
    const text = this.chunks.length === 1 ? this.chunks[0]! : this.chunks.join('')
    const entries = this.bufferedEntries
    this.chunks = []
    this.buffered = 0
    this.bufferedEntries = 0
    return [Buffer.from(text, 'utf8'), entries]
  }

  private writeAll(fd: number, data: Buffer, offset: number, entries: number): void {
    fs.write(fd, data, offset, data.length - offset, null, (err, written) => {
      if (err === null && offset + written < data.length) {
        this.writeAll(fd, data, offset + written, entries)
        return
      }
      this.writing = false
      if (err !== null) this.failed(err, data.subarray(offset), entries)
      else this.succeeded(data.length)
      if (this.closed) {
        this.closeFd()
        return
      }
      if (this.reopenPending) {
        this.reopenPending = false
        this.closeFd()
        this.ensureOpen()
      }
      const again = this.flushAgain || this.buffered >= FLUSH_THRESHOLD_BYTES
      this.flushAgain = false
      if (again && !this.failing) this.flushAsync()
      else this.armTimer()
    })
  }

  private writeSync(data: Buffer, entries: number): void {
    let offset = 0
    try {
      while (offset < data.length) offset += fs.writeSync(this.fd!, data, offset, data.length - offset)
      this.succeeded(data.length)
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException, data.subarray(offset), entries)
    }
  }

  private succeeded(bytes: number): void {
    this.failing = false
    this.manager.stats.flushed++
    this.manager.onFlush?.(this.path, bytes)
  }

  /**
   * Keeps unwritten data in front of the buffer for the next flush while the 1 MiB bound
   * allows; past it, drops and counts it. Logs once per outage, not once per entry.
   */
  private failed(err: NodeJS.ErrnoException, unwritten: Buffer, entries: number): void {
    this.manager.stats.writeFailed++
    if (!this.failing) {
      this.failing = true
      this.manager.log.error({ path: this.path, code: err.code, err: err.message }, 'access log write failed')
    }
    if (unwritten.length === 0) return
    if (unwritten.length + this.buffered <= MAX_BUFFER_BYTES) {
      this.chunks.unshift(unwritten.toString('utf8'))
      this.buffered += unwritten.length
      this.bufferedEntries += entries
    } else {
      this.manager.stats.writeDropped += entries
    }
  }

  private ensureOpen(): boolean {
    if (this.fd !== undefined) return true
    try {
      this.fd = fs.openSync(this.path, 'a')
      return true
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException, Buffer.alloc(0), 0)
      return false
    }
  }

  private closeFd(): void {
    if (this.fd === undefined || this.stdio) return
    try {
      fs.closeSync(this.fd)
    } catch {
      // Already gone; nothing to release.
    }
    this.fd = undefined
  }

  private armTimer(): void {
    if (this.timer !== undefined || this.buffered === 0) return
    this.timer = startTimer(this.manager.flushIntervalMs, () => {
      this.timer = undefined
      this.flushAsync()
    }).unref()
  }

  private clearTimer(): void {
    this.timer?.disableTimer()
    this.timer = undefined
  }
}

/**
 * This thread's access log files (Envoy's AccessLogManagerImpl). Each thread has its own
 * manager; threads that log to the same path each append whole flushes to it.
 */
export class AccessLogManagerImpl implements AccessLogManager {
  readonly flushIntervalMs: number
  readonly log: Logger
  readonly onFlush: ((path: string, bytes: number) => void) | undefined
  readonly stats: AccessLogManagerStats = { writeFailed: 0, writeDropped: 0, flushed: 0 }
  private readonly files = new Map<string, AccessLogFileImpl>()

  /** `flushIntervalMs` is `--file-flush-interval-msec`; write errors are logged to `log`. */
  constructor(flushIntervalMs: number, log: Logger, options: AccessLogManagerOptions = {}) {
    this.flushIntervalMs = flushIntervalMs
    this.log = log
    this.onFlush = options.onFlush
  }

  // AccessLogManager
  /** Throws ConfigError(CONFIG_INVALID) when the file cannot be opened for appending. */
  createAccessLogFile(path: string): AccessLogFile {
    let file = this.files.get(path)
    if (file === undefined) {
      try {
        file = new AccessLogFileImpl(path, this)
      } catch (err) {
        throw new ConfigError(ErrorCode.CONFIG_INVALID, [`unable to open access log file '${path}': ${(err as Error).message}`])
      }
      this.files.set(path, file)
    }
    return file
  }

  reopen(): void {
    for (const f of this.files.values()) f.reopen()
  }

  flush(): void {
    for (const f of this.files.values()) f.flushSync()
  }

  /** Flushes and closes every file (worker or server shutdown). */
  close(): void {
    for (const f of this.files.values()) f.close()
    this.files.clear()
  }
}
