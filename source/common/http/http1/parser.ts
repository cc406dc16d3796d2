/**
 * A strict, incremental HTTP/1.1 message parser (RFC 9112) over a BufferInstance.
 *
 * `execute(data)` consumes bytes from the front of `data` (draining exactly what it used) and
 * stops at each event: `Headers` (the head is parsed; read `headers`, `method`, ...), then
 * `MessageComplete`, or `NeedMore`, or `Error` (`errorCode` is the HTTP status for a local
 * reply, `errorDetails` Envoy's response code detail). Body bytes are moved, never copied, into
 * `body`; the codec takes them with `takeBody()` whenever it likes (at least before each
 * `execute` that could add more).
 *
 * Heads are found without re-scanning: `scanPos` remembers how far the search for the blank
 * line got, so a head that trickles in a byte at a time costs linear time. The common case, a
 * whole head inside the first slice, is parsed in place without copying.
 */
import type { BufferInstance } from '../../../envoy/buffer/buffer.js'
import { BufferImpl } from '../../buffer/buffer-impl.js'
import { HeaderMapImpl } from '../header-map-impl.js'
import { HEX, latin1, lookupKnownName, parseContentLength, TARGET, TCHAR, VALUE } from '../headers.js'
import type { Http1CodecStats } from './codec-stats.js'
import { Http1ResponseCodeDetails as Details } from './codec-stats.js'

export const ParseResult = { NeedMore: 0, Headers: 1, MessageComplete: 2, Error: 3 } as const
export type ParseResultValue = (typeof ParseResult)[keyof typeof ParseResult]

export interface ParserOptions {
  /** Bytes of request-target, names and values allowed in a head (and separately in trailers). */
  maxHeadersBytes: number
  maxHeadersCount: number
  enableTrailers: boolean
  allowChunkedLength: boolean
  /** Requests only (Envoy applies it on the server side). */
  headersWithUnderscores: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER'
}

const S_HEAD = 0
const S_BODY_LENGTH = 1
const S_CHUNK_SIZE = 2
const S_CHUNK_DATA = 3
const S_CHUNK_DATA_END = 4
const S_TRAILERS = 5
const S_BODY_EOF = 6
const S_UPGRADED = 7
const S_MESSAGE_END = 8
const S_ERROR = 9

const CR = 13
const LF = 10
const SP = 32
const HTAB = 9
/** How much of the first slice the fast path decodes looking for a whole head. */
const FAST_PATH_BYTES = 4096
/**
 * Longest chunk-size line (size, extensions and CRLF) accepted. Extensions are also counted with
 * the head against `maxHeadersBytes` for the whole message, so many short extension lines cannot
 * add up to more than a head may (llhttp bounds them per message the same way).
 */
const MAX_CHUNK_LINE = 4096

const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'PATCH', 'TRACE', 'DELETE', 'OPTIONS', 'CONNECT']

function knownMethod(s: string, len: number): string | undefined {
  for (const m of METHODS) if (m.length === len && s.startsWith(m)) return m
  return undefined
}

export class Http1Parser {
  readonly isRequest: boolean
  private readonly opts: ParserOptions
  private readonly stats: Http1CodecStats | undefined
  private state = S_HEAD
  /** Where the search for the end of the current line/head resumes (offset into the input). */
  private scanPos = 0
  private lineStart = 0
  private lines = 0
  private prevByte = 0
  private remaining = 0

  // The message being parsed; valid from `Headers` until the next message starts.
  headers = new HeaderMapImpl()
  trailers: HeaderMapImpl | undefined
  method = ''
  url = ''
  statusCode = 0
  /** HTTP/1.<minor>; 1 unless the message said otherwise. */
  minorVersion = 1
  majorVersion = 1
  /** Content-Length, or -1 when absent. */
  contentLength = -1
  chunked = false
  transferEncoding: string | undefined
  connection: string | undefined
  upgrade: string | undefined
  hostCount = 0
  headerBytes = 0
  /** Bytes of chunk extensions seen in this message (counted against `maxHeadersBytes` with the head). */
  private chunkExtensionBytes = 0
  body = new BufferImpl()

  errorCode = 0
  errorDetails = ''
  errorMessage = ''

  constructor(type: 'request' | 'response', opts: ParserOptions, stats?: Http1CodecStats) {
    this.isRequest = type === 'request'
    this.opts = opts
    this.stats = stats
  }

  /** True once the head said a body follows (or the codec switched to raw upgrade bytes). */
  hasBody(): boolean {
    return this.state !== S_MESSAGE_END && this.state !== S_HEAD
  }

