/**
 * `http_health_check` over HTTP/1.1 (Envoy's HttpHealthCheckerImpl), using Node's HTTP client on
 * main. Each check sends `<method> <path>` with `host` (the endpoint's
 * `health_check_config.hostname`, else `http_health_check.host`, else the cluster name) and
 * `user-agent: Envoy/HC`, plus `request_headers_to_add` / minus `request_headers_to_remove`.
 *
 * The result, in Envoy's order: a `receive` mismatch or a status outside `expected_statuses`
 * (default 200) fails the host at once (ACTIVE), unless the status is in `retriable_statuses`
 * (then it counts towards `unhealthy_threshold`); with `x-envoy-immediate-health-check-fail` on
 * such a response the host is also excluded. `service_name_matcher` checks
 * `x-envoy-upstream-healthchecked-cluster` (counting `verify_cluster`). A pass with
 * `x-envoy-degraded` marks the host degraded. Resets and refused connects are NETWORK failures.
 * With `reuse_connection` (default) one keep-alive connection serves every check; one the host
 * closed while idle is dropped by the agent and the next check connects again. A check whose
 * reused connection fails before any byte of the answer (the host's idle close crossing the
 * request) is sent once more, on a fresh connection, before it counts as a failure.
 */
import http from 'node:http'
import { HealthFlag } from '../../../envoy/upstream/host.js'
import { compileStringMatcher, type StringMatch } from '../../matcher/string-matcher.js'
import type { HealthCheck, HeaderValueOption } from '../../protobuf/generated/envoy/config/core/v3.js'
import type { ClusterHost } from '../cluster-host.js'
import { ActiveHealthCheckSession, HealthCheckerImplBase, type HealthCheckerContext } from './health-checker-base.js'
import { loadPayloadBytes, payloadMatches } from './payload.js'

/** Envoy's default `response_buffer_size`. */
const DEFAULT_RESPONSE_BUFFER = 1024
/** A bound even for `response_buffer_size: 0` ("unlimited"). */
const MAX_RESPONSE_BUFFER = 1024 * 1024

type Range = readonly [number, number]

function inRanges(code: number, ranges: readonly Range[]): boolean {
  return ranges.some(([start, end]) => code >= start && code < end)
}

/** `request_headers_to_add` applied to a header object, by append action (values are literal). */
function applyHeaderOption(headers: Record<string, string | string[]>, o: HeaderValueOption): void {
  const key = o.header?.key.toLowerCase() ?? ''
  const value = o.header?.value !== '' ? (o.header?.value ?? '') : Buffer.from(o.header?.raw_value ?? '', 'base64').toString('latin1')
  if (key === '' || key === 'host' || key.startsWith(':') || (value === '' && !o.keep_empty_value)) return
  const action = o.append === undefined ? o.append_action : o.append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD'
  const current = headers[key]
  switch (action) {
    case 'ADD_IF_ABSENT':
      if (current === undefined) headers[key] = value
      return
    case 'OVERWRITE_IF_EXISTS':
      if (current !== undefined) headers[key] = value
      return
    case 'OVERWRITE_IF_EXISTS_OR_ADD':
      headers[key] = value
      return
    default:
      headers[key] = current === undefined ? value : [...(Array.isArray(current) ? current : [current]), value]
  }
}

export class HttpHealthCheckerImpl extends HealthCheckerImplBase {
  readonly type = 'HTTP' as const
  readonly path: string
  readonly method: string
  readonly receive: Buffer[]
  readonly responseBufferSize: number
  readonly serviceNameMatcher: StringMatch | undefined
  private readonly hostValue: string
  private readonly expected: Range[]
  private readonly retriable: Range[]
  private readonly headersToAdd: readonly HeaderValueOption[]
  private readonly headersToRemove: string[]

  constructor(config: HealthCheck, ctx: HealthCheckerContext) {
    super(config, ctx)
    const h = config.http_health_check!
    this.path = h.path
    this.hostValue = h.host
    this.method = h.method === 'METHOD_UNSPECIFIED' ? 'GET' : h.method
    this.receive = loadPayloadBytes(h.receive).bytes
    const size = h.response_buffer_size ?? DEFAULT_RESPONSE_BUFFER
    this.responseBufferSize = size === 0 ? MAX_RESPONSE_BUFFER : Math.min(size, MAX_RESPONSE_BUFFER)
    this.serviceNameMatcher = h.service_name_matcher === undefined ? undefined : compileStringMatcher(h.service_name_matcher)
    this.expected = h.expected_statuses.map((r) => [r.start, r.end] as const)
    if (this.expected.length === 0) this.expected.push([200, 201])
    this.retriable = h.retriable_statuses.map((r) => [r.start, r.end] as const)
    this.headersToAdd = h.request_headers_to_add
    this.headersToRemove = h.request_headers_to_remove.map((n) => n.toLowerCase())
  }

