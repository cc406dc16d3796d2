import { toEnvoyLevel } from './levels.js'

const PINO_LABELS: Record<number, string> = {
  10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal',
}

const RESERVED = new Set(['level', 'time', 'msg', 'component', 'thread', 'worker'])

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

function formatTime(epochMs: number): string {
  const d = new Date(epochMs)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
}

/**
 * Turns one pino JSON line into Envoy's default text layout:
 * `[2026-11-22 10:00:00.123][worker_1][info][conn_handler] accepted fd=12`.
 */
export function formatTextLine(jsonLine: string): string {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(jsonLine) as Record<string, unknown>
  } catch {
    return jsonLine
  }
  const level = typeof o.level === 'number' ? toEnvoyLevel(PINO_LABELS[o.level] ?? 'info') : String(o.level)
  const time = typeof o.time === 'number' ? formatTime(o.time) : String(o.time ?? '')
  const thread = o.worker !== undefined ? `worker_${String(o.worker)}` : String(o.thread ?? 'main')
  const component = String(o.component ?? 'misc')
  let extra = ''
  for (const [k, v] of Object.entries(o)) {
    if (RESERVED.has(k)) continue
    extra += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`
  }
  return `[${time}][${thread}][${level}][${component}] ${String(o.msg ?? '')}${extra}\n`
}
