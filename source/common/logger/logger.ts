import pino, { type DestinationStream, type Logger } from 'pino'
import { type EnvoyLevel, LOGGER_IDS, toEnvoyLevel, toPinoLevel } from './levels.js'
import { formatTextLine } from './text-format.js'

export type LogFormat = 'json' | 'text'

export interface LogSettings {
  /** Envoy level name for every component without its own. */
  level: string
  /** Per-component levels, Envoy logger ids as keys. */
  componentLevels: Record<string, string>
  format: LogFormat
  /** File to append to; stderr when absent (Envoy's default). */
  path?: string
}

interface ReopenableDestination extends DestinationStream {
  reopen?(): void
  flushSync?(): void
}

/** Wraps a destination so pino's JSON lines come out in Envoy's text layout. */
class TextDestination implements DestinationStream {
  private readonly inner: ReopenableDestination

  constructor(inner: ReopenableDestination) {
    this.inner = inner
  }

  write(line: string): void {
    this.inner.write(formatTextLine(line))
  }

  reopen(): void {
    this.inner.reopen?.()
  }

  flushSync(): void {
    this.inner.flushSync?.()
  }
}

/**
 * The thread's logging root: one pino instance and a child per Envoy logger id. Created once per
 * thread (main, guard dog, each worker), never per connection.
 */
export class LogContext {
  readonly root: Logger
  private readonly destination: ReopenableDestination
  private readonly children = new Map<string, Logger>()
  private defaultLevel: EnvoyLevel

  constructor(settings: LogSettings, bindings: Record<string, unknown> = {}) {
    const raw: ReopenableDestination = pino.destination({
      dest: settings.path ?? 2,
      sync: true,
      append: true,
      mkdir: settings.path !== undefined,
    })
    this.destination = settings.format === 'text' ? new TextDestination(raw) : raw
    this.defaultLevel = toEnvoyLevel(toPinoLevel(settings.level) ?? 'info')
    this.root = pino(
      {
        level: toPinoLevel(settings.level) ?? 'info',
        base: bindings,
        timestamp: settings.format === 'text' ? pino.stdTimeFunctions.epochTime : pino.stdTimeFunctions.isoTime,
        formatters: settings.format === 'text' ? {} : { level: (label) => ({ level: toEnvoyLevel(label) }) },
      },
      this.destination,
    )
    for (const id of LOGGER_IDS) this.child(id)
    for (const [id, lvl] of Object.entries(settings.componentLevels)) this.setLevel(id, lvl)
  }

  /** The child logger for an Envoy logger id; unknown ids get one too (extensions). */
  child(component: string): Logger {
    let c = this.children.get(component)
    if (c === undefined) {
      c = this.root.child({ component })
      c.level = toPinoLevel(this.defaultLevel) ?? 'info'
      this.children.set(component, c)
    }
    return c
  }

  /** Sets one component's level, or every component's when `component` is undefined. */
  setLevel(component: string | undefined, level: string): void {
    const pinoLevel = toPinoLevel(level)
    if (pinoLevel === undefined) return
    if (component === undefined) {
      this.defaultLevel = toEnvoyLevel(pinoLevel)
      this.root.level = pinoLevel
      for (const c of this.children.values()) c.level = pinoLevel
    } else {
      this.child(component).level = pinoLevel
    }
  }

  /** `{ component: level }` for every known logger, sorted by name (`/logging`). */
  levels(): Record<string, EnvoyLevel> {
    const out: Record<string, EnvoyLevel> = {}
    for (const name of [...this.children.keys()].sort()) out[name] = toEnvoyLevel(this.children.get(name)!.level)
    return out
  }

  /** Reopens the log file (SIGUSR1, after rotation). */
  reopen(): void {
    this.destination.reopen?.()
  }

  flush(): void {
    this.destination.flushSync?.()
  }
}
