import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import {
  FilterDataStatus, type FilterDataStatusValue, FilterHeadersStatus, type FilterHeadersStatusValue, FilterTrailersStatus,
  type FilterTrailersStatusValue, type StreamDecoderFilter, type StreamDecoderFilterCallbacks,
} from '../../../../envoy/http/filter.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'

export const BUFFER_FILTER_NAME = 'envoy.filters.http.buffer'

/** One buffer setting: the filter's `Buffer`, or a route's `BufferPerRoute`. */
export interface BufferSettings {
  readonly disabled: boolean
  readonly maxRequestBytes: number
}

const SETTINGS = Symbol('buffer settings')

/** Tags built settings so a per-route config can be told from another filter's. */
export function makeBufferSettings(s: BufferSettings): BufferSettings {
  return Object.assign(Object.create(null) as object, s, { [SETTINGS]: true }) as BufferSettings
}

function isBufferSettings(v: unknown): v is BufferSettings {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[SETTINGS] === true
}

/**
 * Envoy's buffer filter: holds a request until its whole body has arrived, then lets it go with
 * a `content-length` (when the request had none). The limit is the stream's decoder buffer
 * limit, set here to `max_request_bytes`; past it the filter manager answers 413
 * (`request_payload_too_large`). Header-only requests pass at once.
 */
export class BufferFilter implements StreamDecoderFilter {
  private readonly settings: BufferSettings
  private callbacks: StreamDecoderFilterCallbacks | undefined
  private active: BufferSettings | undefined
  private requestHeaders: HeaderMap | undefined
  private contentLength = 0

  constructor(settings: BufferSettings) {
    this.settings = settings
  }

  // Http.StreamDecoderFilter
  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.callbacks = callbacks
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatusValue {
    if (endStream) return FilterHeadersStatus.Continue
    const perRoute = this.callbacks!.perFilterConfig<unknown>(BUFFER_FILTER_NAME)
    this.active = isBufferSettings(perRoute) ? perRoute : this.settings
    if (this.active.disabled) return FilterHeadersStatus.Continue
    this.callbacks!.setDecoderBufferLimit(this.active.maxRequestBytes)
    this.requestHeaders = headers
    return FilterHeadersStatus.StopIteration
  }

  decodeData(data: BufferInstance, endStream: boolean): FilterDataStatusValue {
    this.contentLength += data.length
    if (endStream || this.active === undefined || this.active.disabled) {
      this.maybeAddContentLength()
      return FilterDataStatus.Continue
    }
    // Hold everything until the end; over the limit the filter manager sends the 413.
    return FilterDataStatus.StopIterationAndBuffer
  }

  decodeTrailers(trailers: HeaderMap): FilterTrailersStatusValue {
    void trailers
    this.maybeAddContentLength()
    return FilterTrailersStatus.Continue
  }

  /** Set only when the filter buffered (request headers were kept) and the client sent none. */
  private maybeAddContentLength(): void {
    const h = this.requestHeaders
    if (h !== undefined && !h.has('content-length')) {
      // The body is whole now: a length replaces chunked framing upstream.
      h.remove('transfer-encoding')
      h.set('content-length', String(this.contentLength))
    }
  }
}
