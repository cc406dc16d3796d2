import { randomUUID } from 'node:crypto'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import {
  type AccessLogType, type HeaderMapView, RESPONSE_FLAG_NAMES, type StreamInfo,
} from '../../envoy/stream-info/stream-info.js'
import { DateFormatError, DateFormatter } from './date-formatter.js'
import type { FormatterProvider } from './substitution-format-parser.js'

/**
 * The built-in command operators (Envoy's stream_info_formatter and http_specific_formatter):
 * what each one reads from StreamInfo, its text form and its typed (JSON) form.
 */

/** Filter-state key under which the HCM keeps a local reply's body for `%LOCAL_REPLY_BODY%`. */
export const LOCAL_REPLY_BODY_KEY = 'envoy.local_reply_body'

/** Thrown by an operator factory for a bad operator; the parser adds the position and path. */
export class FormatSyntaxError extends Error {}

/** What may follow a command: `(params)` and `:length` (Envoy's CommandSyntaxChecker). */
export const CommandSyntax = {
  COMMAND_ONLY: 0,
  PARAMS_REQUIRED: 1,
  PARAMS_OPTIONAL: 2,
  LENGTH_ALLOWED: 4,
} as const

export interface CommandEntry {
  readonly syntax: number
  create(params: string, maxLength: number | undefined): FormatterProvider
}

function truncate(s: string, maxLength: number | undefined): string {
  return maxLength !== undefined && s.length > maxLength ? s.slice(0, maxLength) : s
}

type StringField = (info: StreamInfo, type: AccessLogType) => string | undefined

function stringProvider(field: StringField): FormatterProvider {
  return {
    format: field,
    formatValue: (info, type) => field(info, type) ?? null,
  }
}

function numberProvider(field: (info: StreamInfo) => number): FormatterProvider {
  return {
    format: (info) => String(field(info)),
    formatValue: (info) => field(info),
  }
}

/** A duration in whole milliseconds since the start, or unset. */
function durationProvider(field: (info: StreamInfo) => number | undefined): FormatterProvider {
  const ms = (info: StreamInfo): number | undefined => {
    const v = field(info)
    return v === undefined ? undefined : Math.trunc(v)
  }
  return {
    format: (info) => {
      const v = ms(info)
      return v === undefined ? undefined : String(v)
    },
    formatValue: (info) => ms(info) ?? null,
  }
}

function sinceStart(at: (info: StreamInfo) => number | undefined): (info: StreamInfo) => number | undefined {
  return (info) => {
    const t = at(info)
    return t === undefined ? undefined : t - info.startTimeMonotonic
  }
}

/** `1.2.3.4:80` → `1.2.3.4`; `[::1]:80` → `::1`; anything without a port is returned as is. */
export function addressWithoutPort(a: string): string {
  if (a.startsWith('[')) {
    const end = a.indexOf(']')
    return end === -1 ? a : a.slice(1, end)
  }
  const i = a.lastIndexOf(':')
  return i === -1 || a.indexOf(':') !== i ? a : a.slice(0, i)
}

export function addressPort(a: string): number | undefined {
  let i: number
  if (a.startsWith('[')) {
    const end = a.indexOf(']:')
    if (end === -1) return undefined
    i = end + 1
  } else {
    i = a.lastIndexOf(':')
    if (i === -1 || a.indexOf(':') !== i) return undefined
  }
  const port = a.slice(i + 1)
  const n = Number(port)
  return port === '' || !Number.isInteger(n) ? undefined : n
}

type AddressField = (info: StreamInfo) => string | undefined

