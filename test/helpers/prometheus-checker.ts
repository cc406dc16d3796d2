/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests: it throws on
 * anything a Prometheus server would reject or mis-read, and returns the families it read.
 */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  samples: Sample[]
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function parseValue(v: string, line: number): number {
  if (v === '+Inf') return Infinity
  if (v === '-Inf') return -Infinity
  if (v === 'NaN') return Number.NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) throw new Error(`line ${line}: bad value "${v}"`)
  return Number(v)
}

function parseLabels(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const eq = text.indexOf('=', i)
    if (eq < 0) throw new Error(`line ${line}: label without "="`)
    const name = text.slice(i, eq).trim()
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name "${name}"`)
    if (name in out) throw new Error(`line ${line}: duplicate label "${name}"`)
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value must be quoted`)
    let j = eq + 2
    let value = ''
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const n = text[++j]
        if (n === 'n') value += '\n'
        else if (n === '\\' || n === '"') value += n
        else throw new Error(`line ${line}: bad escape \\${n}`)
      } else {
        value += text[j]
      }
    }
    if (text[j] !== '"') throw new Error(`line ${line}: unterminated label value`)
    out[name] = value
    i = j + 1
    if (text[i] === ',') i++
    else if (i < text.length) throw new Error(`line ${line}: expected "," between labels`)
  }
  return out
}

function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  if (families.has(sample)) return families.get(sample)
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix)) {
      const f = families.get(sample.slice(0, -suffix.length))
      if (f !== undefined && (f.type === 'histogram' || f.type === 'summary')) return f
    }
  }
  return undefined
}

export function checkPrometheus(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const families = new Map<string, Family>()
  const closed = new Set<string>()
  let current: Family | undefined
  text.split('\n').forEach((raw, idx) => {
    const line = idx + 1
    if (raw === '') return
    if (raw.startsWith('#')) {
      const m = /^# (TYPE|HELP) (\S+)(?: (.*))?$/.exec(raw)
      if (m === null) return
      if (!METRIC.test(m[2]!)) throw new Error(`line ${line}: bad metric name "${m[2]}"`)
      if (m[1] === 'TYPE') {
        if (families.has(m[2]!)) throw new Error(`line ${line}: second TYPE line for ${m[2]}`)
        const type = m[3] as Family['type']
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)) throw new Error(`line ${line}: bad type "${m[3]}"`)
        if (current !== undefined) closed.add(current.name)
        current = { name: m[2]!, type, samples: [] }
        families.set(current.name, current)
      }
      return
    }
    const m = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/.exec(raw)
    if (m === null) throw new Error(`line ${line}: not a sample: ${raw}`)
    const name = m[1]!
    if (!METRIC.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`)
    const family = familyOf(name, families)
    if (family === undefined) throw new Error(`line ${line}: sample ${name} before its TYPE line`)
    if (family !== current || closed.has(family.name)) throw new Error(`line ${line}: samples of ${family.name} are not contiguous`)
    family.samples.push({ name, labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3]!, line) })
  })
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>()
  for (const s of f.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(rest)
    const entry = series.get(key) ?? { buckets: [] }
    series.set(key, entry)
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`)
      entry.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value])
    } else if (s.name === `${f.name}_count`) entry.count = s.value
    else if (s.name === `${f.name}_sum`) entry.sum = s.value
    else throw new Error(`${f.name}: unexpected sample ${s.name}`)
  }
  for (const [key, e] of series) {
    if (e.count === undefined || e.sum === undefined) throw new Error(`${f.name}${key}: missing _count or _sum`)
    const last = e.buckets.at(-1)
    if (last === undefined || last[0] !== Infinity) throw new Error(`${f.name}${key}: last bucket must be le="+Inf"`)
    if (last[1] !== e.count) throw new Error(`${f.name}${key}: +Inf bucket ${last[1]} != count ${e.count}`)
    for (let i = 1; i < e.buckets.length; i++) {
      if (e.buckets[i]![0] <= e.buckets[i - 1]![0]) throw new Error(`${f.name}${key}: bucket bounds must increase`)
      if (e.buckets[i]![1] < e.buckets[i - 1]![1]) throw new Error(`${f.name}${key}: bucket counts must not decrease`)
    }
  }
}