  /** True while a close-delimited response body or upgraded bytes are being read. */
  readsUntilClose(): boolean {
    return this.state === S_BODY_EOF || this.state === S_UPGRADED
  }

  /** After `Headers`: the message has no body (HEAD response, 1xx/204/304), whatever its framing said. */
  setNoBody(): void {
    this.state = S_MESSAGE_END
  }

  /** After `Headers`: everything that follows is opaque bytes (Upgrade, CONNECT), delivered as body. */
  setUpgrade(): void {
    this.state = S_UPGRADED
  }

  /** Ends the message now (a close-delimited body at EOF) and readies the parser for the next one. */
  finishMessage(): void {
    this.reset()
  }

  /** Hands over the body bytes gathered so far. */
  takeBody(): BufferImpl {
    const b = this.body
    this.body = new BufferImpl()
    return b
  }

  execute(data: BufferInstance): ParseResultValue {
    for (;;) {
      switch (this.state) {
        case S_HEAD:
          return this.executeHead(data)
        case S_BODY_LENGTH: {
          if (data.length === 0) return ParseResult.NeedMore
          const n = Math.min(this.remaining, data.length)
          this.body.moveBytes(data, n)
          this.remaining -= n
          if (this.remaining > 0) return ParseResult.NeedMore
          this.reset()
          return ParseResult.MessageComplete
        }
        case S_CHUNK_SIZE: {
          const r = this.executeChunkSize(data)
          if (r !== -1) return r
          break
        }
        case S_CHUNK_DATA: {
          if (data.length === 0) return ParseResult.NeedMore
          const n = Math.min(this.remaining, data.length)
          this.body.moveBytes(data, n)
          this.remaining -= n
          if (this.remaining > 0) return ParseResult.NeedMore
          this.state = S_CHUNK_DATA_END
          break
        }
        case S_CHUNK_DATA_END: {
          if (data.length === 0) return ParseResult.NeedMore
          if (data.byteAt(0) !== CR) return this.fail(400, Details.HttpCodecError, 'chunk data not followed by CRLF')
          if (data.length < 2) return ParseResult.NeedMore
          if (data.byteAt(1) !== LF) return this.fail(400, Details.HttpCodecError, 'chunk data not followed by CRLF')
          data.drain(2)
          this.state = S_CHUNK_SIZE
          break
        }
        case S_TRAILERS:
          return this.executeTrailers(data)
        case S_BODY_EOF:
        case S_UPGRADED:
          this.body.move(data)
          return ParseResult.NeedMore
        case S_MESSAGE_END:
          this.reset()
          return ParseResult.MessageComplete
        default:
          return ParseResult.Error
      }
    }
  }

  private executeHead(data: BufferInstance): ParseResultValue {
    if (this.scanPos === 0) {
      if (this.isRequest) {
        // RFC 9112 §2.2: ignore empty lines before a request-line (clients add them after bodies).
        while (data.length >= 2 && data.byteAt(0) === CR && data.byteAt(1) === LF) data.drain(2)
        if (data.length === 1 && data.byteAt(0) === CR) return ParseResult.NeedMore
      }
      if (data.length === 0) return ParseResult.NeedMore
      // Fast path: the whole head is near the start of the first slice. One decode, no copy of
      // the Buffer, and parsing a string costs no native calls per header (per-line
      // Buffer.indexOf + latin1Slice per value measured ~1.7 µs; this ~0.9 µs per 200-byte GET,
      // bench/common/http/http1-parser.bench.ts).
      const first = data.slices()[0]!
      const s = latin1(first, 0, first.length < FAST_PATH_BYTES ? first.length : FAST_PATH_BYTES)
      const k = s.indexOf('\r\n\r\n')
      if (k >= 0) return this.onHead(data, s, k + 4)
    }
    const lf = this.scan(data, true)
    if (lf < 0) {
      if (data.length - 3 * this.lines > this.opts.maxHeadersBytes + 1024) {
        return this.fail(431, Details.HeadersTooLarge, 'headers size exceeds limit')
      }
      return ParseResult.NeedMore
    }
    return this.onHead(data, latin1(data.peek(lf + 1), 0, lf + 1), lf + 1)
  }