function addressProviders(prefix: string, field: AddressField, into: Map<string, CommandEntry>, withPortName = `${prefix}_ADDRESS`): void {
  const get = (info: StreamInfo): string | undefined => {
    const a = field(info)
    return a === undefined || a === '' ? undefined : a
  }
  into.set(withPortName, commandOnly(() => stringProvider(get)))
  into.set(`${prefix}_ADDRESS_WITHOUT_PORT`, commandOnly(() => stringProvider((info) => {
    const a = get(info)
    return a === undefined ? undefined : addressWithoutPort(a)
  })))
  const port = (info: StreamInfo): number | undefined => {
    const a = get(info)
    return a === undefined ? undefined : addressPort(a)
  }
  into.set(`${prefix}_PORT`, commandOnly(() => ({
    format: (info) => {
      const p = port(info)
      return p === undefined ? undefined : String(p)
    },
    formatValue: (info) => port(info) ?? null,
  })))
}

function headerProvider(headersOf: (info: StreamInfo) => HeaderMapView | undefined, params: string, maxLength: number | undefined): FormatterProvider {
  const names = params.split('?')
  if (names.length > 2) throw new FormatSyntaxError(`More than 1 alternative header specified in token: ${params}`)
  for (const n of names) {
    if (n !== '' && !HEADER_NAME_RE.test(n)) {
      throw new FormatSyntaxError('Invalid header configuration. Format string contains invalid characters.')
    }
  }
  const main = names[0]!.toLowerCase()
  const alt = names[1] === undefined || names[1] === '' ? undefined : names[1].toLowerCase()
  const field = (info: StreamInfo): string | undefined => {
    const h = headersOf(info)
    if (h === undefined) return undefined
    let v = h.get(main)
    if (v === undefined && alt !== undefined) v = h.get(alt)
    return v === undefined ? undefined : truncate(v, maxLength)
  }
  return stringProvider(field)
}

// RFC 7230 token characters, with an optional leading ':' for HTTP/2 pseudo-headers.
const HEADER_NAME_RE = /^:?[!#$%&'*+\-.^_`|~0-9a-zA-Z]+$/

function metadataProvider(params: string, maxLength: number | undefined): FormatterProvider {
  const [ns, ...path] = params.split(':')
  const lookup = (info: StreamInfo): unknown => {
    let v: unknown = info.dynamicMetadata[ns!]
    for (const key of path) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
      v = (v as Record<string, unknown>)[key]
    }
    return v === null ? undefined : v
  }
  return {
    format: (info) => {
      const v = lookup(info)
      if (v === undefined) return undefined
      return truncate(typeof v === 'string' ? v : JSON.stringify(v), maxLength)
    },
    // Typed output keeps the value's own type and ignores the length, as Envoy does.
    formatValue: (info) => lookup(info) ?? null,
  }
}

function safeJson(v: unknown): string | undefined {
  try {
    return JSON.stringify(v)
  } catch {
    return undefined
  }
}

function filterStateProvider(params: string, maxLength: number | undefined): FormatterProvider {
  const [key, serialization = 'TYPED', ...rest] = params.split(':')
  if (key === undefined || key === '') throw new FormatSyntaxError('Invalid filter state configuration, key cannot be empty.')
  if ((serialization !== 'PLAIN' && serialization !== 'TYPED') || rest.length > 0) {
    throw new FormatSyntaxError('Invalid filter state serialize type, only support PLAIN/TYPED.')
  }
  const plain = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'object' ? safeJson(v) : String(v))
  // TYPED serializes as JSON, so a string value keeps its quotes (as Envoy's StringValue does).
  const text = (info: StreamInfo): string | undefined => {
    const v = info.filterState.get(key)
    if (v === undefined) return undefined
    const s = serialization === 'PLAIN' ? plain(v) : safeJson(v)
    return s === undefined ? undefined : truncate(s, maxLength)
  }
  return {
    format: text,
    formatValue: (info) => {
      if (serialization === 'PLAIN') return text(info) ?? null
      const v = info.filterState.get(key)
      return v === undefined || safeJson(v) === undefined ? null : v
    },
  }
}

function timeProvider(params: string, local: boolean): FormatterProvider {
  let formatter: DateFormatter
  try {
    formatter = new DateFormatter(params, local)
  } catch (err) {
    if (err instanceof DateFormatError) throw new FormatSyntaxError(err.message)
    throw err
  }
  return stringProvider((info) => formatter.format(info.startTime))
}

