import http from 'node:http'
import https from 'node:https'
import type { Logger } from 'pino'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'
import type { OutputBinding } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus, type RuntimeStatusCode } from '../../../../envoy/runtime-api/errors.js'
import { startTimer } from '../../../../common/event/timer-impl.js'
import type { Timer } from '../../../../envoy/event/timer.js'
import { own, setOwn } from '../../../../common/common/own-keys.js'

export interface HttpBindingOptions {
  url: URL
  /** Per-request timeout in ms; undefined: none (Dapr's default). */
  responseTimeoutMs: number | undefined
  /** Response bytes kept; longer bodies are cut there, as Dapr's LimitReader does. <= 0: no limit. */
  maxResponseBodySize: number
  /** Fail for non-2xx responses (Dapr's default, overridable per request). */
  errorIfNot2XX: boolean
  securityToken: string
  securityTokenHeader: string
}

/** Dapr's operation list for bindings.http, `create` kept for backward compatibility (= POST). */
export const HTTP_BINDING_OPERATIONS = ['create', 'get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'] as const

const WITH_BODY = new Set(['POST', 'PUT', 'PATCH'])
const TRACE_KEYS = ['traceparent', 'tracestate', 'baggage'] as const
const JSON_UTF8 = 'application/json; charset=utf-8'

/**
 * Dapr's `bindings.http` output binding: each invocation is one HTTP request to the configured
 * `url` (request metadata `path` appended), the operation naming the method. One instance per
 * thread (not embedded), each with its own keep-alive agent.
 *
 * Request metadata whose key starts with an upper-case letter becomes a request header, as do
 * `traceparent`, `tracestate` and `baggage`. The response's data is the body; its metadata is
 * `statusCode`, `status` (`200 OK`) and each response header (canonical case, values joined
 * with ", "). A non-2xx answer fails (`received status code N`) unless `errorIfNot2XX` is false
 * in the component or the request metadata.
 */
export class HttpOutputBinding implements OutputBinding {
  readonly name: string
  private readonly options: HttpBindingOptions
  private readonly log: Logger
  private readonly agent: http.Agent

