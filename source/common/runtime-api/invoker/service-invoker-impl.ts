import type { Logger } from 'pino'
import { BufferImpl } from '../../buffer/buffer-impl.js'
import { HeaderMapImpl } from '../../http/header-map-impl.js'
import { ClientConnectionImpl as Http1Client } from '../../http/http1/client-connection-impl.js'
import type { Http1CodecStats } from '../../http/http1/codec-stats.js'
import { FilterStatus } from '../../../envoy/network/filter.js'
import type { Http1Settings } from '../../../envoy/http/codec.js'
import type { InvokeRequest, InvokeResponse, ServiceInvoker } from '../../../envoy/runtime-api/invoker.js'
import { RuntimeStatus } from '../../../envoy/runtime-api/errors.js'
import type { InternalListenerRegistry } from '../../network/internal-listener-registry.js'
import { startTimer } from '../../event/timer-impl.js'

const SETTINGS: Http1Settings = {
  maxHeadersBytes: 60 * 1024,
  maxHeadersCount: 100,
  acceptHttp10: true,
  defaultHostForHttp10: '',
  allowAbsoluteUrl: false,
  enableTrailers: false,
  allowChunkedLength: false,
  headersWithUnderscores: 'ALLOW',
}

/**
 * The largest response body an invocation buffers (Dapr's default `max-body-size`, 4 MB): the
 * answer goes back whole, as one gRPC message or HTTP response.
 */
export const MAX_INVOKE_RESPONSE_BYTES = 4 * 1024 * 1024

/** Request headers a caller may not set on an invocation (framing and routing are ours). */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te'])

/** A failed invocation, with the status the runtime API answers. */
export class InvokeError extends Error {
  readonly status: number
  readonly errorCode: string

  constructor(status: number, errorCode: string, message: string) {
    super(message)
    this.status = status
    this.errorCode = errorCode
  }
}

/**
 * InvokeService through the proxy (DESIGN.md: an internal listener, Layotto's pipe into an
 * egress listener): each invocation is an HTTP/1.1 request on a fresh in-process connection to
 * the internal listener, so that listener's route table, retries, timeouts, stats and access
 * logs apply. One per worker.
 */
export class ServiceInvokerImpl implements ServiceInvoker {
  private readonly registry: InternalListenerRegistry
  private readonly stats: Http1CodecStats
  private readonly log: Logger

  constructor(registry: InternalListenerRegistry, stats: Http1CodecStats, log: Logger) {
    this.registry = registry
    this.stats = stats
    this.log = log
  }

  invoke(listener: string, req: InvokeRequest, timeoutMs: number): Promise<InvokeResponse> {
    const conn = this.registry.connect(listener)
    if (conn === undefined) {
      return Promise.reject(new InvokeError(RuntimeStatus.FAILED_PRECONDITION, 'ERR_DIRECT_INVOKE',
        `service invocation channel: no internal listener named '${listener}' on this worker`))
    }
    return new Promise<InvokeResponse>((resolve, reject) => {
      const codec = new Http1Client(conn, SETTINGS, this.stats)
      let settled = false
      const settle = (fn: () => void): void => {
        if (settled) return
        settled = true
        timer?.disableTimer()
        fn()
        conn.close('NoFlush')
      }
      const timer = timeoutMs > 0
        ? startTimer(timeoutMs, () => settle(() => reject(new InvokeError(RuntimeStatus.DEADLINE_EXCEEDED, 'ERR_DIRECT_INVOKE', `invoking ${req.appId}/${req.method} timed out after ${timeoutMs} ms`))))
        : undefined
      const chunks: Buffer[] = []
      let bodyBytes = 0
      let status = 0
      const headers: Array<readonly [string, string]> = []
      conn.addReadFilter({
        initializeReadFilterCallbacks: () => {},
        onNewConnection: () => FilterStatus.Continue,
        onData: (data, endStream) => {
          if (data.length > 0) {
            const r = codec.dispatch(data)
            if (!r.ok) settle(() => reject(new InvokeError(RuntimeStatus.INTERNAL, 'ERR_DIRECT_INVOKE', `bad response from the internal listener: ${r.details}`)))
          }
          if (endStream) codec.onRemoteClose()
          return FilterStatus.StopIteration
        },
      })
      conn.addConnectionCallbacks({
        onEvent: (e) => {
          if (e === 'Connected') {
            const h = new HeaderMapImpl()
            h.set(':method', req.verb === '' ? 'POST' : req.verb.toUpperCase())
            const method = req.method.startsWith('/') ? req.method : `/${req.method}`
            h.set(':path', req.querystring === '' ? method : `${method}?${req.querystring.replace(/^\?/, '')}`)
            h.set(':authority', req.appId)
            for (const [k, v] of Object.entries(req.headers)) if (!RESERVED.has(k.toLowerCase()) && !k.startsWith(':')) h.set(k.toLowerCase(), v)
            h.set('dapr-app-id', req.appId)
            if (req.contentType !== '') h.set('content-type', req.contentType)
            h.set('content-length', String(req.data.byteLength))
            const encoder = codec.newStream({
              decode1xxHeaders: () => {},
              decodeHeaders: (rh, end) => {
                status = Number(rh.get(':status') ?? 0)
                rh.forEach((k, v) => { if (!k.startsWith(':')) headers.push([k, v]) })
                if (end) settle(() => resolve(this.response(status, headers, chunks)))
              },
              decodeData: (d, end) => {
                bodyBytes += d.length
                if (bodyBytes > MAX_INVOKE_RESPONSE_BYTES) {
                  d.drain(d.length)
                  settle(() => reject(new InvokeError(RuntimeStatus.RESOURCE_EXHAUSTED, 'ERR_DIRECT_INVOKE',
                    `invoking ${req.appId}/${req.method}: the response body is larger than ${MAX_INVOKE_RESPONSE_BYTES} bytes`)))
                  return
                }
                for (const s of d.slices()) chunks.push(s)
                d.drain(d.length)
                if (end) settle(() => resolve(this.response(status, headers, chunks)))
              },
              decodeTrailers: () => settle(() => resolve(this.response(status, headers, chunks))),
            })
            encoder.stream.addCallbacks({
              onResetStream: (reason) => settle(() => reject(new InvokeError(RuntimeStatus.UNAVAILABLE, 'ERR_DIRECT_INVOKE', `invoking ${req.appId}/${req.method}: ${reason}`))),
              onAboveWriteBufferHighWatermark: () => {},
              onBelowWriteBufferLowWatermark: () => {},
            })
            const empty = req.data.byteLength === 0
            encoder.encodeHeaders(h, empty)
            if (!empty) encoder.encodeData(new BufferImpl(Buffer.from(req.data.buffer, req.data.byteOffset, req.data.byteLength)), true)
            return
          }
          settle(() => reject(new InvokeError(RuntimeStatus.UNAVAILABLE, 'ERR_DIRECT_INVOKE', `invoking ${req.appId}/${req.method}: the internal connection closed`)))
        },
        onAboveWriteBufferHighWatermark: () => {},
        onBelowWriteBufferLowWatermark: () => {},
      })
      conn.initializeReadFilters()
      conn.connect()
      this.log.debug({ listener, app: req.appId, method: req.method }, 'service invocation')
    })
  }

  private response(status: number, headers: ReadonlyArray<readonly [string, string]>, chunks: Buffer[]): InvokeResponse {
    return { status, headers, data: Buffer.concat(chunks), contentType: headers.find(([k]) => k === 'content-type')?.[1] ?? '' }
  }
}
