/**
 * What a thread does with an exception nothing caught: Envoy's ENVOY_BUG, not a crash. A proxy
 * that serves thousands of connections must not lose all of them to one missed `catch` (issue
 * 18: an EMFILE thrown from a timer ended the whole process).
 */
import type { Logger } from 'pino'

/** At most this many log lines per second per thread; every occurrence is still counted. */
const LOG_LINES_PER_SECOND = 20

/**
 * Installs `uncaughtException` and `unhandledRejection` handlers on this thread (main, a worker
 * or the guard dog: each isolate has its own `process` handlers). Each occurrence is logged at
 * error level with its stack (`err`), counted through `count` (the caller bumps
 * `server.envoy_bug_failures`) and the thread goes on. Returns a function that removes them.
 */
export function installExceptionGuards(log: Logger, thread: string, count: () => void): () => void {
  let windowStart = 0
  let inWindow = 0
  let suppressed = 0
  const report = (kind: 'uncaught exception' | 'unhandled rejection', err: unknown): void => {
    try {
      count()
    } catch {
      // Counting must never turn one failure into a second one.
    }
    try {
      const now = Date.now()
      if (now - windowStart >= 1000) {
        if (suppressed > 0) log.error({ thread, suppressed }, 'more uncaught exceptions were counted but not logged')
        windowStart = now
        inWindow = 0
        suppressed = 0
      }
      if (inWindow >= LOG_LINES_PER_SECOND) {
        suppressed++
        return
      }
      inWindow++
      const e = err instanceof Error ? err : new Error(`non-error value: ${safeString(err)}`)
      log.error({ thread, kind, err: e }, `${kind}: counted in server.envoy_bug_failures, continuing`)
    } catch {
      // A logger that throws must not end the thread either.
    }
  }
  const onException = (err: unknown): void => report('uncaught exception', err)
  const onRejection = (err: unknown): void => report('unhandled rejection', err)
  process.on('uncaughtException', onException)
  process.on('unhandledRejection', onRejection)
  return () => {
    process.off('uncaughtException', onException)
    process.off('unhandledRejection', onRejection)
  }
}

function safeString(v: unknown): string {
  try {
    return String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}