  constructor(name: string, options: HttpBindingOptions, log: Logger) {
    this.name = name
    this.options = options
    this.log = log
    this.agent = options.url.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })
  }

  // OutputBinding
  async operations(): Promise<string[]> {
    return [...HTTP_BINDING_OPERATIONS]
  }

  async invoke(operation: string, data: Uint8Array, metadata: Record<string, string>): Promise<{ data: Uint8Array; metadata: Record<string, string> }> {
    let method = operation.toUpperCase()
    if (method === 'CREATE') method = 'POST'
    if (!(HTTP_BINDING_OPERATIONS as readonly string[]).includes(operation)) {
      throw bindingError(RuntimeStatus.INVALID_ARGUMENT,
        `binding ${this.name} does not support operation ${operation}. supported operations: ${HTTP_BINDING_OPERATIONS.join(' ')}`)
    }
    const md = metadata ?? {}
    const target = new URL(this.options.url.href)
    const path = md['path']
    if (path !== undefined && path !== '') {
      const base = target.href.replace(/\/+$/, '')
      const joined = new URL(`${base}/${path.replace(/^\/+/, '')}`)
      target.pathname = joined.pathname
      target.search = joined.search
    }
    let errorIfNot2XX = this.options.errorIfNot2XX
    const override = md['errorIfNot2XX']
    if (override !== undefined && override !== '') errorIfNot2XX = isTruthy(override)

    const hasBody = WITH_BODY.has(method)
    const headers: Record<string, string> = {}
    if (hasBody && !('Content-Type' in md)) headers['content-type'] = JSON_UTF8
    if (!('Accept' in md)) headers['accept'] = JSON_UTF8
    if (this.options.securityToken !== '' && this.options.securityTokenHeader !== '') {
      headers[this.options.securityTokenHeader.toLowerCase()] = this.options.securityToken
    }
    for (const [k, v] of Object.entries(md)) {
      const c = k.charCodeAt(0)
      if (c >= 65 && c <= 90) setOwn(headers, k.toLowerCase(), v)
    }
    for (const k of TRACE_KEYS) {
      const v = own(md, k)
      if (v !== undefined && v !== '') headers[k] = v
    }
    if (hasBody) headers['content-length'] = String(data.byteLength)

    const res = await this.request(method, target, headers, hasBody ? data : undefined)
    const out: Record<string, string> = { statusCode: String(res.statusCode), status: `${res.statusCode} ${res.statusMessage}`.trimEnd() }
    for (const [k, v] of Object.entries(res.headers)) out[canonicalHeaderKey(k)] = v
    if (errorIfNot2XX && Math.floor(res.statusCode / 100) !== 2) {
      throw bindingError(RuntimeStatus.INTERNAL, `received status code ${res.statusCode}`)
    }
    return { data: res.body, metadata: out }
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy()
  }

  private request(method: string, url: URL, headers: Record<string, string>, body: Uint8Array | undefined): Promise<{
    statusCode: number
    statusMessage: string
    headers: Record<string, string>
    body: Uint8Array
  }> {
    const mod = url.protocol === 'https:' ? https : http
    const limit = this.options.maxResponseBodySize
    return new Promise((resolve, reject) => {
      let req: http.ClientRequest
      try {
        req = mod.request(url, { method, headers, agent: this.agent })
      } catch (err) {
        // Node rejects invalid header names or values before sending anything.
        reject(bindingError(RuntimeStatus.INVALID_ARGUMENT, `invalid request: ${(err as Error).message}`))
        return
      }
      let timer: Timer | undefined
      if (this.options.responseTimeoutMs !== undefined) {
        const ms = this.options.responseTimeoutMs
        timer = startTimer(ms, () => req.destroy(bindingError(RuntimeStatus.INTERNAL, `no response within ${ms}ms`)))
      }
      const fail = (err: Error): void => {
        timer?.disableTimer()
        reject('status' in err ? err : bindingError(RuntimeStatus.INTERNAL, err.message))
      }
      req.on('error', fail)
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        let size = 0
        let finished = false
        const done = (): void => {
          if (finished) return
          finished = true
          timer?.disableTimer()
          const headersOut: Record<string, string> = {}
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined) continue
            setOwn(headersOut, k, Array.isArray(v) ? v.join(', ') : v)
          }
          resolve({ statusCode: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: headersOut, body: new Uint8Array(Buffer.concat(chunks, size)) })
        }
        res.on('data', (chunk: Buffer) => {
          if (finished) return
          if (limit > 0 && size + chunk.length >= limit) {
            chunks.push(chunk.subarray(0, limit - size))
            size = limit
            if (this.log.isLevelEnabled('debug')) this.log.debug({ binding: this.name, limit }, 'response body cut at maxResponseBodySize')
            done()
            res.destroy()
            return
          }
          chunks.push(chunk)
          size += chunk.length
        })
        res.on('end', done)
        res.on('error', (err) => { if (!finished) fail(err) })
      })
      if (body !== undefined) req.end(body)
      else req.end()
    })
  }
}

/** `content-type` → `Content-Type`, as Go's http.CanonicalHeaderKey (what Dapr returns). */
export function canonicalHeaderKey(k: string): string {
  return k.split('-').map((p) => p.length === 0 ? p : p[0]!.toUpperCase() + p.slice(1).toLowerCase()).join('-')
}

/** Dapr kit's IsTruthy: y, yes, true, t, on, 1 (any case). */
export function isTruthy(v: string): boolean {
  return ['y', 'yes', 'true', 't', 'on', '1'].includes(v.trim().toLowerCase())
}

function bindingError(status: RuntimeStatusCode, message: string): RuntimeApiError {
  return new RuntimeApiError(status, 'ERR_INVOKE_OUTPUT_BINDING', message)
}
