import type { Logger } from 'pino'
import type { BufferInstance } from '../../envoy/buffer/buffer.js'
import {
  type DownstreamWatermarkCallbacks, FilterDataStatus, type FilterDataStatusValue, FilterHeadersStatus,
  type FilterHeadersStatusValue, FilterTrailersStatus, type StreamDecoderFilter, type StreamDecoderFilterCallbacks,
  type StreamEncoderFilter, type StreamEncoderFilterCallbacks,
} from '../../envoy/http/filter.js'
import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { Connection } from '../../envoy/network/connection.js'
import type { Route } from '../../envoy/router/router.js'
import type { StreamInfo } from '../../envoy/stream-info/stream-info.js'
import { BufferImpl } from '../buffer/buffer-impl.js'
import { HeaderMapImpl } from './header-map-impl.js'

/**
 * What the filter manager needs from its stream (the HCM's ActiveStream): the downstream side,
 * the route, and the final step of each direction.
 */
export interface FilterManagerOwner {
  readonly streamId: number
  readonly streamInfo: StreamInfo
  readonly log: Logger
  connection(): Connection | undefined
  route(): Route | undefined
  clearRouteCache(): void
  perFilterConfig(name: string): unknown
  /** Sends the response (after every encoder filter) to the codec. */
  encodeHeadersToCodec(headers: HeaderMap, endStream: boolean): void
  encodeDataToCodec(data: BufferInstance, endStream: boolean): void
  encodeTrailersToCodec(trailers: HeaderMap): void
  encode1xxToCodec(headers: HeaderMap): void
  /** Builds and sends a local reply through the encoder filters (local_reply_config applies). */
  sendLocalReply(code: number, body: string, details: string, modifyHeaders?: (h: HeaderMap) => void): void
  resetStream(): void
  /** Flow control: stop or resume reading the downstream. */
  readDisable(disable: boolean): void
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void
  /** Runs filter code with the stream's exception guard. */
  guard(fn: () => void): void
  readonly bufferLimit: number
}

type Direction = 'decode' | 'encode'

/** Per-filter iteration state. */
class ActiveFilter {
  /** The `http_filters` entry name this filter was installed under (per-route config key). */
  configName: string | undefined
  headersCalled = false
  headersContinued = false
  stoppedAll = false
  endStreamSeen = false
  readonly index: number
  readonly manager: FilterManager
  readonly direction: Direction

  constructor(manager: FilterManager, direction: Direction, index: number) {
    this.manager = manager
    this.direction = direction
    this.index = index
  }

  // Http.StreamFilterCallbacks

  connection(): Connection | undefined { return this.manager.owner.connection() }
  streamId(): number { return this.manager.owner.streamId }
  streamInfo(): StreamInfo { return this.manager.owner.streamInfo }
  route(): Route | undefined { return this.manager.owner.route() }
  clearRouteCache(): void { this.manager.owner.clearRouteCache() }
  resetStream(): void { this.manager.owner.resetStream() }
  perFilterConfig<T>(name: string): T | undefined {
    const owner = this.manager.owner
    const byEntry = this.configName !== undefined ? owner.perFilterConfig(this.configName) : undefined
    return (byEntry ?? (name !== this.configName ? owner.perFilterConfig(name) : undefined)) as T | undefined
  }
  dispatch(fn: () => void): void { this.manager.owner.guard(fn) }
  get log(): Logger { return this.manager.owner.log }
}

class ActiveDecoderFilter extends ActiveFilter implements StreamDecoderFilterCallbacks {
  readonly filter: StreamDecoderFilter

  constructor(manager: FilterManager, index: number, filter: StreamDecoderFilter) {
    super(manager, 'decode', index)
    this.filter = filter
  }

  continueDecoding(): void { this.manager.continueIteration('decode', this.index) }
  decodingBuffer(): BufferInstance | undefined { return this.manager.decodeState.buffered }
  addDecodedData(data: BufferInstance, streaming: boolean): void { this.manager.addData('decode', this.index, data, streaming) }
  injectDecodedDataToFilterChain(data: BufferInstance, endStream: boolean): void { this.manager.runData('decode', this.index + 1, data, endStream) }
  requestHeaders(): HeaderMap { return this.manager.decodeState.headers! }
  addDecodedTrailers(): HeaderMap {
    const t = new HeaderMapImpl()
    this.manager.decodeState.trailers = t
    return t
  }
  sendLocalReply(code: number, body: string, details: string, modifyHeaders?: (h: HeaderMap) => void): void {
    this.manager.owner.sendLocalReply(code, body, details, modifyHeaders)
  }
  encode1xxHeaders(headers: HeaderMap): void { this.manager.encode1xx(headers) }
  encodeHeaders(headers: HeaderMap, endStream: boolean, details: string): void {
    this.manager.owner.streamInfo.responseCodeDetails ??= details
    this.manager.encodeHeaders(headers, endStream)
  }
  encodeData(data: BufferInstance, endStream: boolean): void { this.manager.encodeData(data, endStream) }
  encodeTrailers(trailers: HeaderMap): void { this.manager.encodeTrailers(trailers) }
  onDecoderFilterAboveWriteBufferHighWatermark(): void { this.manager.owner.readDisable(true) }
  onDecoderFilterBelowWriteBufferLowWatermark(): void { this.manager.owner.readDisable(false) }
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void { this.manager.owner.addDownstreamWatermarkCallbacks(cb) }
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void { this.manager.owner.removeDownstreamWatermarkCallbacks(cb) }
  decoderBufferLimit(): number { return this.manager.decoderLimit }
  setDecoderBufferLimit(limit: number): void { this.manager.decoderLimit = limit }
}

