/**
 * Fakes for HTTP filter tests: a FakeStream that runs decoder and encoder filters the way
 * Envoy's FilterManager does (StopIteration, StopIterationAndBuffer with the decoder buffer
 * limit and its 413, continueDecoding / continueEncoding, local replies that run every encoder
 * filter), records what reaches the upstream and the downstream, and hands each filter its own
 * StreamDecoderFilterCallbacks / StreamEncoderFilterCallbacks. Plus an HTTP filter factory
 * context, fake routes and manual timers.
 */
import { BufferImpl } from '../../../source/common/buffer/buffer-impl.js'
import { StreamInfoImpl } from '../../../source/common/stream-info/stream-info-impl.js'
import type { AccessLogInstance } from '../../../source/envoy/access-log/access-log.js'
import type { BufferInstance } from '../../../source/envoy/buffer/buffer.js'
import {
  type DownstreamWatermarkCallbacks, FilterDataStatus, type FilterDataStatusValue, type FilterChainFactoryCallbacks,
  FilterHeadersStatus, type FilterHeadersStatusValue, FilterTrailersStatus, type FilterTrailersStatusValue,
  type HttpFilterFactoryContext, type StreamDecoderFilter, type StreamDecoderFilterCallbacks, type StreamEncoderFilter,
  type StreamEncoderFilterCallbacks, type StreamFilter,
} from '../../../source/envoy/http/filter.js'
import type { HeaderMap } from '../../../source/envoy/http/header-map.js'
import type { Connection } from '../../../source/envoy/network/connection.js'
import type { Route, RouteEntry, VirtualHost } from '../../../source/envoy/router/router.js'
import type { ClusterManager } from '../../../source/envoy/upstream/cluster-manager.js'
import type { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import { type FakeRuntime, fakeFactoryContext, silentLog } from '../network/factory-context.js'
import type { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { FakeHeaderMap } from './fake-header-map.js'

/** What a FakeStream can be given as headers. */
export type HeadersInit = HeaderMap | Record<string, string | string[]>

function toHeaders(h: HeadersInit): HeaderMap {
  return typeof (h as HeaderMap).getAll === 'function' ? h as HeaderMap : new FakeHeaderMap(h as Record<string, string>)
}

function toBuffer(d: BufferInstance | string | Buffer): BufferInstance {
  return typeof d === 'string' || Buffer.isBuffer(d) ? new BufferImpl(d) : d
}

/** What one end of the chain received (the upstream for requests, the downstream for responses). */
export class FakeSink {
  headers: HeaderMap | undefined
  headersEndStream = false
  readonly body = new BufferImpl()
  trailers: HeaderMap | undefined
  /** The whole message has arrived (end of stream on headers, data or trailers). */
  ended = false
  dataFrames = 0

  get bodyText(): string {
    return this.body.toString()
  }
}

interface ChainOps {
  headers(i: number, h: HeaderMap, end: boolean): FilterHeadersStatusValue
  data(i: number, d: BufferInstance, end: boolean): FilterDataStatusValue
  trailers(i: number, t: HeaderMap): FilterTrailersStatusValue
  readonly sink: FakeSink
  limit(): number
  overLimit(): void
  /** True when iteration must stop at once (local reply sent, stream reset). */
  halted(): boolean
}

interface Entry {
  headersCalled: boolean
  headersContinued: boolean
  stoppedAll: boolean
  endStreamSeen: boolean
}

/** One direction of Envoy's filter iteration, used for both decoding and encoding. */
class Chain {
  readonly entries: Entry[] = []
  headers: HeaderMap | undefined
  trailers: HeaderMap | undefined
  buffered: BufferImpl | undefined
  bufferedAt = -1
  complete = false
  bodySeen = false
  /** Set when watermark buffering passed the limit (the fake's readDisable). */
  overWatermark = false
  private readonly ops: ChainOps

  constructor(ops: ChainOps) {
    this.ops = ops
  }

  add(): number {
    this.entries.push({ headersCalled: false, headersContinued: false, stoppedAll: false, endStreamSeen: false })
    return this.entries.length - 1
  }

  private headersEnd(): boolean {
    return this.complete && (this.buffered === undefined || this.buffered.length === 0) && this.trailers === undefined && !this.bodySeen
  }

  runHeaders(from: number): void {
    for (let i = from; i < this.entries.length; i++) {
      if (this.ops.halted()) return
      const e = this.entries[i]!
      e.headersCalled = true
      const end = this.headersEnd()
      const status = this.ops.headers(i, this.headers!, end)
      if (end) e.endStreamSeen = true
      if (this.ops.halted()) return
      if (status === FilterHeadersStatus.StopIteration) return
      if (status === FilterHeadersStatus.StopAllIterationAndBuffer) {
        e.stoppedAll = true
        return
      }
      e.headersContinued = true
    }
    const end = this.headersEnd()
    this.ops.sink.headers = this.headers
    this.ops.sink.headersEndStream = end
    if (end) this.ops.sink.ended = true
  }

  private runHeadersAfter(index: number): void {
    for (let i = index + 1; i < this.entries.length; i++) {
      if (this.ops.halted()) return
      const e = this.entries[i]!
      e.headersCalled = true
      const status = this.ops.headers(i, this.headers!, false)
      if (this.ops.halted()) return
      if (status !== FilterHeadersStatus.Continue) {
        if (status === FilterHeadersStatus.StopAllIterationAndBuffer) e.stoppedAll = true
        return
      }
      e.headersContinued = true
    }
    this.ops.sink.headers = this.headers
  }

  runData(from: number, data: BufferInstance, endStream: boolean): void {
    this.bodySeen = true
    let chunk = data
    for (let i = from; i < this.entries.length; i++) {
      if (this.ops.halted()) return
      const e = this.entries[i]!
      if (!e.headersCalled || (e.stoppedAll && !e.headersContinued)) {
        this.buffer(i, chunk)
        return
      }
      const end = endStream && this.trailers === undefined
      const status = this.ops.data(i, chunk, end)
      if (end) e.endStreamSeen = true
      if (this.ops.halted()) return
      if (status === FilterDataStatus.Continue) {
        if (this.buffered !== undefined && this.bufferedAt === i) {
          this.buffered.move(chunk)
          chunk = this.buffered
          this.buffered = undefined
          this.bufferedAt = -1
          this.overWatermark = false
        }
        if (!e.headersContinued) {
          e.headersContinued = true
          this.runHeadersAfter(i)
        }
        continue
      }
      if (status === FilterDataStatus.StopIterationNoBuffer) return
      this.buffer(i, chunk, status === FilterDataStatus.StopIterationAndWatermark)
      return
    }
    if (this.ops.halted()) return
    const end = endStream && this.trailers === undefined
    const sink = this.ops.sink
    sink.dataFrames++
    sink.body.move(chunk)
    if (end) sink.ended = true
  }

  runTrailers(from: number): void {
    for (let i = from; i < this.entries.length; i++) {
      if (this.ops.halted()) return
      const e = this.entries[i]!
      if (!e.headersCalled || (e.stoppedAll && !e.headersContinued)) return
      const status = this.ops.trailers(i, this.trailers!)
      e.endStreamSeen = true
      if (this.ops.halted() || status !== FilterTrailersStatus.Continue) return
      if (!e.headersContinued) {
        // A filter that held headers and body lets the trailers go: everything moves on.
        this.continueFrom(i)
        return
      }
    }
    if (this.ops.halted()) return
    this.ops.sink.trailers = this.trailers
    this.ops.sink.ended = true
  }

  private buffer(at: number, data: BufferInstance, watermark = false): void {
    if (this.buffered === undefined) this.buffered = new BufferImpl()
    if (this.bufferedAt < 0) this.bufferedAt = at
    if (this.buffered !== data) this.buffered.move(data)
    if (this.buffered.length > this.ops.limit()) {
      if (watermark) this.overWatermark = true
      else this.ops.overLimit()
    }
  }

  addData(at: number, data: BufferInstance, streaming: boolean): void {
    if (streaming) this.runData(at + 1, data, false)
    else this.buffer(at, data)
  }

  continueFrom(index: number): void {
    if (this.ops.halted()) return
    const e = this.entries[index]!
    const held = this.buffered !== undefined && this.bufferedAt === index ? this.buffered : undefined
    if (!e.headersContinued) {
      e.headersContinued = true
      e.stoppedAll = false
      const bodyFollows = (held !== undefined && held.length > 0) || this.trailers !== undefined || !this.complete || this.bodySeen
      if (bodyFollows) this.runHeadersAfter(index)
      else {
        this.runHeaders(index + 1)
        return
      }
    }
    if (this.ops.halted()) return
    const next = this.entries[index + 1]
    const endPassed = next !== undefined ? next.endStreamSeen : this.ops.sink.ended
    if (held !== undefined) {
      this.buffered = undefined
      this.bufferedAt = -1
      this.overWatermark = false
      this.runData(index + 1, held, this.complete && this.trailers === undefined)
    } else if (this.complete && this.trailers === undefined && this.bodySeen && !endPassed) {
      this.runData(index + 1, new BufferImpl(), true)
    }
    if (this.ops.halted()) return
    if (this.trailers !== undefined && this.complete) this.runTrailers(index + 1)
  }
}

/** A local reply as the stream received it. */
export interface LocalReplyRecord {
  code: number
  body: string
  details: string
  headers: HeaderMap
}

export interface FakeStreamOptions {
  route?: Route | undefined
  connection?: Connection
  /** `per_connection_buffer_limit_bytes`; 1 MiB by default. */
  bufferLimit?: number
  streamId?: number
}

let nextStreamId = 1

/**
 * One HTTP request/response running through filters. Drive the request with `decodeHeaders`,
 * `decodeData`, `decodeTrailers`; play the router's part with `encodeHeaders`, `encodeData`,
 * `encodeTrailers`. `upstream` is what passed every decoder filter, `downstream` what passed
 * every encoder filter.
 */
export class FakeStream implements FilterChainFactoryCallbacks {
  readonly streamInfo: StreamInfoImpl
  route: Route | undefined
  readonly upstream = new FakeSink()
  readonly downstream = new FakeSink()
  readonly localReplies: LocalReplyRecord[] = []
  readonly decoderFilters: StreamDecoderFilter[] = []
  /** Encoder filters in encode order (reverse of addition). */
  readonly encoderFilters: StreamEncoderFilter[] = []
  readonly accessLogHandlers: AccessLogInstance[] = []
  readonly decoderCallbacks: FakeDecoderCallbacks[] = []
  readonly encoderCallbacks: FakeEncoderCallbacks[] = []
  decoderLimit: number
  readonly bufferLimit: number
  /** Times `dispatch` ran a callback. */
  dispatched = 0
  resetCount = 0
  clearRouteCacheCount = 0
  destroyed = false
  readonly decode: Chain
  readonly encode: Chain
  readonly connectionValue: Connection | undefined
  readonly id: number
  private decodingAborted = false
  private responseStarted = false
  private readonly encodeOps: ChainOps

  constructor(opts: FakeStreamOptions = {}) {
    this.id = opts.streamId ?? nextStreamId++
    this.route = opts.route
    this.connectionValue = opts.connection
    this.bufferLimit = opts.bufferLimit ?? 1024 * 1024
    this.decoderLimit = this.bufferLimit
    this.streamInfo = new StreamInfoImpl({ downstreamLocalAddress: '127.0.0.1:10000', downstreamRemoteAddress: '10.0.0.1:40000', connectionId: 1 })
    this.decode = new Chain({
      headers: (i, h, end) => this.decoderFilters[i]!.decodeHeaders(h, end),
      data: (i, d, end) => this.decoderFilters[i]!.decodeData(d, end),
      trailers: (i, t) => this.decoderFilters[i]!.decodeTrailers(t),
      sink: this.upstream,
      limit: () => this.decoderLimit,
      overLimit: () => {
        if (!this.responseStarted) this.sendLocalReply(413, 'Payload Too Large', 'request_payload_too_large')
        else this.resetStream()
      },
      halted: () => this.decodingAborted || this.destroyed,
    })
    this.encodeOps = {
      headers: (i, h, end) => this.encoderFilters[i]!.encodeHeaders(h, end),
      data: (i, d, end) => this.encoderFilters[i]!.encodeData(d, end),
      trailers: (i, t) => this.encoderFilters[i]!.encodeTrailers(t),
      sink: this.downstream,
      limit: () => this.bufferLimit,
      overLimit: () => this.resetStream(),
      halted: () => this.destroyed,
    }
    this.encode = new Chain(this.encodeOps)
  }

  // Http.FilterChainFactoryCallbacks

  addStreamDecoderFilter(filter: StreamDecoderFilter): void {
    const cb = new FakeDecoderCallbacks(this, this.decode.add())
    this.decoderFilters.push(filter)
    this.decoderCallbacks.push(cb)
    filter.setDecoderFilterCallbacks(cb)
  }

  addStreamEncoderFilter(filter: StreamEncoderFilter): void {
    // Encoder filters run in reverse order of addition: keep the list in encode order.
    this.encode.entries.unshift({ headersCalled: false, headersContinued: false, stoppedAll: false, endStreamSeen: false })
    this.encoderFilters.unshift(filter)
    const cb = new FakeEncoderCallbacks(this, filter)
    this.encoderCallbacks.unshift(cb)
    filter.setEncoderFilterCallbacks(cb)
  }

  addStreamFilter(filter: StreamFilter): void {
    this.addStreamDecoderFilter(filter)
    this.addStreamEncoderFilter(filter)
  }

  addAccessLogHandler(handler: AccessLogInstance): void {
    this.accessLogHandlers.push(handler)
  }

  // The request, from the codec.

  decodeHeaders(headers: HeadersInit, endStream: boolean): void {
    this.decode.headers = toHeaders(headers)
    this.streamInfo.requestHeaders = this.decode.headers
    this.decode.complete = endStream
    this.decode.runHeaders(0)
  }

  decodeData(data: BufferInstance | string | Buffer, endStream: boolean): void {
    if (endStream) this.decode.complete = true
    this.decode.runData(0, toBuffer(data), endStream)
  }

  decodeTrailers(trailers: HeadersInit): void {
    this.decode.trailers = toHeaders(trailers)
    this.decode.complete = true
    this.decode.runTrailers(0)
  }

  // The response, from the router (or a filter answering itself).

  encodeHeaders(headers: HeadersInit, endStream: boolean): void {
    this.responseStarted = true
    const h = toHeaders(headers)
    const status = Number(h.get(':status'))
    if (Number.isInteger(status)) this.streamInfo.responseCode = status
    this.streamInfo.responseHeaders = h
    this.encode.headers = h
    this.encode.complete = endStream
    this.encode.runHeaders(0)
  }

  encodeData(data: BufferInstance | string | Buffer, endStream: boolean): void {
    if (endStream) this.encode.complete = true
    this.encode.runData(0, toBuffer(data), endStream)
  }

  encodeTrailers(trailers: HeadersInit): void {
    this.encode.trailers = toHeaders(trailers)
    this.encode.complete = true
    this.encode.runTrailers(0)
  }

  /** Envoy's local reply: response headers (+ text body) through every encoder filter; decoding stops. */
  sendLocalReply(code: number, body: string, details: string, modifyHeaders?: (headers: HeaderMap) => void): void {
    if (this.responseStarted) {
      this.resetStream()
      return
    }
    this.decodingAborted = true
    this.streamInfo.responseCodeDetails = details
    const headers = new FakeHeaderMap({ ':status': String(code) })
    if (body !== '') {
      headers.set('content-length', String(Buffer.byteLength(body)))
      headers.set('content-type', 'text/plain')
    }
    modifyHeaders?.(headers)
    this.localReplies.push({ code, body, details, headers })
    this.encodeHeaders(headers, body === '')
    if (body !== '') this.encodeData(body, true)
  }

  resetStream(): void {
    this.resetCount++
    this.destroy()
  }

  /** The stream ends: every filter's onDestroy, once. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    const seen = new Set<unknown>()
    for (const f of [...this.decoderFilters, ...this.encoderFilters]) {
      if (seen.has(f)) continue
      seen.add(f)
      f.onDestroy?.()
    }
  }

  /** The last local reply, or undefined. */
  get localReply(): LocalReplyRecord | undefined {
    return this.localReplies.at(-1)
  }

  /** The request reached the upstream end of the chain (the router). */
  get forwarded(): boolean {
    return this.upstream.headers !== undefined
  }

  markDecodingAborted(): void {
    this.decodingAborted = true
  }

  markResponseStarted(): void {
    this.responseStarted = true
  }
}

abstract class FakeCallbacksBase {
  readonly stream: FakeStream
  readonly log = silentLog

  constructor(stream: FakeStream) {
    this.stream = stream
  }

  // Http.StreamFilterCallbacks
  connection(): Connection | undefined { return this.stream.connectionValue }
  streamId(): number { return this.stream.id }
  streamInfo(): StreamInfoImpl { return this.stream.streamInfo }
  route(): Route | undefined { return this.stream.route }
  clearRouteCache(): void { this.stream.clearRouteCacheCount++ }
  resetStream(): void { this.stream.resetStream() }
  perFilterConfig<T>(filterName: string): T | undefined { return this.stream.route?.perFilterConfig(filterName) as T | undefined }
  dispatch(fn: () => void): void {
    this.stream.dispatched++
    fn()
  }
}

export class FakeDecoderCallbacks extends FakeCallbacksBase implements StreamDecoderFilterCallbacks {
  readonly index: number
  continueDecodingCount = 0
  readonly watermarkCallbacks = new Set<DownstreamWatermarkCallbacks>()
  aboveHighWatermark = 0
  belowLowWatermark = 0

  constructor(stream: FakeStream, index: number) {
    super(stream)
    this.index = index
  }

  // Http.StreamDecoderFilterCallbacks
  continueDecoding(): void {
    this.continueDecodingCount++
    this.stream.decode.continueFrom(this.index)
  }
  decodingBuffer(): BufferInstance | undefined { return this.stream.decode.buffered }
  addDecodedData(data: BufferInstance, streaming: boolean): void { this.stream.decode.addData(this.index, data, streaming) }
  injectDecodedDataToFilterChain(data: BufferInstance, endStream: boolean): void { this.stream.decode.runData(this.index + 1, data, endStream) }
  requestHeaders(): HeaderMap { return this.stream.decode.headers! }
  addDecodedTrailers(): HeaderMap {
    const t = new FakeHeaderMap()
    this.stream.decode.trailers = t
    return t
  }
  sendLocalReply(code: number, body: string, details: string, modifyHeaders?: (headers: HeaderMap) => void): void {
    this.stream.sendLocalReply(code, body, details, modifyHeaders)
  }
  encode1xxHeaders(headers: HeaderMap): void { void headers }
  encodeHeaders(headers: HeaderMap, endStream: boolean, details: string): void {
    this.stream.streamInfo.responseCodeDetails ??= details
    this.stream.markDecodingAborted()
    this.stream.encodeHeaders(headers, endStream)
  }
  encodeData(data: BufferInstance, endStream: boolean): void { this.stream.encodeData(data, endStream) }
  encodeTrailers(trailers: HeaderMap): void { this.stream.encodeTrailers(trailers) }
  onDecoderFilterAboveWriteBufferHighWatermark(): void { this.aboveHighWatermark++ }
  onDecoderFilterBelowWriteBufferLowWatermark(): void { this.belowLowWatermark++ }
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void { this.watermarkCallbacks.add(cb) }
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void { this.watermarkCallbacks.delete(cb) }
  decoderBufferLimit(): number { return this.stream.decoderLimit }
  setDecoderBufferLimit(limit: number): void { this.stream.decoderLimit = limit }
}

export class FakeEncoderCallbacks extends FakeCallbacksBase implements StreamEncoderFilterCallbacks {
  readonly filter: StreamEncoderFilter
  continueEncodingCount = 0

  constructor(stream: FakeStream, filter: StreamEncoderFilter) {
    super(stream)
    this.filter = filter
  }

  /** Position in encode order; it moves as filters are added in front. */
  get index(): number {
    return this.stream.encoderFilters.indexOf(this.filter)
  }

  // Http.StreamEncoderFilterCallbacks
  continueEncoding(): void {
    this.continueEncodingCount++
    this.stream.encode.continueFrom(this.index)
  }
  encodingBuffer(): BufferInstance | undefined { return this.stream.encode.buffered }
  addEncodedData(data: BufferInstance, streaming: boolean): void { this.stream.encode.addData(this.index, data, streaming) }
  injectEncodedDataToFilterChain(data: BufferInstance, endStream: boolean): void { this.stream.encode.runData(this.index + 1, data, endStream) }
  responseHeaders(): HeaderMap | undefined { return this.stream.encode.headers }
}

// Routes.

export interface FakeRouteOptions {
  name?: string
  /** The route entry's cluster; no route entry when undefined and `directResponse` is set. */
  cluster?: string
  /** `typed_per_filter_config` of the route, already built by the filter factories. */
  perFilterConfig?: Record<string, unknown>
  /** `typed_per_filter_config` of the virtual host. */
  virtualHostPerFilterConfig?: Record<string, unknown>
  virtualHostName?: string
}

/** A route whose `perFilterConfig` falls back from the route to its virtual host, as Envoy's does. */
export function fakeRoute(opts: FakeRouteOptions = {}): Route {
  const vhostConfigs = opts.virtualHostPerFilterConfig ?? {}
  const routeConfigs = opts.perFilterConfig ?? {}
  const virtualHost: VirtualHost = {
    name: opts.virtualHostName ?? 'vhost',
    perFilterConfig: (name) => vhostConfigs[name],
    corsPolicy: undefined,
  }
  const cluster = opts.cluster ?? 'backend'
  const routeEntry = { clusterName: () => cluster } as Partial<RouteEntry> as RouteEntry
  return {
    name: opts.name ?? 'route',
    virtualHost,
    directResponseEntry: undefined,
    routeEntry,
    perFilterConfig: (name) => routeConfigs[name] ?? vhostConfigs[name],
  }
}

// Factory context.

export interface FakeHttpFactoryContextOptions {
  memory?: StatMemory
  workerIndex?: number
  runtime?: FakeRuntime
  clusterManager?: ClusterManager
  /** HCM stat_prefix; `http.<statPrefix>.` is the http scope. */
  statPrefix?: string
}

/** An HTTP filter factory context on a real stat store; `failHealthCheck` flips `healthCheckFailed()`. */
export function fakeHttpFactoryContext(opts: FakeHttpFactoryContextOptions = {}): HttpFilterFactoryContext & {
  store: ThreadLocalStoreImpl
  failHealthCheck(failed: boolean): void
} {
  const base = fakeFactoryContext({
    ...(opts.memory !== undefined ? { memory: opts.memory } : {}),
    ...(opts.workerIndex !== undefined ? { workerIndex: opts.workerIndex } : {}),
    ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
  })
  let failed = false
  return {
    store: base.store,
    scope: base.scope,
    log: base.log,
    registry: base.registry,
    clusterManager: opts.clusterManager ?? base.clusterManager,
    accessLogManager: base.accessLogManager,
    runtime: base.runtime,
    drainDecision: base.drainDecision,
    healthCheckFailed: () => failed,
    httpScope: base.store.createScope(`http.${opts.statPrefix ?? 'ingress_http'}`),
    workerIndex: base.workerIndex,
    runtimeHost: base.runtimeHost,
    serviceInvoker: base.serviceInvoker,
    failHealthCheck(f: boolean) {
      failed = f
    },
  }
}

// Timers.

/** Manual timers: callbacks run only when `advance` passes their due time. */
export class FakeTimers {
  /** The fake clock, in ms. */
  time = 0
  private seq = 0
  private readonly pending = new Map<number, { at: number; fn: () => void }>()

  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq
    this.pending.set(id, { at: this.time + ms, fn })
    return id
  }

  readonly clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number)
  }

  readonly now = (): number => this.time

  /** Timers not yet fired or cleared. */
  get size(): number {
    return this.pending.size
  }

  /** Delays (ms from now) of the pending timers, soonest first. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.at - this.time).sort((a, b) => a - b)
  }

  advance(ms: number): void {
    const until = this.time + ms
    for (;;) {
      let nextId: number | undefined
      let next: { at: number; fn: () => void } | undefined
      for (const [id, t] of this.pending) {
        if (t.at <= until && (next === undefined || t.at < next.at)) {
          nextId = id
          next = t
        }
      }
      if (next === undefined || nextId === undefined) break
      this.pending.delete(nextId)
      this.time = next.at
      next.fn()
    }
    this.time = until
  }
}
