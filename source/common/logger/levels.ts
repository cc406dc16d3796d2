import type { LevelWithSilent } from 'pino'

/** Envoy's level names, as accepted by `-l`, `--component-log-level` and `/logging`. */
export const ENVOY_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const
export type EnvoyLevel = (typeof ENVOY_LEVELS)[number]

const TO_PINO: Record<string, LevelWithSilent> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  off: 'silent',
}

const TO_ENVOY: Record<string, EnvoyLevel> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warning',
  error: 'error',
  fatal: 'critical',
  silent: 'off',
}

/** Maps an Envoy level name (or `warn`) to pino's; undefined for anything else. */
export function toPinoLevel(level: string): LevelWithSilent | undefined {
  return TO_PINO[level]
}

export function toEnvoyLevel(pinoLevel: string): EnvoyLevel {
  return TO_ENVOY[pinoLevel] ?? 'info'
}

/**
 * Envoy's logger ids that envoy-ts uses, plus its own (`runtime_api`). Components log through a
 * child logger named by one of these, so `--component-log-level` and `/logging` can address them.
 */
export const LOGGER_IDS = [
  'admin', 'config', 'connection', 'conn_handler', 'dns', 'file', 'filter', 'hc', 'http', 'http1',
  'init', 'main', 'misc', 'pool', 'router', 'runtime', 'runtime_api', 'stats', 'upstream',
  'watchdog',
] as const
export type LoggerId = (typeof LOGGER_IDS)[number]