class ActiveEncoderFilter extends ActiveFilter implements StreamEncoderFilterCallbacks {
  readonly filter: StreamEncoderFilter

  constructor(manager: FilterManager, index: number, filter: StreamEncoderFilter) {
    super(manager, 'encode', index)
    this.filter = filter
  }

  continueEncoding(): void { this.manager.continueIteration('encode', this.index) }
  encodingBuffer(): BufferInstance | undefined { return this.manager.encodeState.buffered }
  addEncodedData(data: BufferInstance, streaming: boolean): void { this.manager.addData('encode', this.index, data, streaming) }
  injectEncodedDataToFilterChain(data: BufferInstance, endStream: boolean): void { this.manager.runData('encode', this.index + 1, data, endStream) }
  responseHeaders(): HeaderMap | undefined { return this.manager.encodeState.headers }
}

/** One direction's message as it moves through the filters. */
interface DirectionState {
  headers: HeaderMap | undefined
  trailers: HeaderMap | undefined
  /** Body held at `bufferedAt` (StopIterationAndBuffer / StopAll). */
  buffered: BufferImpl | undefined
  bufferedAt: number
  /** The whole message has arrived from its source. */
  complete: boolean
  /** Flow control engaged because the buffer passed its limit (watermark mode). */
  overLimit: boolean
}

function newState(): DirectionState {
  return { headers: undefined, trailers: undefined, buffered: undefined, bufferedAt: -1, complete: false, overLimit: false }
}

/**
 * Runs one request's HTTP filters (Envoy's Http::FilterManager): decoder filters in order on the
 * request, encoder filters in reverse order on the response, with StopIteration / buffering /
 * continue semantics. Encoder filters are stored already reversed.
 */
export class FilterManager {
  readonly owner: FilterManagerOwner
  readonly decoders: ActiveDecoderFilter[] = []
  readonly encoders: ActiveEncoderFilter[] = []
  /** Set while an `http_filters` entry's factory installs its filters. */
  installingName: string | undefined
  readonly decodeState: DirectionState = newState()
  readonly encodeState: DirectionState = newState()
  decoderLimit: number
  private encoderStarted = false
  private destroyed = false

  constructor(owner: FilterManagerOwner) {
    this.owner = owner
    this.decoderLimit = owner.bufferLimit
  }

  addDecoderFilter(f: StreamDecoderFilter): void {
    const a = new ActiveDecoderFilter(this, this.decoders.length, f)
    a.configName = this.installingName
    this.decoders.push(a)
    f.setDecoderFilterCallbacks(a)
  }

  /** Encoder filters run in reverse order of addition. */
  addEncoderFilter(f: StreamEncoderFilter): void {
    const a = new ActiveEncoderFilter(this, 0, f)
    a.configName = this.installingName
    this.encoders.unshift(a)
    this.encoders.forEach((e, i) => { (e as { index: number }).index = i })
    f.setEncoderFilterCallbacks(a)
  }

  responseStarted(): boolean {
    return this.encoderStarted
  }

