// The HTTP upstream of the bench: a minimal HTTP/1.1 responder on a raw `net` socket. It reads
// request heads and bodies (Content-Length or chunked, pipelined or not), and answers each
// request with a prebuilt response chosen by path. No `node:http`: per request it costs little
// more than the TCP responder, about as much as nginx's `return 200` (see bench/README.md), so
// that the upstream, which shares CPUs with the load generator, stays cheap for every target.
import type net from 'node:net'

/** Paths the bench requests, and their response bodies. */
export interface HttpBodies {
  /** `GET /small`: keep-alive and new-connection scenarios. */
  small: Buffer
  /** `GET /64k`. */
  large: Buffer
  /** `POST /upload`: the answer to an upload, after the whole body is read. */
  uploaded: Buffer
}

export const HTTP_PATHS = { small: '/small', large: '/64k', upload: '/upload' } as const

/** Longest request head accepted (like a server's header limit); longer closes the connection. */
const MAX_HEAD = 64 * 1024

function response(status: string, body: Buffer, close: boolean): Buffer {
  const head = `HTTP/1.1 ${status}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), body])
}

interface Prebuilt {
  keepAlive: Buffer
  close: Buffer
}

function prebuilt(status: string, body: Buffer): Prebuilt {
  return { keepAlive: response(status, body, false), close: response(status, body, true) }
}

const HEAD = 0
const BODY = 1
const CHUNK_SIZE = 2
const CHUNK_DATA = 3
const TRAILERS = 4

/** Returns a connection handler that serves `bodies` (404 for any other path). */
export function httpResponder(bodies: HttpBodies): (s: net.Socket) => void {
  const routes = new Map<string, Prebuilt>([
    [HTTP_PATHS.small, prebuilt('200 OK', bodies.small)],
    [HTTP_PATHS.large, prebuilt('200 OK', bodies.large)],
    [HTTP_PATHS.upload, prebuilt('200 OK', bodies.uploaded)],
  ])
  const notFound = prebuilt('404 Not Found', Buffer.from('not found\n'))
  const badRequest = response('400 Bad Request', Buffer.alloc(0), true)

  return (s) => {
    let state = HEAD
    let carry: Buffer | undefined
    let remaining = 0
    let current: Prebuilt = notFound
    let close = false

    const respond = (): void => {
      if (close) {
        s.end(current.close)
        state = -1
        return
      }
      s.write(current.keepAlive)
      state = HEAD
    }

    const fail = (): void => {
      s.end(badRequest)
      state = -1
    }

    s.on('data', (chunk: Buffer) => {
      let buf = chunk
      if (carry !== undefined) {
        buf = Buffer.concat([carry, chunk])
        carry = undefined
      }
      let off = 0
      while (off < buf.length && state >= 0) {
        if (state === HEAD) {
          const end = buf.indexOf('\r\n\r\n', off, 'latin1')
          if (end < 0) {
            if (buf.length - off > MAX_HEAD) return fail()
            carry = buf.subarray(off)
            return
          }
          const head = buf.toString('latin1', off, end)
          off = end + 4
          const sp1 = head.indexOf(' ')
          const sp2 = head.indexOf(' ', sp1 + 1)
          const lineEnd = head.indexOf('\r\n')
          if (sp1 <= 0 || sp2 < 0) return fail()
          const target = head.slice(sp1 + 1, sp2)
          const version = head.slice(sp2 + 1, lineEnd < 0 ? head.length : lineEnd)
          const q = target.indexOf('?')
          current = routes.get(q < 0 ? target : target.slice(0, q)) ?? notFound
          const lower = head.toLowerCase()
          const conn = headerValue(lower, 'connection')
          close = version === 'HTTP/1.0' ? conn !== 'keep-alive' : conn === 'close'
          const te = headerValue(lower, 'transfer-encoding')
          if (te !== undefined && te.endsWith('chunked')) {
            state = CHUNK_SIZE
            continue
          }
          const cl = headerValue(lower, 'content-length')
          remaining = cl === undefined ? 0 : Number(cl)
          if (!Number.isSafeInteger(remaining) || remaining < 0) return fail()
          if (remaining === 0) respond()
          else state = BODY
        } else if (state === BODY || state === CHUNK_DATA) {
          const n = Math.min(remaining, buf.length - off)
          remaining -= n
          off += n
          if (remaining === 0) {
            if (state === BODY) respond()
            else state = CHUNK_SIZE
          }
        } else {
          // CHUNK_SIZE or TRAILERS: one CRLF-terminated line.
          const eol = buf.indexOf('\r\n', off, 'latin1')
          if (eol < 0) {
            if (buf.length - off > 4096) return fail()
            carry = buf.subarray(off)
            return
          }
          const line = buf.toString('latin1', off, eol)
          off = eol + 2
          if (state === TRAILERS) {
            if (line === '') respond()
            continue
          }
          const semi = line.indexOf(';')
          const size = parseInt(semi < 0 ? line : line.slice(0, semi), 16)
          if (!Number.isSafeInteger(size) || size < 0) return fail()
          if (size === 0) state = TRAILERS
          else {
            // The chunk's data and its trailing CRLF.
            remaining = size + 2
            state = CHUNK_DATA
          }
        }
      }
    })
  }
}

/** The value of header `name` in a lower-cased request head, trimmed; undefined when absent. */
function headerValue(lowerHead: string, name: string): string | undefined {
  const at = lowerHead.indexOf(`\r\n${name}:`)
  if (at < 0) return undefined
  const start = at + name.length + 3
  const end = lowerHead.indexOf('\r\n', start)
  return lowerHead.slice(start, end < 0 ? lowerHead.length : end).trim()
}
