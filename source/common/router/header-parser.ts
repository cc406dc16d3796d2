import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { StreamInfo } from '../../envoy/stream-info/stream-info.js'
import { type FormatPart, parseSubstitutionFormat } from '../formatter/substitution-format-parser.js'
import type { HeaderValueOption, HeaderValueOption_HeaderAppendAction } from '../protobuf/generated/envoy/config/core/v3.js'
import { ConfigErrors } from './config-utility.js'

/**
 * Compiled `*_headers_to_add` / `*_headers_to_remove` of one level of the route table (Envoy's
 * HeaderParser). Values are Envoy format strings (`%DOWNSTREAM_REMOTE_ADDRESS%`, `%REQ(x)%`),
 * parsed once here; unset operators format as nothing, and an empty result is skipped unless
 * `keep_empty_value`.
 */

const APPEND = 0
const ADD_IF_ABSENT = 1
const OVERWRITE_OR_ADD = 2
const OVERWRITE_IF_EXISTS = 3

const ACTIONS: Record<HeaderValueOption_HeaderAppendAction, number> = {
  APPEND_IF_EXISTS_OR_ADD: APPEND,
  ADD_IF_ABSENT,
  OVERWRITE_IF_EXISTS_OR_ADD: OVERWRITE_OR_ADD,
  OVERWRITE_IF_EXISTS,
}

interface AddEntry {
  readonly key: string
  readonly action: number
  readonly keepEmpty: boolean
  /** The value when it has no operators. */
  readonly literal: string | undefined
  readonly parts: readonly FormatPart[]
}

/** `:`-prefixed names and `host` are owned by the router (Envoy's isModifiableHeader). */
function isModifiable(name: string): boolean {
  return !name.startsWith(':') && name.toLowerCase() !== 'host'
}

export class HeaderParser {
  private readonly add: AddEntry[] = []
  private readonly remove: string[] = []
  /** True when some value reads the stream (has an operator). */
  readonly dynamic: boolean
  // Per-evaluation scratch: values are computed against the original headers first, then
  // applied (Envoy's order), without allocating per request.
  private readonly pendingValues: Array<string | undefined>

  /**
   * With `kind`, `path` names the level (`...routes[0]`) and the lists' own paths are derived
   * from it (`...routes[0].request_headers_to_add[1]`); without, `path` is the add list's path.
   * Without `errors`, problems are thrown as one ConfigError.
   */
  constructor(toAdd: readonly HeaderValueOption[], toRemove: readonly string[], path: string, errors?: ConfigErrors, kind?: 'request' | 'response') {
    const own = errors ?? new ConfigErrors()
    this.build(toAdd, toRemove, path, own, kind)
    this.dynamic = this.add.some((e) => e.literal === undefined)
    this.pendingValues = new Array<string | undefined>(this.add.length)
    if (errors === undefined) own.throwIfAny()
  }

  private build(toAdd: readonly HeaderValueOption[], toRemove: readonly string[], path: string, errors: ConfigErrors, kind: string | undefined): void {
    const addPath = kind === undefined ? path : `${path}.${kind}_headers_to_add`
    toAdd.forEach((o, i) => {
      const p = `${addPath}[${i}]`
      if (o.header === undefined) {
        errors.add(`${p}.header`, 'value is required')
        return
      }
      const key = o.header.key.toLowerCase()
      if (!isModifiable(key)) {
        errors.add(`${p}.header.key`, ':-prefixed or host headers may not be modified')
        return
      }
      let action: number
      if (o.append !== undefined) {
        if (o.append_action !== 'APPEND_IF_EXISTS_OR_ADD') {
          errors.add(p, "Both append and append_action are set and it's not allowed")
          return
        }
        action = o.append ? APPEND : OVERWRITE_OR_ADD
      } else {
        action = ACTIONS[o.append_action] ?? APPEND
      }
      const text = o.header.value === '' && o.header.raw_value !== ''
        ? Buffer.from(o.header.raw_value, 'base64').toString('utf8')
        : o.header.value
      const parts = errors.attempt(`${p}.header.value`, () => parseSubstitutionFormat(text, `${p}.header.value`))
      if (parts === undefined) return
      const literal = parts.every((x) => typeof x === 'string') ? (parts as string[]).join('') : undefined
      this.add.push({ key, action, keepEmpty: o.keep_empty_value, literal, parts })
    })
    const removePath = kind === undefined ? path : `${path}.${kind}_headers_to_remove`
    toRemove.forEach((name, i) => {
      const key = name.toLowerCase()
      if (!isModifiable(key)) errors.add(`${removePath}[${i}]`, ':-prefixed or host headers may not be removed')
      else this.remove.push(key)
    })
  }