  /** Envoy's HealthCheckerFactory::getHostname. */
  hostnameFor(host: ClusterHost): string {
    return host.snapshot.healthCheckHostname ?? (this.hostValue !== '' ? this.hostValue : this.ctx.clusterName)
  }

  requestHeaders(host: ClusterHost): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = { host: this.hostnameFor(host), 'user-agent': 'Envoy/HC' }
    for (const o of this.headersToAdd) applyHeaderOption(headers, o)
    for (const n of this.headersToRemove) if (n !== 'host') delete headers[n]
    return headers
  }

  expectedStatus(code: number): boolean {
    return inRanges(code, this.expected)
  }

  retriableStatus(code: number): boolean {
    return inRanges(code, this.retriable)
  }

  protected makeSession(host: ClusterHost): ActiveHealthCheckSession {
    return new HttpActiveHealthCheckSession(this, host)
  }
}

class HttpActiveHealthCheckSession extends ActiveHealthCheckSession {
  private readonly checker: HttpHealthCheckerImpl
  private agent: http.Agent | undefined
  private request: http.ClientRequest | undefined
  /** This check was already sent again after its reused connection failed. */
  private resent = false

  constructor(parent: HttpHealthCheckerImpl, host: ClusterHost) {
    super(parent, host)
    this.checker = parent
  }

  protected onInterval(): void {
    this.resent = false
    this.send()
  }

  private send(): void {
    const c = this.checker
    const t = this.host.healthCheckTarget()
    if (c.reuseConnection) this.agent ??= new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 })
    const req = http.request({
      method: c.method,
      path: c.path,
      headers: c.requestHeaders(this.host),
      agent: c.reuseConnection ? this.agent! : false,
      ...(t.family === 0 ? { socketPath: t.ip } : { host: t.ip, port: t.port, family: t.family }),
    })
    this.request = req
    let answered = false
    req.on('response', (res) => {
      answered = true
      this.onResponse(req, res)
    })
    req.on('error', () => {
      if (this.request !== req) return
      this.request = undefined
      if (req.reusedSocket && !answered && !this.resent) {
        // Node's agent has dropped the dead socket: this goes out on a new connection.
        this.resent = true
        this.send()
        return
      }
      // A reset or refused connect (Envoy's onResetStream): a network failure.
      this.handleFailure('NETWORK')
    })
    req.end()
  }

  protected onTimeout(): void {
    this.abort()
  }

  protected onDestroy(): void {
    this.abort()
    this.agent?.destroy()
    this.agent = undefined
  }

  private abort(): void {
    const req = this.request
    this.request = undefined
    req?.destroy()
  }

  private onResponse(req: http.ClientRequest, res: http.IncomingMessage): void {
    const c = this.checker
    const chunks: Buffer[] = []
    let kept = 0
    res.on('data', (chunk: Buffer) => {
      if (c.receive.length === 0 || kept >= c.responseBufferSize) return
      const part = chunk.subarray(0, c.responseBufferSize - kept)
      chunks.push(part)
      kept += part.length
    })
    res.on('error', () => {})
    res.on('end', () => {
      if (this.request !== req) return
      this.request = undefined
      this.onResponseComplete(res, Buffer.concat(chunks, kept))
      const close = !c.reuseConnection || res.headers.connection?.toLowerCase() === 'close' || res.httpVersion === '1.0'
      if (close) res.socket?.destroy()
    })
  }

  private onResponseComplete(res: http.IncomingMessage, body: Buffer): void {
    const c = this.checker
    const code = res.statusCode ?? 0
    const immediateFail = res.headers['x-envoy-immediate-health-check-fail'] !== undefined
    if (c.receive.length > 0 && !payloadMatches(c.receive, body)) {
      if (immediateFail) this.host.healthFlagSet(HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL)
      this.handleFailure('ACTIVE', false)
      return
    }
    if (!c.expectedStatus(code)) {
      // Only a failing status with the header excludes the host (as in Envoy).
      if (immediateFail) this.host.healthFlagSet(HealthFlag.EXCLUDED_VIA_IMMEDIATE_HC_FAIL)
      this.handleFailure('ACTIVE', c.retriableStatus(code))
      return
    }
    const degraded = res.headers['x-envoy-degraded'] !== undefined
    if (c.serviceNameMatcher !== undefined) {
      c.stats.verify_cluster.inc()
      const cluster = res.headers['x-envoy-upstream-healthchecked-cluster']
      if (!c.serviceNameMatcher(typeof cluster === 'string' ? cluster : '')) {
        this.handleFailure('ACTIVE', false)
        return
      }
    }
    this.handleSuccess(degraded)
  }
}