  // Request path (from the codec through the ActiveStream).

  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.decodeState.headers = headers
    this.decodeState.complete = endStream
    this.runHeaders('decode', 0)
  }

  decodeData(data: BufferInstance, endStream: boolean): void {
    if (endStream) this.decodeState.complete = true
    this.runData('decode', 0, data, endStream)
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.decodeState.trailers = trailers
    this.decodeState.complete = true
    this.runTrailers('decode', 0)
  }

  // Response path (router or local reply → encoder filters → codec).

  encode1xx(headers: HeaderMap): void {
    this.owner.encode1xxToCodec(headers)
  }

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.encoderStarted = true
    this.encodeState.headers = headers
    this.encodeState.complete = endStream
    this.runHeaders('encode', 0)
  }

  encodeData(data: BufferInstance, endStream: boolean): void {
    if (endStream) this.encodeState.complete = true
    this.runData('encode', 0, data, endStream)
  }

  encodeTrailers(trailers: HeaderMap): void {
    this.encodeState.trailers = trailers
    this.encodeState.complete = true
    this.runTrailers('encode', 0)
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const d of this.decoders) this.owner.guard(() => d.filter.onDestroy?.())
    for (const e of this.encoders) this.owner.guard(() => e.filter.onDestroy?.())
  }

  // Iteration.

  private filters(dir: Direction): ActiveDecoderFilter[] | ActiveEncoderFilter[] {
    return dir === 'decode' ? this.decoders : this.encoders
  }

  private state(dir: Direction): DirectionState {
    return dir === 'decode' ? this.decodeState : this.encodeState
  }

  /** Headers-only end: no body buffered or still to come, no trailers. */
  private headersEnd(dir: Direction): boolean {
    const s = this.state(dir)
    return s.complete && (s.buffered === undefined || s.buffered.length === 0) && s.trailers === undefined && !this.bodySeen(dir)
  }

  private bodySeenFlags = { decode: false, encode: false }

  /** Calls filter code under the stream's guard; `fallback` if it threw. */
  private call<T>(fn: () => T, fallback: T): T {
    let r = fallback
    this.owner.guard(() => { r = fn() })
    return r
  }

  private bodySeen(dir: Direction): boolean {
    return this.bodySeenFlags[dir]
  }

  private runHeaders(dir: Direction, from: number): void {
    const s = this.state(dir)
    const list = this.filters(dir)
    for (let i = from; i < list.length; i++) {
      if (this.destroyed) return
      const f = list[i]!
      f.headersCalled = true
      const end = this.headersEnd(dir)
      const status: FilterHeadersStatusValue = this.call(() => dir === 'decode'
          ? (f as ActiveDecoderFilter).filter.decodeHeaders(s.headers!, end)
          : (f as ActiveEncoderFilter).filter.encodeHeaders(s.headers!, end), FilterHeadersStatus.Continue)
      if (this.destroyed) return
      if (end) f.endStreamSeen = true
      if (status === FilterHeadersStatus.StopIteration) return
      if (status === FilterHeadersStatus.StopAllIterationAndBuffer) {
        f.stoppedAll = true
        return
      }
      f.headersContinued = true
    }
    if (this.destroyed) return
    if (dir === 'encode') this.owner.encodeHeadersToCodec(s.headers!, this.headersEnd(dir))
  }

  runData(dir: Direction, from: number, data: BufferInstance, endStream: boolean): void {
    this.bodySeenFlags[dir] = true
    const list = this.filters(dir)
    const s = this.state(dir)
    let chunk = data
    for (let i = from; i < list.length; i++) {
      if (this.destroyed) return
      const f = list[i]!
      // Headers have not reached this filter, or it stopped everything: hold the body here.
      if (!f.headersCalled || (f.stoppedAll && !f.headersContinued)) {
        this.buffer(dir, i, chunk)
        return
      }
      const end = endStream && s.trailers === undefined
      const current = chunk
      const status: FilterDataStatusValue = this.call(() => dir === 'decode'
        ? (f as ActiveDecoderFilter).filter.decodeData(current, end)
        : (f as ActiveEncoderFilter).filter.encodeData(current, end), FilterDataStatus.Continue)
      if (this.destroyed) return
      if (end) f.endStreamSeen = true
      if (status === FilterDataStatus.Continue) {
        if (s.buffered !== undefined && s.bufferedAt === i) {
          // This filter buffered before and now lets go: everything it held moves on, in order.
          s.buffered.move(chunk)
          chunk = s.buffered
          s.buffered = undefined
          s.bufferedAt = -1
          this.releaseOverLimit(dir)
        }
        if (!f.headersContinued) {
          // Data continuing past a filter that stopped its headers continues the headers first.
          f.headersContinued = true
          this.runHeadersAfter(dir, i)
          if (this.destroyed) return
        }
        continue
      }
      if (status === FilterDataStatus.StopIterationNoBuffer) return
      this.buffer(dir, i, chunk, status === FilterDataStatus.StopIterationAndWatermark)
      return
    }
    if (this.destroyed) return
    if (dir === 'encode') this.owner.encodeDataToCodec(chunk, endStream && s.trailers === undefined)
  }

  private releaseOverLimit(dir: Direction): void {
    const s = this.state(dir)
    if (!s.overLimit) return
    s.overLimit = false
    if (dir === 'decode') this.owner.readDisable(false)
  }

  private runHeadersAfter(dir: Direction, index: number): void {
    // Headers pass the remaining filters with endStream false: the body is still moving.
    const s = this.state(dir)
    const list = this.filters(dir)
    for (let i = index + 1; i < list.length; i++) {
      const f = list[i]!
      f.headersCalled = true
      const status: FilterHeadersStatusValue = this.call(() => dir === 'decode'
          ? (f as ActiveDecoderFilter).filter.decodeHeaders(s.headers!, false)
          : (f as ActiveEncoderFilter).filter.encodeHeaders(s.headers!, false), FilterHeadersStatus.Continue)
      if (this.destroyed || status !== FilterHeadersStatus.Continue) {
        if (status === FilterHeadersStatus.StopAllIterationAndBuffer) f.stoppedAll = true
        return
      }
      f.headersContinued = true
    }
    if (dir === 'encode') this.owner.encodeHeadersToCodec(s.headers!, false)
  }

  private runTrailers(dir: Direction, from: number): void {
    const s = this.state(dir)
    const list = this.filters(dir)
    for (let i = from; i < list.length; i++) {
      if (this.destroyed) return
      const f = list[i]!
      // Trailers wait where the headers (or a StopAll) are still held.
      if (!f.headersCalled || (f.stoppedAll && !f.headersContinued)) return
      const status: string = this.call(() => dir === 'decode'
        ? (f as ActiveDecoderFilter).filter.decodeTrailers(s.trailers!)
        : (f as ActiveEncoderFilter).filter.encodeTrailers(s.trailers!), FilterTrailersStatus.Continue)
      f.endStreamSeen = true
      if (this.destroyed || status !== FilterTrailersStatus.Continue) return
      // Continuing past trailers releases whatever this filter still held, in order.
      if (!f.headersContinued) {
        f.headersContinued = true
        this.runHeadersAfter(dir, i)
        if (this.destroyed) return
      }
      if (s.buffered !== undefined && s.bufferedAt === i) {
        const held = s.buffered
        s.buffered = undefined
        s.bufferedAt = -1
        this.releaseOverLimit(dir)
        this.runData(dir, i + 1, held, false)
        if (this.destroyed || (s.buffered !== undefined && s.bufferedAt > i)) return
      }
    }
    if (this.destroyed) return
    if (dir === 'encode') this.owner.encodeTrailersToCodec(s.trailers!)
  }

  private buffer(dir: Direction, at: number, data: BufferInstance, watermark = false): void {
    const s = this.state(dir)
    if (s.buffered === undefined) s.buffered = new BufferImpl()
    if (s.bufferedAt < 0) s.bufferedAt = at
    if (s.buffered !== data) s.buffered.move(data)
    const limit = dir === 'decode' ? this.decoderLimit : this.owner.bufferLimit
    if (s.buffered.length > limit) {
      if (watermark) {
        if (!s.overLimit && dir === 'decode') {
          s.overLimit = true
          this.owner.readDisable(true)
        }
        return
      }
      if (dir === 'decode') {
        if (!this.encoderStarted) this.owner.sendLocalReply(413, 'Payload Too Large', 'request_payload_too_large')
        else this.owner.resetStream()
      } else if (!this.encoderStarted || this.encodeState.headers === undefined) {
        this.owner.sendLocalReply(500, 'Internal Server Error', 'response_payload_too_large')
      } else {
        this.owner.resetStream()
      }
    }
  }

  addData(dir: Direction, at: number, data: BufferInstance, streaming: boolean): void {
    if (streaming) {
      this.runData(dir, at + 1, data, false)
      return
    }
    this.buffer(dir, at, data)
  }

  /** `continueDecoding` / `continueEncoding` from the filter at `index`. */
  continueIteration(dir: Direction, index: number): void {
    if (this.destroyed) return
    const s = this.state(dir)
    const list = this.filters(dir)
    const f = list[index]!
    const held = s.buffered !== undefined && s.bufferedAt === index ? s.buffered : undefined
    if (!f.headersContinued) {
      f.headersContinued = true
      f.stoppedAll = false
      const bodyFollows = (held !== undefined && held.length > 0) || s.trailers !== undefined || !s.complete || this.bodySeen(dir)
      if (bodyFollows) this.runHeadersAfter(dir, index)
      else this.runHeaders(dir, index + 1)
    }
    if (this.destroyed) return
    if (held !== undefined) {
      s.buffered = undefined
      s.bufferedAt = -1
      this.releaseOverLimit(dir)
      this.runData(dir, index + 1, held, s.complete && s.trailers === undefined)
    } else if (s.complete && s.trailers === undefined && this.bodySeen(dir) && f.endStreamSeen && !(list[index + 1]?.endStreamSeen ?? true)) {
      // The end of the body stopped here without data to hold: pass the end on.
      this.runData(dir, index + 1, new BufferImpl(), true)
    }
    if (this.destroyed) return
    if (s.trailers !== undefined) this.runTrailers(dir, index + 1)
  }
}