  /** Parses the head in `s[0, end)` (which ends with an empty line or has an error before it). */
  private onHead(data: BufferInstance, s: string, end: number): ParseResultValue {
    this.headers = new HeaderMapImpl()
    this.trailers = undefined
    let pos = this.isRequest ? this.parseRequestLine(s, end) : this.parseStatusLine(s, end)
    if (pos >= 0) pos = this.parseFields(s, pos, end, this.headers, false)
    if (pos < 0) return ParseResult.Error
    data.drain(pos)
    this.scanPos = this.lineStart = this.lines = 0

    // RFC 9112 §6.3: Transfer-Encoding and Content-Length together smell of smuggling.
    if (this.transferEncoding !== undefined) {
      const te = this.transferEncoding
      this.chunked = te.length === 7 && te.toLowerCase() === 'chunked'
      if (this.contentLength >= 0) {
        if (!this.chunked || !this.opts.allowChunkedLength) {
          return this.fail(400, Details.ChunkedContentLength, "both 'Content-Length' and 'Transfer-Encoding' are set")
        }
        this.headers.remove('content-length')
        this.contentLength = -1
      }
      // Only `chunked`, alone, is understood (RFC 9112 §6.1); 501 as Envoy answers.
      if (!this.chunked) return this.fail(501, Details.InvalidTransferEncoding, 'unsupported transfer encoding')
    }
    if (this.chunked) {
      this.state = S_CHUNK_SIZE
    } else if (this.contentLength > 0) {
      this.state = S_BODY_LENGTH
      this.remaining = this.contentLength
    } else {
      this.state = this.contentLength === 0 || this.isRequest ? S_MESSAGE_END : S_BODY_EOF
    }
    return ParseResult.Headers
  }

  /** `method SP request-target SP HTTP-version CRLF`; returns the offset after it or -1. */
  private parseRequestLine(s: string, end: number): number {
    let i = 0
    while (i < end && TCHAR[s.charCodeAt(i)]! > 0) i++
    if (i === 0 || s.charCodeAt(i) !== SP) return this.bad(400, Details.HttpCodecError, 'invalid method')
    this.method = knownMethod(s, i) ?? s.substring(0, i)
    const u = i + 1
    let j = u
    while (j < end && TARGET[s.charCodeAt(j)] === 1) j++
    if (j === u || s.charCodeAt(j) !== SP) return this.bad(400, Details.HttpCodecError, 'invalid request target')
    this.url = s.substring(u, j)
    this.headerBytes = j - u
    // Pseudo-headers before any field line, so they never have to be spliced in front. The
    // server codec rewrites :path for absolute-form and CONNECT targets.
    this.headers.add(':path', this.url)
    this.headers.add(':method', this.method)
    const v = this.parseVersion(s, j + 1, end)
    if (v < 0 || s.charCodeAt(v) !== CR || s.charCodeAt(v + 1) !== LF) {
      return this.bad(400, Details.HttpCodecError, 'invalid HTTP version')
    }
    return v + 2
  }

