/**
 * Dapr's routing rules for a subscription (`routes.rules[].match`, a CEL expression over the
 * CloudEvent as `event`), restricted to the part of CEL those rules use in practice:
 *
 *   event.type == "order" && event.data.amount > 100 || !(event.source != 'shop')
 *
 * That is: literals (strings in ' or ", numbers, true, false, null), `event.<field>(.<field>)*`,
 * the comparisons == != < <= > >=, `!`, `&&`, `||` and parentheses. Anything else fails to
 * parse, and the subscription is refused (Dapr refuses subscriptions whose CEL does not
 * compile). A field the event lacks makes its comparison false (CEL would raise "no such key",
 * which Dapr then retries forever; not matching is the useful reading).
 */

export type RuleMatcher = (event: Record<string, unknown>) => boolean

export interface RouteRule {
  /** undefined: always matches (the default route). */
  match: RuleMatcher | undefined
  /** The source text, for the metadata API and logs. */
  matchText: string
  path: string
}

/** Dapr's order: the rules as listed, then the default route (or v1 `route`). */
export function buildRouteRules(rules: Array<{ match?: string; path?: string }>, defaultPath: string | undefined): RouteRule[] {
  const out: RouteRule[] = []
  for (const r of rules) {
    const text = (r.match ?? '').trim()
    out.push({ match: text === '' ? undefined : compileMatch(text), matchText: text, path: r.path ?? '' })
  }
  if (defaultPath !== undefined && defaultPath !== '') out.push({ match: undefined, matchText: '', path: defaultPath })
  return out
}

/** The path of the first rule that matches, or undefined: the event goes nowhere. */
export function selectRoute(rules: readonly RouteRule[], event: Record<string, unknown>): string | undefined {
  for (const r of rules) {
    if (r.match === undefined || r.match(event)) return r.path
  }
  return undefined
}

type Token =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }

const OPS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '(', ')', '.']

function tokenize(src: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (/\s/.test(c)) { i++; continue }
    if (c === '"' || c === "'") {
      let j = i + 1
      let s = ''
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[j + 1]!
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e
          j += 2
        } else {
          s += src[j]
          j++
        }
      }
      if (j >= src.length) throw new Error(`unterminated string at ${i}`)
      out.push({ t: 'str', v: s })
      i = j + 1
      continue
    }
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i))
    if (num !== null && (c !== '-' || out.length === 0 || out[out.length - 1]!.t === 'op')) {
      out.push({ t: 'num', v: Number(num[0]) })
      i += num[0].length
      continue
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))
    if (id !== null) {
      out.push({ t: 'id', v: id[0] })
      i += id[0].length
      continue
    }
    const op = OPS.find((o) => src.startsWith(o, i))
    if (op === undefined) throw new Error(`unexpected '${c}' at ${i}`)
    out.push({ t: 'op', v: op })
    i += op.length
  }
  return out
}

type Value = (event: Record<string, unknown>) => unknown
const MISSING = Symbol('missing')

/** Compiles one `match` expression; throws with the reason when outside the supported subset. */
export function compileMatch(src: string): RuleMatcher {
  const toks = tokenize(src)
  let pos = 0
  const peek = (): Token | undefined => toks[pos]
  const isOp = (v: string): boolean => { const t = peek(); return t !== undefined && t.t === 'op' && t.v === v }
  const expect = (v: string): void => {
    if (!isOp(v)) throw new Error(`expected '${v}' in ${JSON.stringify(src)}`)
    pos++
  }

  const or = (): Value => {
    let left = and()
    while (isOp('||')) {
      pos++
      const l = left
      const r = and()
      left = (e) => truthy(l(e)) || truthy(r(e))
    }
    return left
  }
  const and = (): Value => {
    let left = unary()
    while (isOp('&&')) {
      pos++
      const l = left
      const r = unary()
      left = (e) => truthy(l(e)) && truthy(r(e))
    }
    return left
  }
  const unary = (): Value => {
    if (isOp('!')) {
      pos++
      const v = unary()
      return (e) => !truthy(v(e))
    }
    return comparison()
  }
  const comparison = (): Value => {
    const left = operand()
    const t = peek()
    if (t !== undefined && t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      pos++
      const right = operand()
      return compare(t.v, left, right)
    }
    return left
  }
  const operand = (): Value => {
    const t = peek()
    if (t === undefined) throw new Error(`unexpected end of ${JSON.stringify(src)}`)
    pos++
    if (t.t === 'str' || t.t === 'num') {
      const v = t.v
      return () => v
    }
    if (t.t === 'op' && t.v === '(') {
      const v = or()
      expect(')')
      return v
    }
    if (t.t === 'id') {
      if (t.v === 'true') return () => true
      if (t.v === 'false') return () => false
      if (t.v === 'null') return () => null
      if (t.v !== 'event') throw new Error(`unknown identifier '${t.v}' in ${JSON.stringify(src)} (only event.<field> is supported)`)
      const fields: string[] = []
      while (isOp('.')) {
        pos++
        const f = peek()
        if (f === undefined || f.t !== 'id') throw new Error(`expected a field name after '.' in ${JSON.stringify(src)}`)
        pos++
        fields.push(f.v)
      }
      if (isOp('(')) throw new Error(`function calls are not supported in ${JSON.stringify(src)}`)
      return (e) => {
        let cur: unknown = e
        for (const f of fields) {
          if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, f)) return MISSING
          cur = (cur as Record<string, unknown>)[f]
        }
        return cur
      }
    }
    throw new Error(`unexpected '${String(t.v)}' in ${JSON.stringify(src)}`)
  }

  const root = or()
  if (pos !== toks.length) throw new Error(`unexpected '${String(toks[pos]!.v)}' in ${JSON.stringify(src)}`)
  return (event) => truthy(root(event))
}

function truthy(v: unknown): boolean {
  return v === true
}

function compare(op: string, l: Value, r: Value): Value {
  return (e) => {
    const a = l(e)
    const b = r(e)
    if (a === MISSING || b === MISSING) return false
    switch (op) {
      case '==': return a === b
      case '!=': return a !== b
      default: {
        if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) return false
        if (op === '<') return a < b
        if (op === '<=') return a <= b
        if (op === '>') return a > b
        return a >= b
      }
    }
  }
}
