/**
 * Micro-benchmark of the HTTP/1 hot path: (1) the parser alone on a ~200-byte keep-alive GET,
 * (2) the server codec: dispatch + a small response encoded and written (to a stub connection).
 *
 *   npx tsc -p . && node dist/bench/common/http/http1-parser.bench.js [iterations]
 */
import os from 'node:os'
import { BufferImpl } from '../../../source/common/buffer/buffer-impl.js'
import { HeaderMapImpl } from '../../../source/common/http/header-map-impl.js'
import type { Http1CodecStats } from '../../../source/common/http/http1/codec-stats.js'
import { Http1Parser, ParseResult } from '../../../source/common/http/http1/parser.js'
import { ServerConnectionImpl } from '../../../source/common/http/http1/server-connection-impl.js'
import type { BufferInstance } from '../../../source/envoy/buffer/buffer.js'
import type { Http1Settings, RequestDecoder, ResponseEncoder } from '../../../source/envoy/http/codec.js'
import type { HeaderMap } from '../../../source/envoy/http/header-map.js'
import type { Connection } from '../../../source/envoy/network/connection.js'

const N = Number(process.argv[2] ?? 1_000_000)
const REQUEST = Buffer.from(
  'GET /api/v1/items?id=42 HTTP/1.1\r\n' +
    'Host: backend.example.com:8080\r\n' +
    'User-Agent: bench/1.0\r\n' +
    'Accept: application/json\r\n' +
    'Accept-Encoding: gzip, deflate\r\n' +
    'X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\r\n' +
    '\r\n',
)

const settings: Http1Settings = {
  maxHeadersBytes: 60 * 1024,
  maxHeadersCount: 100,
  acceptHttp10: false,
  defaultHostForHttp10: '',
  allowAbsoluteUrl: true,
  enableTrailers: false,
  allowChunkedLength: false,
  headersWithUnderscores: 'ALLOW',
}
const noop = { inc: () => {}, add: () => {}, value: () => 0, used: () => false, name: '' }
const stats: Http1CodecStats = {
  droppedHeadersWithUnderscores: noop,
  metadataNotSupportedError: noop,
  requestsRejectedWithUnderscoresInHeaders: noop,
  responseFlood: noop,
  protocolError: noop,
}

function time(label: string, n: number, fn: () => void): void {
  for (let i = 0; i < Math.min(n, 200_000); i++) fn() // warm-up
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn()
  const ns = Number(process.hrtime.bigint() - t0) / n
  console.log(`${label.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns/request  (${(1e9 / ns / 1e6).toFixed(2)} M/s)`)
}

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'}, 1 thread, ${N} iterations`)
console.log(`request: ${REQUEST.length} bytes, 5 headers`)

// (1) Parser only.
const parser = new Http1Parser('request', settings, stats)
const input = new BufferImpl()
let sink = 0
time('parser: head + message complete', N, () => {
  input.add(REQUEST)
  if (parser.execute(input) !== ParseResult.Headers) throw new Error('no headers')
  sink += parser.headers.size
  if (parser.execute(input) !== ParseResult.MessageComplete) throw new Error('no complete')
})

// (2) Server codec: dispatch, decodeHeaders, a 2-header response with a 13-byte body.
let written = 0
const conn = {
  write(data: BufferInstance) {
    written += data.length
    data.drain(data.length)
  },
  addConnectionCallbacks() {},
  state: () => 'Open',
  readDisable() {},
  close() {},
  writeBufferedBytes: () => 0,
} as unknown as Connection
const body = Buffer.from('hello, world\n')
const callbacks = {
  newStream(encoder: ResponseEncoder): RequestDecoder {
    return {
      decodeHeaders(headers: HeaderMap, endStream: boolean) {
        if (!endStream) return
        sink += headers.size
        const h = new HeaderMapImpl()
        h.set(':status', '200')
        h.set('content-type', 'text/plain')
        h.set('content-length', '13')
        encoder.encodeHeaders(h, false)
        encoder.encodeData(new BufferImpl(body), true)
      },
      decodeData() {},
      decodeTrailers() {},
      sendLocalReply() {
        throw new Error('unexpected local reply')
      },
    }
  },
  onProtocolError(details: string): void {
    throw new Error(`unexpected protocol error: ${details}`)
  },
}
const codec = new ServerConnectionImpl(conn, callbacks, settings, stats)
const readBuffer = new BufferImpl()
time('server codec: dispatch + 200 response', N, () => {
  readBuffer.add(REQUEST)
  if (!codec.dispatch(readBuffer).ok) throw new Error('dispatch failed')
})
console.log(`(checksum ${sink}, ${written} bytes written)`)