  /** `HTTP-version SP 3DIGIT SP [reason-phrase] CRLF` (a missing SP before an empty reason is tolerated). */
  private parseStatusLine(s: string, end: number): number {
    const v = this.parseVersion(s, 0, end)
    if (v < 0 || s.charCodeAt(v) !== SP) return this.bad(400, Details.HttpCodecError, 'invalid status line')
    const d0 = s.charCodeAt(v + 1) - 48
    const d1 = s.charCodeAt(v + 2) - 48
    const d2 = s.charCodeAt(v + 3) - 48
    if (!(d0 >= 1 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) {
      return this.bad(400, Details.HttpCodecError, 'invalid status code')
    }
    this.statusCode = d0 * 100 + d1 * 10 + d2
    let i = v + 4
    if (s.charCodeAt(i) === SP) {
      i++
      while (i < end && VALUE[s.charCodeAt(i)] === 1) i++
    }
    if (s.charCodeAt(i) !== CR || s.charCodeAt(i + 1) !== LF) return this.bad(400, Details.HttpCodecError, 'invalid status line')
    this.headers.add(':status', String(this.statusCode))
    return i + 2
  }

  /** `HTTP/d.d` at `at`; returns the offset after it or -1. */
  private parseVersion(s: string, at: number, end: number): number {
    if (at + 8 > end || !s.startsWith('HTTP/', at)) return -1
    const major = s.charCodeAt(at + 5) - 48
    const minor = s.charCodeAt(at + 7) - 48
    if (!(major >= 0 && major <= 9 && minor >= 0 && minor <= 9) || s.charCodeAt(at + 6) !== 46) return -1
    this.majorVersion = major
    this.minorVersion = minor
    return at + 8
  }

  /**
   * Field lines of `s[start, end)` up to and including the empty line; `map` undefined parses
   * and checks without keeping (trailers when disabled). Returns the offset after the empty line or -1.
   */
  private parseFields(s: string, start: number, end: number, map: HeaderMapImpl | undefined, trailers: boolean): number {
    const opts = this.opts
    const underscores = this.isRequest ? opts.headersWithUnderscores : 'ALLOW'
    let pos = start
    let count = 0
    let bytes = trailers ? 0 : this.headerBytes
    for (;;) {
      if (pos >= end) return this.bad(400, Details.HttpCodecError, 'unterminated header block')
      let c = s.charCodeAt(pos)
      if (c === CR) {
        if (s.charCodeAt(pos + 1) !== LF) return this.bad(400, Details.HttpCodecError, 'bare CR in header block')
        if (!trailers) this.headerBytes = bytes
        return pos + 2
      }
      if (c === SP || c === HTAB) return this.bad(400, Details.HttpCodecError, 'obsolete line folding')
      let i = pos
      let flags = 0
      for (; i < end; i++) {
        const t = TCHAR[(c = s.charCodeAt(i))]!
        if (t === 0) break
        flags |= t
      }
      // Also rejects whitespace between the name and the colon (RFC 9112 §5.1) and bare LFs.
      if (i === pos || i === end || c !== 58) {
        return this.bad(400, Details.HttpCodecError, c === LF ? 'bare LF in header block' : 'invalid header name')
      }
      const nameEnd = i++
      while (i < end && ((c = s.charCodeAt(i)) === SP || c === HTAB)) i++
      const vs = i
      while (i < end && VALUE[(c = s.charCodeAt(i))] === 1) i++
      if (i === end) return this.bad(400, Details.HttpCodecError, 'unterminated header block')
      if (c !== CR) {
        if (c === LF) return this.bad(400, Details.HttpCodecError, 'bare LF in header block')
        return this.bad(400, Details.InvalidCharacters, 'header value contains invalid chars')
      }
      if (s.charCodeAt(i + 1) !== LF) return this.bad(400, Details.InvalidCharacters, 'header value contains invalid chars')
      let ve = i
      while (ve > vs && ((c = s.charCodeAt(ve - 1)) === SP || c === HTAB)) ve--
      const nameStart = pos
      pos = i + 2
      if ((flags & 4) !== 0 && underscores !== 'ALLOW') {
        if (underscores === 'DROP_HEADER') {
          this.stats?.droppedHeadersWithUnderscores.inc()
          continue
        }
        this.stats?.requestsRejectedWithUnderscoresInHeaders.inc()
        return this.bad(400, Details.InvalidUnderscore, 'header name contains underscores')
      }
      if (++count > opts.maxHeadersCount) {
        return this.bad(431, Details.TooManyHeaders, `${trailers ? 'trailers' : 'headers'} count exceeds limit`)
      }
      bytes += nameEnd - nameStart + ve - vs
      if (bytes > opts.maxHeadersBytes) {
        return this.bad(431, Details.HeadersTooLarge, `${trailers ? 'trailers' : 'headers'} size exceeds limit`)
      }
      if (map === undefined) continue
      const known = lookupKnownName(s, nameStart, nameEnd)
      const name = known ?? ((flags & 2) !== 0 ? s.substring(nameStart, nameEnd).toLowerCase() : s.substring(nameStart, nameEnd))
      const value = vs === ve ? '' : s.substring(vs, ve)
      if (known !== undefined && !trailers) {
        if (known === 'content-length') {
          // Envoy (disallow_multiple_content_length) rejects any repeat, even an identical one.
          if (this.contentLength >= 0) return this.bad(400, Details.HttpCodecError, 'duplicate Content-Length')
          const n = parseContentLength(value)
          if (n < 0) return this.bad(400, Details.HttpCodecError, 'invalid Content-Length')
          this.contentLength = n
        } else if (known === 'transfer-encoding') {
          this.transferEncoding = this.transferEncoding === undefined ? value : `${this.transferEncoding},${value}`
        } else if (known === 'connection') {
          this.connection = this.connection === undefined ? value : `${this.connection},${value}`
        } else if (known === 'upgrade') {
          this.upgrade = value
        } else if (known === 'host' && this.isRequest) {
          // HTTP/1 Host is the request's :authority (Envoy keeps one header for both).
          if (++this.hostCount === 1) map.add(':authority', value)
          continue
        }
      }
      map.appendRaw(name, value)
    }
  }

  private executeChunkSize(data: BufferInstance): ParseResultValue | -1 {
    const lf = this.scan(data, false)
    if (lf < 0) {
      if (data.length > MAX_CHUNK_LINE) return this.fail(400, Details.HttpCodecError, 'chunk size line too long')
      return ParseResult.NeedMore
    }
    if (lf + 1 > MAX_CHUNK_LINE) return this.fail(400, Details.HttpCodecError, 'chunk size line too long')
    const buf = data.peek(lf + 1)
    let i = 0
    let size = 0
    for (let h: number; (h = HEX[buf[i]!]!) >= 0; i++) {
      size = size * 16 + h
      if (size > Number.MAX_SAFE_INTEGER) return this.fail(400, Details.HttpCodecError, 'invalid chunk size')
    }
    if (i === 0) return this.fail(400, Details.HttpCodecError, 'invalid chunk size')
    // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): after the size only BWS + ";..." may follow.
    let j = i
    while (buf[j] === SP || buf[j] === HTAB) j++
    if (j < lf - 1) {
      if (buf[j] !== 59) return this.fail(400, Details.HttpCodecError, 'invalid chunk size')
      this.chunkExtensionBytes += lf - 1 - j
      if (this.headerBytes + this.chunkExtensionBytes > this.opts.maxHeadersBytes) {
        return this.fail(400, Details.HttpCodecError, 'chunk extensions exceed the header size limit')
      }
      for (; j < lf - 1; j++) {
        if (VALUE[buf[j]!] === 0) return this.fail(400, Details.HttpCodecError, 'invalid chunk extension')
      }
    } else if (j !== i) {
      return this.fail(400, Details.HttpCodecError, 'invalid chunk size')
    }
    if (lf === 0 || buf[lf - 1] !== CR) return this.fail(400, Details.HttpCodecError, 'chunk size line not ended by CRLF')
    data.drain(lf + 1)
    this.scanPos = this.lineStart = this.lines = 0
    if (size === 0) {
      this.state = S_TRAILERS
    } else {
      this.state = S_CHUNK_DATA
      this.remaining = size
    }
    return -1
  }

  private executeTrailers(data: BufferInstance): ParseResultValue {
    const lf = this.scan(data, true)
    if (lf < 0) {
      if (data.length - 3 * this.lines > this.opts.maxHeadersBytes + 1024) {
        return this.fail(431, Details.HeadersTooLarge, 'trailers size exceeds limit')
      }
      return ParseResult.NeedMore
    }
    const map = this.opts.enableTrailers ? new HeaderMapImpl() : undefined
    if (this.parseFields(latin1(data.peek(lf + 1), 0, lf + 1), 0, lf + 1, map, true) < 0) return ParseResult.Error
    data.drain(lf + 1)
    this.trailers = map !== undefined && map.size > 0 ? map : undefined
    this.reset()
    return ParseResult.MessageComplete
  }

  /**
   * Searches `data` from `scanPos` for the next LF (or, with `untilBlank`, for the LF that ends
   * an empty line: `CRLF` or a bare `LF` right after the previous line, which the line parser
   * then rejects). Returns its offset or -1, remembering progress so no byte is scanned twice.
   */
  private scan(data: BufferInstance, untilBlank: boolean): number {
    const slices = data.slices()
    let s = slices.length - 1
    if (s < 0) return -1
    // New bytes are at the end: walk back from the last slice to the one holding scanPos.
    let base = data.length - slices[s]!.length
    while (base > this.scanPos && s > 0) base -= slices[--s]!.length
    for (; s < slices.length; s++) {
      const slice = slices[s]!
      let i = this.scanPos - base
      for (;;) {
        const lf = slice.indexOf(LF, i)
        if (lf < 0) break
        const abs = base + lf
        if (!untilBlank) return abs
        const len = abs - this.lineStart
        if (len === 0 || (len === 1 && (lf > 0 ? slice[lf - 1] : this.prevByte) === CR)) return abs
        this.lines++
        this.lineStart = abs + 1
        i = lf + 1
      }
      base += slice.length
      this.scanPos = base
      if (slice.length > 0) this.prevByte = slice[slice.length - 1]!
    }
    return -1
  }

  private reset(): void {
    this.state = S_HEAD
    this.scanPos = this.lineStart = this.lines = 0
    this.contentLength = -1
    this.chunked = false
    this.transferEncoding = this.connection = this.upgrade = undefined
    this.hostCount = 0
    this.headerBytes = 0
    this.chunkExtensionBytes = 0
  }

  /** Marks the message malformed; -1 for the offset-returning helpers. */
  private bad(code: number, details: string, message: string): number {
    this.fail(code, details, message)
    return -1
  }

  private fail(code: number, details: string, message: string): ParseResultValue {
    this.state = S_ERROR
    this.errorCode = code
    this.errorDetails = details
    this.errorMessage = `http/1.1 protocol error: ${message}`
    return ParseResult.Error
  }
}
