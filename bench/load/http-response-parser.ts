// An HTTP/1.1 response parser for the load generator: just enough to find where each response
// ends (Content-Length, chunked, or the end of the connection) and to read its status and
// whether the connection stays open. The body is counted, never copied.

/** `feed` results besides an offset: more bytes are needed, or the bytes are not HTTP. */
export const NEED_MORE = -1
export const PARSE_ERROR = -2

const HEAD = 0
const BODY = 1
const CHUNK_SIZE = 2
const CHUNK_DATA = 3
const TRAILERS = 4
/** No Content-Length and not chunked: the body runs to the end of the connection. */
const UNTIL_CLOSE = 5
const DONE = 6

/** Longest response head accepted. */
const MAX_HEAD = 64 * 1024

export class ResponseParser {
  /** Status code of the response being parsed (or just completed). */
  status = 0
  /** Body bytes (without chunk framing) of the response being parsed. */
  bodyBytes = 0
  /** Whether the connection may carry another request after this response. */
  keepAlive = true
  private state = HEAD
  private remaining = 0
  private carry: Buffer | undefined

  /** Ready for the next response on the same connection. */
  reset(): void {
    this.state = HEAD
    this.status = 0
    this.bodyBytes = 0
    this.remaining = 0
    this.carry = undefined
  }

  /** Whether a response has started (bytes seen) but not completed. */
  get inProgress(): boolean {
    return this.state !== DONE && (this.state !== HEAD || this.carry !== undefined)
  }

  /**
   * Parses `buf` from `off`. Returns the offset just after the end of the response when it
   * completes in `buf` (bytes after it belong to whatever comes next), NEED_MORE when every byte
   * was consumed and the response is not complete, PARSE_ERROR when the bytes are not a
   * response. After a completed response, call `reset()` before feeding the next one.
   */
  feed(buf: Buffer, off = 0): number {
    if (this.carry === undefined) return this.parse(buf, off)
    // Parse the held bytes and the new ones together; offsets go back in the caller's terms.
    const held = this.carry
    this.carry = undefined
    const r = this.parse(Buffer.concat([held, buf.subarray(off)]), 0)
    return r < 0 ? r : r - held.length + off
  }

  private parse(buf: Buffer, off: number): number {
    while (off < buf.length) {
      switch (this.state) {
        case HEAD: {
          const end = buf.indexOf('\r\n\r\n', off, 'latin1')
          if (end < 0) {
            if (buf.length - off > MAX_HEAD) return PARSE_ERROR
            this.carry = Buffer.from(buf.subarray(off))
            return NEED_MORE
          }
          const r = this.head(buf.toString('latin1', off, end))
          off = end + 4
          if (r === PARSE_ERROR) return PARSE_ERROR
          if ((this.state as number) === DONE) return off
          break
        }
        case BODY:
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, buf.length - off)
          if (this.state === BODY) {
            this.remaining -= n
            off += n
            this.bodyBytes += n
            if (this.remaining === 0) {
              this.state = DONE
              return off
            }
          } else {
            // The last two bytes of a chunk are its CRLF, not data.
            this.bodyBytes += Math.min(n, Math.max(0, this.remaining - 2))
            this.remaining -= n
            off += n
            if (this.remaining === 0) this.state = CHUNK_SIZE
          }
          break
        }
        case CHUNK_SIZE:
        case TRAILERS: {
          const eol = buf.indexOf('\r\n', off, 'latin1')
          if (eol < 0) {
            if (buf.length - off > 4096) return PARSE_ERROR
            this.carry = Buffer.from(buf.subarray(off))
            return NEED_MORE
          }
          const line = buf.toString('latin1', off, eol)
          off = eol + 2
          if (this.state === TRAILERS) {
            if (line === '') {
              this.state = DONE
              return off
            }
            break
          }
          const semi = line.indexOf(';')
          const hex = (semi < 0 ? line : line.slice(0, semi)).trim()
          if (!/^[0-9a-fA-F]+$/.test(hex)) return PARSE_ERROR
          const size = parseInt(hex, 16)
          if (size === 0) this.state = TRAILERS
          else {
            this.remaining = size + 2
            this.state = CHUNK_DATA
          }
          break
        }
        case UNTIL_CLOSE:
          this.bodyBytes += buf.length - off
          return NEED_MORE
        default:
          // DONE: bytes after a complete response that nobody asked for.
          return PARSE_ERROR
      }
    }
    return this.state === DONE ? off : NEED_MORE
  }

  /**
   * The connection ended. Returns true when that completes the current response (a body
   * delimited by the close), false when a response was cut short.
   */
  end(): boolean {
    if (this.state === UNTIL_CLOSE) {
      this.state = DONE
      return true
    }
    return false
  }

  private head(head: string): number {
    // Status line: HTTP/1.x NNN reason
    if (!head.startsWith('HTTP/1.')) return PARSE_ERROR
    const status = Number(head.slice(9, 12))
    if (!Number.isInteger(status) || status < 100) return PARSE_ERROR
    const http10 = head.charCodeAt(7) === 0x30
    if (status >= 100 && status < 200) {
      // 100 Continue and friends: an interim head, the real one follows.
      this.state = HEAD
      return 0
    }
    this.status = status
    const lower = head.toLowerCase()
    const conn = headerValue(lower, 'connection')
    this.keepAlive = http10 ? conn === 'keep-alive' : conn !== 'close'
    if (status === 204 || status === 304) {
      this.state = DONE
      return 0
    }
    const te = headerValue(lower, 'transfer-encoding')
    if (te !== undefined && te.endsWith('chunked')) {
      this.state = CHUNK_SIZE
      return 0
    }
    const cl = headerValue(lower, 'content-length')
    if (cl !== undefined) {
      const n = Number(cl)
      if (!Number.isSafeInteger(n) || n < 0) return PARSE_ERROR
      this.remaining = n
      this.state = n === 0 ? DONE : BODY
      return 0
    }
    this.keepAlive = false
    this.state = UNTIL_CLOSE
    return 0
  }
}

function headerValue(lowerHead: string, name: string): string | undefined {
  const at = lowerHead.indexOf(`\r\n${name}:`)
  if (at < 0) return undefined
  const start = at + name.length + 3
  const end = lowerHead.indexOf('\r\n', start)
  return lowerHead.slice(start, end < 0 ? lowerHead.length : end).trim()
}
