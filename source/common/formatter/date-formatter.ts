/**
 * The time formats of `%START_TIME(...)%`: a strftime subset plus Envoy's own `%s` (epoch
 * seconds) and `%f` / `%[1-9]f` (fractional seconds), and absl's `%E#S`, `%E*S`, `%E#f`, `%Ez`
 * and `%E4Y`. The format is compiled once into segments; formatting an entry walks them.
 */

/** Calendar fields of one instant, in UTC or local time. */
interface TimeParts {
  epochMs: number
  year: number
  month: number // 1-12
  day: number
  hour: number
  minute: number
  second: number
  millis: number
  weekday: number // 0 = Sunday
  yearDay: number // 1-366
  offsetMinutes: number // east of UTC
}

type Segment = string | ((t: TimeParts) => string)

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November',
  'December']

function pad(n: number, width: number, fill = '0'): string {
  return String(n).padStart(width, fill)
}

/** Fractional seconds with `digits` digits; we keep milliseconds, so digits past 3 are zeros. */
function fraction(t: TimeParts, digits: number): string {
  return pad(t.millis, 3).padEnd(9, '0').slice(0, digits)
}

/** absl's `%E*`: as many digits as needed, none when the fraction is zero. */
function minimalFraction(t: TimeParts): string {
  return t.millis === 0 ? '' : pad(t.millis, 3).replace(/0+$/, '')
}

function offset(t: TimeParts, colon: boolean): string {
  const m = Math.abs(t.offsetMinutes)
  return `${t.offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(m / 60), 2)}${colon ? ':' : ''}${pad(m % 60, 2)}`
}

function hour12(t: TimeParts): number {
  return t.hour % 12 === 0 ? 12 : t.hour % 12
}

const SIMPLE: Record<string, (t: TimeParts) => string> = {
  Y: (t) => String(t.year),
  y: (t) => pad(t.year % 100, 2),
  C: (t) => pad(Math.floor(t.year / 100), 2),
  m: (t) => pad(t.month, 2),
  d: (t) => pad(t.day, 2),
  e: (t) => pad(t.day, 2, ' '),
  H: (t) => pad(t.hour, 2),
  I: (t) => pad(hour12(t), 2),
  M: (t) => pad(t.minute, 2),
  S: (t) => pad(t.second, 2),
  p: (t) => (t.hour < 12 ? 'AM' : 'PM'),
  j: (t) => pad(t.yearDay, 3),
  a: (t) => DAYS[t.weekday]!.slice(0, 3),
  A: (t) => DAYS[t.weekday]!,
  b: (t) => MONTHS[t.month - 1]!.slice(0, 3),
  h: (t) => MONTHS[t.month - 1]!.slice(0, 3),
  B: (t) => MONTHS[t.month - 1]!,
  u: (t) => String(t.weekday === 0 ? 7 : t.weekday),
  w: (t) => String(t.weekday),
  z: (t) => offset(t, false),
  Z: (t) => (t.offsetMinutes === 0 ? 'UTC' : offset(t, false)),
  s: (t) => String(Math.floor(t.epochMs / 1000)),
  f: (t) => fraction(t, 9),
  t: () => '\t',
  '%': () => '%',
}

/** Composite specifiers, expanded before compiling. */
const COMPOSITE: Record<string, string> = {
  T: '%H:%M:%S',
  D: '%m/%d/%y',
  F: '%Y-%m-%d',
  R: '%H:%M',
  X: '%H:%M:%S',
  x: '%m/%d/%y',
  c: '%a %b %e %H:%M:%S %Y',
  r: '%I:%M:%S %p',
}

/** Thrown for a format the compiler does not accept; the caller adds the config path. */
export class DateFormatError extends Error {}

function compile(format: string, out: Segment[]): void {
  let literal = ''
  const flush = (): void => {
    if (literal !== '') out.push(literal)
    literal = ''
  }
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!
    if (c !== '%') {
      literal += c
      continue
    }
    const next = format[i + 1]
    if (next === undefined) throw new DateFormatError(`time format "${format}" ends with a lone '%'`)
    if (next === 'n') throw new DateFormatError('Invalid header configuration. Format string contains newline.')
    if (next === '%') {
      literal += '%'
      i++
      continue
    }
    let seg: Segment | undefined
    let used = 1
    if (next >= '1' && next <= '9' && format[i + 2] === 'f') {
      const digits = Number(next)
      seg = (t) => fraction(t, digits)
      used = 2
    } else if (next === 'E') {
      const arg = format[i + 2]
      const spec = format[i + 3]
      if (arg === 'z') {
        seg = (t) => offset(t, true)
        used = 2
      } else if (arg === '4' && spec === 'Y') {
        seg = (t) => pad(t.year, 4)
        used = 3
      } else if (arg !== undefined && (arg === '*' || (arg >= '0' && arg <= '9')) && (spec === 'S' || spec === 'f')) {
        const frac = arg === '*' ? minimalFraction : (t: TimeParts): string => fraction(t, Number(arg))
        if (spec === 'S') {
          seg = (t) => {
            const f = frac(t)
            return f === '' ? pad(t.second, 2) : `${pad(t.second, 2)}.${f}`
          }
        } else {
          seg = frac
        }
        used = 3
      }
    } else if (COMPOSITE[next] !== undefined) {
      flush()
      compile(COMPOSITE[next], out)
      i++
      continue
    } else {
      seg = SIMPLE[next]
    }
    if (seg === undefined) throw new DateFormatError(`unsupported time format specifier '%${next}' in "${format}"`)
    flush()
    out.push(seg)
    i += used
  }
  flush()
}

function partsOf(epochMs: number, local: boolean): TimeParts {
  const d = new Date(epochMs)
  if (local) {
    const startOfYear = new Date(d.getFullYear(), 0, 1)
    return {
      epochMs, year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), minute: d.getMinutes(),
      second: d.getSeconds(), millis: d.getMilliseconds(), weekday: d.getDay(),
      yearDay: Math.floor((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(startOfYear.getFullYear(), 0, 1)) / 86400000) + 1,
      offsetMinutes: -d.getTimezoneOffset(),
    }
  }
  return {
    epochMs, year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(), millis: d.getUTCMilliseconds(), weekday: d.getUTCDay(),
    yearDay: Math.floor((epochMs - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000) + 1,
    offsetMinutes: 0,
  }
}

/** Formats epoch milliseconds with a compiled time format. */
export class DateFormatter {
  private readonly segments: Segment[] = []
  private readonly local: boolean
  private readonly isDefault: boolean

  /**
   * An empty `format` gives Envoy's default, ISO 8601 with milliseconds in UTC
   * (`2026-11-22T10:00:00.123Z`). Throws DateFormatError for an unsupported specifier.
   */
  constructor(format: string, local = false) {
    this.local = local
    this.isDefault = format === '' && !local
    compile(format === '' ? '%Y-%m-%dT%H:%M:%E3S' + (local ? '%z' : 'Z') : format, this.segments)
  }

  format(epochMs: number): string {
    // toISOString is the default layout exactly, and cheaper than walking segments.
    if (this.isDefault) return new Date(epochMs).toISOString()
    const t = partsOf(epochMs, this.local)
    let out = ''
    for (const s of this.segments) out += typeof s === 'string' ? s : s(t)
    return out
  }
}
