/**
 * A strict reader of what a proxy wrote back on an HTTP/1.1 connection: a sequence of responses,
 * each with a well-formed status line, header lines and framing (Content-Length, chunked, or
 * until close). Anything else is reported as the first malformation found.
 */

export interface ParsedResponse {
  status: number
  headers: Array<[string, string]>
  bodyBytes: number
}

export interface ParseResult {
  responses: ParsedResponse[]
  /** The first malformation, if any. */
  error?: string
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// Field values: visible ASCII, obs-text, SP and HTAB; no other control characters.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
const STATUS_LINE = /^HTTP\/1\.1 ([1-5]\d\d) [\t\x20-\x7e\x80-\xff]*$/

function lineAt(buf: Buffer, from: number): { line: string; next: number } | undefined {
  const nl = buf.indexOf('\r\n', from)
  if (nl < 0) return undefined
  return { line: buf.subarray(from, nl).toString('latin1'), next: nl + 2 }
}

/**
 * Parses `buf` as the whole byte stream a server wrote before closing. `headRequests` tells
 * which responses (by position, interim ones excluded) answer a HEAD and so carry no body;
 * 'unknown' (the requests were mutated) lets any response be a HEAD's.
 */
export function parseResponses(buf: Buffer, headRequests: ReadonlySet<number> | 'unknown' = new Set()): ParseResult {
  const responses: ParsedResponse[] = []
  let at = 0
  let finals = 0
  const bad = (msg: string): ParseResult => ({ responses, error: `response ${responses.length + 1} at byte ${at}: ${msg}: ${JSON.stringify(buf.subarray(at, at + 160).toString('latin1'))}` })
  while (at < buf.length) {
    const start = at
    const first = lineAt(buf, at)
    if (first === undefined) return bad('truncated status line')
    const m = STATUS_LINE.exec(first.line)
    if (m === null) return bad('malformed status line')
    const status = Number(m[1])
    let p = first.next
    const headers: Array<[string, string]> = []
    for (;;) {
      const l = lineAt(buf, p)
      if (l === undefined) { at = start; return bad('truncated header block') }
      p = l.next
      if (l.line === '') break
      const colon = l.line.indexOf(':')
      if (colon <= 0) { at = start; return bad(`malformed header line ${JSON.stringify(l.line.slice(0, 80))}`) }
      const name = l.line.slice(0, colon)
      const value = l.line.slice(colon + 1).trim()
      if (!TOKEN.test(name)) { at = start; return bad(`header name is not a token: ${JSON.stringify(name.slice(0, 80))}`) }
      if (!FIELD_VALUE.test(value)) { at = start; return bad(`header ${name} has a control character`) }
      headers.push([name.toLowerCase(), value])
    }
    const cl = headers.filter(([n]) => n === 'content-length').map(([, v]) => v)
    const te = headers.filter(([n]) => n === 'transfer-encoding').map(([, v]) => v.toLowerCase())
    const interim = status >= 100 && status < 200
    // A HEAD's answer has no body; a local reply sent before the request was parsed may not
    // know it was a HEAD, and then carries its body before the close: accept both.
    const maybeHead = headRequests === 'unknown' || headRequests.has(finals)
    const headNoBody = maybeHead && (p === buf.length || buf.subarray(p, p + 5).toString('latin1') === 'HTTP/')
    const noBody = interim || status === 204 || status === 304 || headNoBody
    let bodyBytes = 0
    if (cl.length > 0 && te.length > 0) { at = start; return bad('both Content-Length and Transfer-Encoding') }
    if (cl.length > 1 && new Set(cl).size > 1) { at = start; return bad(`conflicting Content-Length ${cl.join(', ')}`) }
    if (interim && (cl.length > 0 || te.length > 0)) { at = start; return bad('framing headers on an interim response') }
    if (noBody) {
      // HEAD, 1xx, 204, 304: no body whatever the headers say.
    } else if (te.length > 0) {
      if (te.join(',').replace(/\s/g, '') !== 'chunked') { at = start; return bad(`unexpected Transfer-Encoding ${te.join(', ')}`) }
      for (;;) {
        const l = lineAt(buf, p)
        if (l === undefined) { at = start; return bad('truncated chunked body') }
        if (!/^[0-9a-fA-F]{1,16}(;[^\r\n]*)?$/.test(l.line)) { at = start; return bad(`malformed chunk size line ${JSON.stringify(l.line.slice(0, 40))}`) }
        const size = parseInt(l.line, 16)
        p = l.next
        if (size === 0) {
          // Trailers, then the empty line.
          for (;;) {
            const t = lineAt(buf, p)
            if (t === undefined) { at = start; return bad('truncated trailers') }
            p = t.next
            if (t.line === '') break
          }
          break
        }
        if (p + size + 2 > buf.length) { at = start; return bad('truncated chunk') }
        if (buf[p + size] !== 0x0d || buf[p + size + 1] !== 0x0a) { at = start; return bad('chunk not followed by CRLF') }
        bodyBytes += size
        p += size + 2
      }
    } else if (cl.length > 0) {
      if (!/^\d{1,15}$/.test(cl[0]!)) { at = start; return bad(`malformed Content-Length ${cl[0]}`) }
      const n = Number(cl[0])
      if (p + n > buf.length) { at = start; return bad(`body shorter than Content-Length ${n}`) }
      bodyBytes = n
      p += n
    } else {
      // Delimited by close: the rest of the stream.
      bodyBytes = buf.length - p
      p = buf.length
    }
    responses.push({ status, headers, bodyBytes })
    if (!interim) finals++
    at = p
  }
  return { responses }
}
