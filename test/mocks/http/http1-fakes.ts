/**
 * Recording fakes for HTTP/1 codec tests: a ServerConnectionCallbacks whose RequestDecoders
 * record what the codec delivers (and answer local replies the way the HCM does), and a
 * ResponseDecoder for the client codec. Settings and stats helpers too.
 */
import { BufferImpl } from '../../../source/common/buffer/buffer-impl.js'
import { HeaderMapImpl } from '../../../source/common/http/header-map-impl.js'
import { type Http1CodecStats, http1CodecStats } from '../../../source/common/http/http1/codec-stats.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import type { BufferInstance } from '../../../source/envoy/buffer/buffer.js'
import type {
  Http1Settings, RequestDecoder, ResponseDecoder, ResponseEncoder, ServerConnectionCallbacks, StreamCallbacks,
  StreamResetReason,
} from '../../../source/envoy/http/codec.js'
import type { HeaderMap } from '../../../source/envoy/http/header-map.js'
import { newStatMemory } from '../network/factory-context.js'

/** Envoy's defaults (60 KiB of headers, 100 of them, no HTTP/1.0, no trailers). */
export function http1Settings(overrides: Partial<Http1Settings> = {}): Http1Settings {
  return {
    maxHeadersBytes: 60 * 1024,
    maxHeadersCount: 100,
    acceptHttp10: false,
    defaultHostForHttp10: '',
    allowAbsoluteUrl: true,
    enableTrailers: false,
    allowChunkedLength: false,
    headersWithUnderscores: 'ALLOW',
    ...overrides,
  }
}

export function testCodecStats(): Http1CodecStats & { store: ThreadLocalStoreImpl } {
  const store = new ThreadLocalStoreImpl(newStatMemory(), 0)
  return { ...http1CodecStats(store), store }
}

/** Header map as `name: value` lines, in order (pseudo-headers included). */
export function headerList(h: HeaderMap): string[] {
  return [...h.entries()].map(([n, v]) => `${n}: ${v}`)
}

/** Lets microtasks (deferred flushes, closes, pipelined resumes) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** One request as the codec delivered it. */
export class RecordingRequestDecoder implements RequestDecoder, StreamCallbacks {
  readonly encoder: ResponseEncoder
  /** Every call, in order: `headers`, `data:<bytes>`, `data-end:<bytes>`, `trailers`, `reply:<code>`. */
  readonly events: string[] = []
  headers: HeaderMap | undefined
  headersEnd = false
  trailers: HeaderMap | undefined
  body = ''
  ended = false
  localReply: { code: number; body: string; details: string } | undefined
  resets: StreamResetReason[] = []
  watermarks: string[] = []
  /** Called after decodeHeaders (to answer synchronously, say). */
  onHeaders: ((d: RecordingRequestDecoder) => void) | undefined

  constructor(encoder: ResponseEncoder) {
    this.encoder = encoder
    encoder.stream.addCallbacks(this)
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.events.push(endStream ? 'headers-end' : 'headers')
    this.headers = headers
    this.headersEnd = endStream
    if (endStream) this.ended = true
    this.onHeaders?.(this)
  }

  decodeData(data: BufferInstance, endStream: boolean): void {
    const s = data.toString('latin1')
    data.drain(data.length)
    this.events.push(`${endStream ? 'data-end' : 'data'}:${s}`)
    this.body += s
    if (endStream) this.ended = true
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.events.push('trailers')
    this.trailers = trailers
    this.ended = true
  }

  /** What the HCM does: a small text reply. */
  sendLocalReply(code: number, body: string, details: string): void {
    this.events.push(`reply:${code}`)
    this.localReply = { code, body, details }
    this.respond(code, body)
  }

  /** Answers with `content-length` framing. */
  respond(code: number, body = '', extra: Record<string, string> = {}): void {
    const h = new HeaderMapImpl({ ':status': String(code), 'content-length': String(body.length), ...extra })
    this.encoder.encodeHeaders(h, body === '')
    if (body !== '') this.encoder.encodeData(new BufferImpl(body), true)
  }

  // Http.StreamCallbacks
  onResetStream(reason: StreamResetReason): void {
    this.resets.push(reason)
  }

  onAboveWriteBufferHighWatermark(): void {
    this.watermarks.push('above')
  }

  onBelowWriteBufferLowWatermark(): void {
    this.watermarks.push('below')
  }
}

export class RecordingServerCallbacks implements ServerConnectionCallbacks {
  readonly streams: RecordingRequestDecoder[] = []
  /** The details of each protocol error the codec reported. */
  readonly protocolErrors: string[] = []
  /** Called for each new stream before the codec delivers anything to it. */
  onNewStream: ((d: RecordingRequestDecoder) => void) | undefined

  newStream(encoder: ResponseEncoder): RequestDecoder {
    const d = new RecordingRequestDecoder(encoder)
    this.streams.push(d)
    this.onNewStream?.(d)
    return d
  }

  onProtocolError(details: string): void {
    this.protocolErrors.push(details)
  }

  get last(): RecordingRequestDecoder {
    const s = this.streams.at(-1)
    if (s === undefined) throw new Error('no stream')
    return s
  }
}

/** A response as the client codec delivered it. */
export class RecordingResponseDecoder implements ResponseDecoder, StreamCallbacks {
  readonly events: string[] = []
  informational: HeaderMap[] = []
  headers: HeaderMap | undefined
  trailers: HeaderMap | undefined
  body = ''
  ended = false
  resets: Array<{ reason: StreamResetReason; details: string }> = []

  decode1xxHeaders(headers: HeaderMap): void {
    this.events.push(`1xx:${headers.get(':status')}`)
    this.informational.push(headers)
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.events.push(endStream ? 'headers-end' : 'headers')
    this.headers = headers
    if (endStream) this.ended = true
  }

  decodeData(data: BufferInstance, endStream: boolean): void {
    const s = data.toString('latin1')
    data.drain(data.length)
    this.events.push(`${endStream ? 'data-end' : 'data'}:${s}`)
    this.body += s
    if (endStream) this.ended = true
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.events.push('trailers')
    this.trailers = trailers
    this.ended = true
  }

  onResetStream(reason: StreamResetReason, details: string): void {
    this.resets.push({ reason, details })
  }

  onAboveWriteBufferHighWatermark(): void {
    this.events.push('above')
  }

  onBelowWriteBufferLowWatermark(): void {
    this.events.push('below')
  }
}
