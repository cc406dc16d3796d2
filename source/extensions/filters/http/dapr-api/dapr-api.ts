import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import {
  FilterDataStatus, type FilterDataStatusValue, FilterHeadersStatus, type FilterHeadersStatusValue, FilterTrailersStatus,
  type FilterTrailersStatusValue, type StreamDecoderFilter, type StreamDecoderFilterCallbacks,
} from '../../../../envoy/http/filter.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'
import type { Counter } from '../../../../envoy/stats/stats.js'
import { BufferImpl } from '../../../../common/buffer/buffer-impl.js'
import { HeaderMapImpl } from '../../../../common/http/header-map-impl.js'
import type { ApiName, ApiRequest, ApiResponse, ApiRoute } from './api-types.js'
import { type DaprHttpApi, tokenMatches } from './dapr-http-api.js'
import { httpErrorOf } from './http-errors.js'

/** `%RESPONSE_CODE_DETAILS%` of the filter's own answers. */
export const DaprApiDetails = {
  Response: 'dapr_api',
  Unauthorized: 'dapr_api_invalid_token',
  TooLarge: 'dapr_api_request_too_large',
} as const

export interface DaprApiStats {
  readonly rqTotal: Counter
  readonly rq2xx: Counter
  readonly rq4xx: Counter
  readonly rq5xx: Counter
  readonly unauthorized: Counter
  readonly perApi: Readonly<Record<ApiName, Counter>>
}

/** What every request of one filter config shares (per thread). */
export interface DaprApiFilterShared {
  readonly api: DaprHttpApi
  /** `api_token` as bytes; undefined when no token is required. */
  readonly token: Buffer | undefined
  readonly stats: DaprApiStats
}

/** Where a Dapr request is: reading its body, waiting for its handler, answered. */
const Phase = { Idle: 0, Reading: 1, Running: 2, Done: 3 } as const
type PhaseValue = (typeof Phase)[keyof typeof Phase]

/**
 * Dapr's HTTP API as an HTTP decoder filter (before the router): requests for Dapr's routes
 * (`/v1.0/...`, or any path with a `dapr-app-id` target) are read whole, within the decoder
 * buffer limit (413 past it), checked against `api_token`, answered by the runtime handlers and
 * encoded here as JSON (not as local replies, which are text/plain). Every other request
 * continues to the router untouched.
 */
export class DaprApiFilter implements StreamDecoderFilter {
  private readonly shared: DaprApiFilterShared
  private callbacks: StreamDecoderFilterCallbacks | undefined
  private route: ApiRoute | undefined
  private headers: HeaderMap | undefined
  private phase: PhaseValue = Phase.Idle
  private readonly chunks: Buffer[] = []
  private size = 0
  private destroyed = false

  constructor(shared: DaprApiFilterShared) {
    this.shared = shared
  }

