/**
 * google.protobuf.Duration in its JSON form ("5s", "0.250s", "1.000000001s"). The validated
 * config keeps that form; code reads it through `durationToMs`.
 */

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/

export interface DurationParts {
  seconds: number
  nanos: number
}

export function parseDuration(text: string): DurationParts | undefined {
  const m = DURATION_RE.exec(text)
  if (m === null) return undefined
  const sign = m[1] === '-' ? -1 : 1
  const seconds = Number(m[2])
  const nanos = m[3] === undefined ? 0 : Number(m[3].padEnd(9, '0'))
  if (!Number.isSafeInteger(seconds) || seconds > 315576000000) return undefined
  return { seconds: sign * seconds, nanos: sign * nanos }
}

export function formatDuration(d: DurationParts): string {
  const negative = d.seconds < 0 || d.nanos < 0
  const s = Math.abs(d.seconds)
  const n = Math.abs(d.nanos)
  let frac = ''
  if (n !== 0) {
    frac = String(n).padStart(9, '0')
    if (frac.endsWith('000000')) frac = frac.slice(0, 3)
    else if (frac.endsWith('000')) frac = frac.slice(0, 6)
    frac = `.${frac}`
  }
  return `${negative ? '-' : ''}${s}${frac}s`
}

export function durationPartsToMs(d: DurationParts): number {
  return d.seconds * 1000 + d.nanos / 1e6
}

/** Milliseconds of a validated Duration string, or `fallback` when the field is absent. */
export function durationToMs(d: string | undefined, fallback: number): number
export function durationToMs(d: string | undefined): number | undefined
export function durationToMs(d: string | undefined, fallback?: number): number | undefined {
  if (d === undefined) return fallback
  const parts = parseDuration(d)
  return parts === undefined ? fallback : durationPartsToMs(parts)
}

/** Compares two durations; negative when a < b. */
export function compareDuration(a: DurationParts, b: DurationParts): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos
}
