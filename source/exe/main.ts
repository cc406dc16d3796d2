/**
 * The `envoy-ts` command: parses the command line, runs the server, maps signals, and turns
 * every start-up failure into a clear message and exit code 1.
 */
import os from 'node:os'
import v8 from 'node:v8'
import { LogContext } from '../common/logger/logger.js'
import { VERSION } from '../common/version.js'
import { installExceptionGuards } from '../common/common/process-guards.js'
import { ExitCode, InstanceImpl } from '../server/instance-impl.js'
import { parseCommandLine, usage } from '../server/options-impl.js'

function errorLines(err: unknown): string[] {
  const e = err as { errors?: unknown; message?: unknown }
  if (Array.isArray(e.errors)) return e.errors.map(String)
  return [typeof e.message === 'string' ? e.message : String(err)]
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>
  try {
    parsed = parseCommandLine(argv)
  } catch (err) {
    process.stderr.write(`envoy-ts: ${(err as Error).message}\n\n${usage()}`)
    return ExitCode.FAILURE
  }
  if (parsed.kind === 'help') {
    process.stdout.write(usage())
    return ExitCode.OK
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`envoy-ts version: ${VERSION}\n`)
    return ExitCode.OK
  }
  const options = parsed.options
  const logs = new LogContext({
    level: options.logLevel,
    componentLevels: { ...options.componentLogLevels },
    format: options.logFormat,
    ...(options.logPath !== undefined ? { path: options.logPath } : {}),
  })
  const log = logs.child('main')
  const server = new InstanceImpl(options, logs)

  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++
    const state = server.state()
    if (state !== 'LIVE' && state !== 'DRAINING') {
      // Not serving yet: nothing to drain. End as the signal's default action would.
      log.warn({ signal, state }, 'caught signal before the server was up: exiting')
      logs.flush()
      dieBy(signal)
    }
    if (signals === 1) {
      log.info({ signal }, 'caught signal: shutting down gracefully (send again to exit now)')
      server.shutdown(signal)
    } else {
      log.warn({ signal }, 'caught second signal: exiting now')
      logs.flush()
      process.exit(ExitCode.FAILURE)
    }
  }
  // SIGTERM and SIGINT keep their default action (end the process) while the config loads and
  // validates, which is synchronous and could not run a handler; ours take over once the
  // config is loaded. `--mode validate` never installs them.
  const installSignalHandlers = (): void => {
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  }
  process.on('SIGUSR1', () => {
    server.reopenLogs()
    log.info('caught SIGUSR1: log files reopened')
  })
  // An exception nothing caught is logged, counted (server.envoy_bug_failures) and survived:
  // one failing timer or callback must not take every connection down with it (issue 18).
  installExceptionGuards(log, 'main', () => server.countEnvoyBug())

  try {
    const code = await server.run({ configLoaded: installSignalHandlers })
    if (options.mode === 'validate') process.stdout.write('OK\n')
    return code
  } catch (err) {
    const lines = errorLines(err)
    const source = options.configPath ?? '--config-yaml'
    if (options.mode !== 'validate') log.fatal({ errors: lines, code: (err as { code?: string }).code }, 'error initializing configuration')
    process.stderr.write(`error initializing configuration '${source}':\n${lines.map((l) => `  ${l}`).join('\n')}\n`)
    logs.flush()
    return ExitCode.FAILURE
  }
}

/** Ends the process by `signal` with its default action (exit status 128 + n, as a shell sees it). */
function dieBy(signal: NodeJS.Signals): never {
  process.removeAllListeners(signal)
  process.kill(process.pid, signal)
  process.exit(128 + (os.constants.signals[signal] ?? 0))
}

// Worker isolates start with a small old space, and V8 counts socket buffers against it: a
// proxy moving bulk data then runs a full GC every few tens of ms. A larger initial heap for
// the isolates created from here on (the workers) avoids that (bench: tcp-stream 0.77 → 0.97×
// a plain pipe, `npm run bench -- -s tcp-stream --pin`).
v8.setFlagsFromString('--initial-heap-size=64')

main(process.argv.slice(2)).then((code) => {
  // Exit explicitly: worker threads and sockets must not keep a finished server alive.
  process.exit(code)
}, (err: unknown) => {
  process.stderr.write(`envoy-ts: fatal: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(ExitCode.FAILURE)
})