  // Http.StreamDecoderFilter
  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.callbacks = callbacks
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    const rawPath = headers.get(':path') ?? '/'
    const q = rawPath.indexOf('?')
    const path = q < 0 ? rawPath : rawPath.slice(0, q)
    const route = this.shared.api.route(headers.get(':method') ?? 'GET', path, headers)
    if (route === undefined) return FilterHeadersStatus.Continue
    this.route = route
    this.headers = headers
    const stats = this.shared.stats
    stats.rqTotal.inc()
    stats.perApi[route.api].inc()
    const token = this.shared.token
    if (token !== undefined && !route.public && !tokenMatches(token, headers.getAll('dapr-api-token'))) {
      // Dapr's APITokenAuthMiddleware: a plain-text 401 (also for a second, repeated token).
      stats.unauthorized.inc()
      this.respond({ status: 401, contentType: 'text/plain; charset=utf-8', body: Buffer.from('invalid api token\n') }, DaprApiDetails.Unauthorized)
      return FilterHeadersStatus.StopIteration
    }
    const declared = Number(headers.get('content-length') ?? 0)
    if (declared > this.callbacks!.decoderBufferLimit()) {
      this.tooLarge()
      return FilterHeadersStatus.StopIteration
    }
    this.phase = Phase.Reading
    if (endStream) this.run()
    return FilterHeadersStatus.StopIteration
  }

  decodeData(data: BufferInstance, endStream: boolean): FilterDataStatusValue {
    if (this.route === undefined) return FilterDataStatus.Continue
    if (this.phase === Phase.Reading) {
      for (const s of data.slices()) this.chunks.push(Buffer.from(s))
      this.size += data.length
      if (this.size > this.callbacks!.decoderBufferLimit()) {
        this.tooLarge()
      } else if (endStream) {
        this.run()
      }
    }
    // Taken here (or dropped after an early answer): nothing moves on to the router.
    data.drain(data.length)
    return FilterDataStatus.StopIterationNoBuffer
  }

  decodeTrailers(trailers: HeaderMap): FilterTrailersStatusValue {
    void trailers
    if (this.route === undefined) return FilterTrailersStatus.Continue
    if (this.phase === Phase.Reading) this.run()
    return FilterTrailersStatus.StopIteration
  }

  onDestroy(): void {
    this.destroyed = true
  }

  // Internals.

  private tooLarge(): void {
    const limit = this.callbacks!.decoderBufferLimit()
    this.respondError({ status: 413, errorCode: 'ERR_BODY_READ', message: `failed to read request body: the body is larger than the limit of ${limit} bytes` }, DaprApiDetails.TooLarge)
  }

  private run(): void {
    this.phase = Phase.Running
    const h = this.headers!
    const rawPath = h.get(':path') ?? '/'
    const q = rawPath.indexOf('?')
    const rawQuery = q < 0 ? '' : rawPath.slice(q + 1)
    const req: ApiRequest = {
      method: h.get(':method') ?? 'GET',
      path: q < 0 ? rawPath : rawPath.slice(0, q),
      rawQuery,
      query: new URLSearchParams(rawQuery),
      headers: h,
      body: this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size),
    }
    this.chunks.length = 0
    let p: Promise<ApiResponse>
    try {
      p = this.route!.run(req)
    } catch (err) {
      p = Promise.reject(err)
    }
    p.then(
      (res) => this.callbacks!.dispatch(() => this.respond(res, DaprApiDetails.Response)),
      (err: unknown) => this.callbacks!.dispatch(() => {
        const e = httpErrorOf(err)
        if (e.status >= 500) this.callbacks!.log.debug({ err, code: e.errorCode }, 'dapr api request failed')
        this.respondError(e, DaprApiDetails.Response)
      }),
    )
  }

  private respondError(e: { status: number; errorCode: string; message: string }, details: string): void {
    this.respond({ status: e.status, contentType: 'application/json', body: Buffer.from(JSON.stringify({ errorCode: e.errorCode, message: e.message })) }, details)
  }

  private respond(res: ApiResponse, details: string): void {
    if (this.destroyed || this.phase === Phase.Done) return
    this.phase = Phase.Done
    const stats = this.shared.stats
    if (res.status >= 500) stats.rq5xx.inc()
    else if (res.status >= 400) stats.rq4xx.inc()
    else if (res.status >= 200 && res.status < 300) stats.rq2xx.inc()
    const h = new HeaderMapImpl()
    h.set(':status', String(res.status))
    for (const [k, v] of res.headers ?? []) h.add(k, v)
    const body = res.body
    const hasBody = body !== undefined && body.length > 0 && res.status !== 204 && res.status !== 304
    const isHead = this.headers?.get(':method') === 'HEAD'
    if (res.contentType !== undefined && res.status !== 204) h.set('content-type', res.contentType)
    if (res.status !== 204 && res.status !== 304 && !(isHead && h.has('content-length'))) h.set('content-length', String(hasBody ? body.length : 0))
    const cb = this.callbacks!
    if (!hasBody || isHead) {
      cb.encodeHeaders(h, true, details)
      return
    }
    cb.encodeHeaders(h, false, details)
    if (!this.destroyed) cb.encodeData(new BufferImpl(body), true)
  }
}