function replaceWhitespace(s: string): string {
  let out = ''
  for (const c of s) out += c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v' ? '_' : c
  return out
}

/** SNI comes from the client: keep hostname characters only, so a log line cannot be forged. */
function sanitizeHostname(s: string): string {
  let out = ''
  for (const c of s) out += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === '.' || c === '-' || c === '_' ? c : '_'
  return out
}

function flagNames(info: StreamInfo, long: boolean): string {
  if (info.responseFlags === 0) return '-'
  let out = ''
  for (const [flag, short, longName] of RESPONSE_FLAG_NAMES) {
    if ((info.responseFlags & flag) !== 0) out += (out === '' ? '' : ',') + (long ? longName : short)
  }
  return out
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === '' ? undefined : s
}

function commandOnly(create: () => FormatterProvider): CommandEntry {
  return { syntax: CommandSyntax.COMMAND_ONLY, create }
}

function build(): Map<string, CommandEntry> {
  const m = new Map<string, CommandEntry>()
  const withParams = CommandSyntax.PARAMS_REQUIRED | CommandSyntax.LENGTH_ALLOWED

  m.set('REQ', { syntax: withParams, create: (p, n) => headerProvider((i) => i.requestHeaders, p, n) })
  m.set('RESP', { syntax: withParams, create: (p, n) => headerProvider((i) => i.responseHeaders, p, n) })
  m.set('TRAILER', { syntax: withParams, create: (p, n) => headerProvider((i) => i.responseTrailers, p, n) })
  m.set('DYNAMIC_METADATA', { syntax: withParams, create: metadataProvider })
  m.set('FILTER_STATE', { syntax: withParams, create: filterStateProvider })
  m.set('ENVIRONMENT', {
    syntax: withParams,
    create: (p, n) => {
      // Read once: the environment does not change under a running proxy.
      const v = process.env[p]
      const s = v === undefined ? '-' : truncate(v, n)
      return { format: () => s, formatValue: () => s }
    },
  })
  m.set('START_TIME', { syntax: CommandSyntax.PARAMS_OPTIONAL, create: (p) => timeProvider(p, false) })
  m.set('START_TIME_LOCAL', { syntax: CommandSyntax.PARAMS_OPTIONAL, create: (p) => timeProvider(p, true) })
  m.set('RESPONSE_CODE_DETAILS', {
    syntax: CommandSyntax.PARAMS_OPTIONAL,
    create: (p) => {
      const keep = p === 'ALLOW_WHITESPACES'
      return stringProvider((i) => (i.responseCodeDetails === undefined || keep ? i.responseCodeDetails : replaceWhitespace(i.responseCodeDetails)))
    },
  })

  m.set('RESPONSE_CODE', commandOnly(() => numberProvider((i) => i.responseCode ?? 0)))
  m.set('RESPONSE_FLAGS', commandOnly(() => stringProvider((i) => flagNames(i, false))))
  m.set('RESPONSE_FLAGS_LONG', commandOnly(() => stringProvider((i) => flagNames(i, true))))
  m.set('BYTES_RECEIVED', commandOnly(() => numberProvider((i) => i.bytesReceived)))
  m.set('BYTES_SENT', commandOnly(() => numberProvider((i) => i.bytesSent)))
  m.set('UPSTREAM_WIRE_BYTES_SENT', commandOnly(() => numberProvider((i) => i.upstreamBytesSent)))
  m.set('UPSTREAM_WIRE_BYTES_RECEIVED', commandOnly(() => numberProvider((i) => i.upstreamBytesReceived)))
  m.set('UPSTREAM_REQUEST_ATTEMPT_COUNT', commandOnly(() => numberProvider((i) => i.upstreamRequestAttemptCount)))
  m.set('CONNECTION_ID', commandOnly(() => numberProvider((i) => i.connectionId)))
  // The body of a local reply, for local_reply_config body formats (set by the HCM).
  m.set('LOCAL_REPLY_BODY', commandOnly(() => stringProvider((i) => {
    const v = i.filterState.get(LOCAL_REPLY_BODY_KEY)
    return typeof v === 'string' ? v : undefined
  })))

  // DURATION of a stream still running is the time so far (Envoy's currentDuration()).
  m.set('DURATION', commandOnly(() => durationProvider((i) => (i.endTimeMonotonic ?? performance.now()) - i.startTimeMonotonic)))
  m.set('REQUEST_DURATION', commandOnly(() => durationProvider(sinceStart((i) => i.lastDownstreamRxByteReceived))))
  m.set('REQUEST_TX_DURATION', commandOnly(() => durationProvider(sinceStart((i) => i.lastUpstreamTxByteSent))))
  m.set('RESPONSE_DURATION', commandOnly(() => durationProvider(sinceStart((i) => i.firstUpstreamRxByteReceived))))
  m.set('RESPONSE_TX_DURATION', commandOnly(() => durationProvider((i) => (
    i.lastDownstreamTxByteSent === undefined || i.firstUpstreamRxByteReceived === undefined
      ? undefined
      : i.lastDownstreamTxByteSent - i.firstUpstreamRxByteReceived))))

  m.set('PROTOCOL', commandOnly(() => stringProvider((i) => i.protocol)))
  m.set('CONNECTION_TERMINATION_DETAILS', commandOnly(() => stringProvider((i) => nonEmpty(i.connectionTerminationDetails))))
  m.set('REQUESTED_SERVER_NAME', commandOnly(() => stringProvider((i) => (
    i.requestedServerName === undefined || i.requestedServerName === '' ? undefined : sanitizeHostname(i.requestedServerName)))))
  m.set('ROUTE_NAME', commandOnly(() => stringProvider((i) => nonEmpty(i.routeName))))
  m.set('VIRTUAL_CLUSTER_NAME', commandOnly(() => stringProvider((i) => nonEmpty(i.virtualClusterName))))
  m.set('UPSTREAM_CLUSTER', commandOnly(() => stringProvider((i) => nonEmpty(i.upstreamCluster))))
  m.set('UPSTREAM_HOST', commandOnly(() => stringProvider((i) => nonEmpty(i.upstreamHost))))
  m.set('UPSTREAM_HOST_NAME', commandOnly(() => stringProvider((i) => nonEmpty(i.upstreamHostname) ?? nonEmpty(i.upstreamHost))))
  m.set('UPSTREAM_TRANSPORT_FAILURE_REASON', commandOnly(() => stringProvider((i) => nonEmpty(i.upstreamTransportFailureReason)?.replaceAll(' ', '_'))))
  m.set('ACCESS_LOG_TYPE', commandOnly(() => stringProvider((_i, type) => type)))
  m.set('UNIQUE_ID', commandOnly(() => stringProvider(() => randomUUID())))
  m.set('HOSTNAME', commandOnly(() => {
    const name = nonEmpty(os.hostname())
    return stringProvider(() => name)
  }))

  addressProviders('DOWNSTREAM_REMOTE', (i) => i.downstreamRemoteAddress, m)
  addressProviders('DOWNSTREAM_DIRECT_REMOTE', (i) => i.downstreamDirectRemoteAddress, m)
  addressProviders('DOWNSTREAM_LOCAL', (i) => i.downstreamLocalAddress, m)
  addressProviders('UPSTREAM_LOCAL', (i) => i.upstreamLocalAddress, m)
  // The host we connected to is the upstream connection's remote address.
  addressProviders('UPSTREAM_REMOTE', (i) => i.upstreamHost, m)
  return m
}

/** Every built-in operator by command name. */
export const COMMAND_PROVIDERS: ReadonlyMap<string, CommandEntry> = build()