  get empty(): boolean {
    return this.add.length === 0 && this.remove.length === 0
  }

  /** Envoy's name for evaluate(). */
  evaluateHeaders(headers: HeaderMap, info: StreamInfo): void {
    this.evaluate(headers, info)
  }

  /**
   * Removes, then adds/overwrites. Every value is formatted (and every presence check made)
   * before any header changes; overwrites are applied before appends, as Envoy does.
   * Operators read `info` as it is (see evaluateRequestHeaders for `%REQ()%`).
   */
  evaluate(headers: HeaderMap, info: StreamInfo): void {
    for (let i = 0; i < this.remove.length; i++) headers.remove(this.remove[i]!)
    const add = this.add
    if (add.length === 0) return
    const values = this.pendingValues
    for (let i = 0; i < add.length; i++) {
      const e = add[i]!
      const v = e.literal ?? format(e.parts, info)
      values[i] = undefined
      if (v === '' && !e.keepEmpty) continue
      if (e.action === ADD_IF_ABSENT || e.action === OVERWRITE_IF_EXISTS) {
        const has = headers.has(e.key)
        if (e.action === ADD_IF_ABSENT ? has : !has) continue
      }
      values[i] = v
    }
    for (let i = 0; i < add.length; i++) {
      const v = values[i]
      const e = add[i]!
      if (v !== undefined && (e.action === OVERWRITE_OR_ADD || e.action === OVERWRITE_IF_EXISTS)) headers.set(e.key, v)
    }
    for (let i = 0; i < add.length; i++) {
      const v = values[i]
      const e = add[i]!
      if (v !== undefined && (e.action === APPEND || e.action === ADD_IF_ABSENT)) headers.add(e.key, v)
      values[i] = undefined
    }
  }
}

function format(parts: readonly FormatPart[], info: StreamInfo): string {
  let out = ''
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!
    // Header values use the "omit empty values" form: an unset operator adds nothing.
    out += typeof p === 'string' ? p : (p.format(info, 'NotSet') ?? '')
  }
  return out
}

/**
 * Runs `parsers` in order on request headers; operators like `%REQ(x)%` see `headers` (the
 * request being finalized) even before the stream info has been given them.
 */
export function evaluateRequestHeaders(parsers: readonly HeaderParser[], dynamic: boolean, headers: HeaderMap, info: StreamInfo): void {
  if (!dynamic || info.requestHeaders === headers) {
    for (let i = 0; i < parsers.length; i++) parsers[i]!.evaluateHeaders(headers, info)
    return
  }
  const saved = info.requestHeaders
  info.requestHeaders = headers
  try {
    for (let i = 0; i < parsers.length; i++) parsers[i]!.evaluateHeaders(headers, info)
  } finally {
    info.requestHeaders = saved
  }
}

/** As evaluateRequestHeaders, for response headers (`%RESP(x)%` sees `headers`). */
export function evaluateResponseHeaders(parsers: readonly HeaderParser[], dynamic: boolean, headers: HeaderMap, info: StreamInfo): void {
  if (!dynamic || info.responseHeaders === headers) {
    for (let i = 0; i < parsers.length; i++) parsers[i]!.evaluateHeaders(headers, info)
    return
  }
  const saved = info.responseHeaders
  info.responseHeaders = headers
  try {
    for (let i = 0; i < parsers.length; i++) parsers[i]!.evaluateHeaders(headers, info)
  } finally {
    info.responseHeaders = saved
  }
}

/**
 * The non-empty parsers of the levels, in Envoy's order: most specific first (route, vhost,
 * route config), or least specific first with `most_specific_header_mutations_wins`.
 * `levels` is given most specific first.
 */
export function orderParsers(levels: ReadonlyArray<HeaderParser | undefined>, mostSpecificWins: boolean): HeaderParser[] {
  const present = levels.filter((p): p is HeaderParser => p !== undefined && !p.empty)
  return mostSpecificWins ? present.reverse() : present
}
