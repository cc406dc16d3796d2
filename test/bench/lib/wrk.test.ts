import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseWrkOutput, wrkScript } from '../../../bench/lib/wrk.js'

const OUTPUT = `Running 4s test @ http://127.0.0.1:18081/small
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   601.32us    2.00ms  55.46ms   97.82%
    Req/Sec    81.68k    16.66k   92.77k    95.12%
  Latency Distribution
     50%  184.00us
     75%  211.00us
     90%  276.00us
     99%    8.97ms
  324037 requests in 4.00s, 47.44MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  81011.87
Transfer/sec:     11.86MB
WRK_JSON {"requests":324037,"durationUs":4000123,"bytes":49744117,"p50":184,"p90":276,"p99":8970,"p999":21000,"max":55460,"mean":601.3,"errors":{"connect":0,"read":3,"write":0,"status":5,"timeout":1}}
`

describe('bench: wrk', () => {
  it('reads requests/s, transfer, the latency distribution, errors and the exact counts of the script', () => {
    const r = parseWrkOutput(OUTPUT)
    assert.equal(r.requestsPerSec, 81011.87)
    assert.equal(r.transferPerSec, 11.86 * 1024 * 1024)
    assert.deepEqual(r.latency, { p50: 184, p75: 211, p90: 276, p99: 8970 })
    assert.equal(r.requests, 324037)
    assert.equal(r.durationSec, 4)
    assert.deepEqual(r.errors, { read: 3, timeout: 1, 'non-2xx': 5 })
    assert.equal(r.exact?.p999, 21000)
    assert.equal(r.exact?.errors.status, 5)
    assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused'), /Requests\/sec/)
  })

  it('writes a Lua script with the method, headers, body and a done() that prints JSON', () => {
    const s = wrkScript({ method: 'POST', path: '/upload', headers: { 'Content-Type': 'application/octet-stream' }, bodySize: 1024, close: true })
    assert.match(s, /wrk.method = "POST"/)
    assert.match(s, /wrk.headers\["Content-Type"\] = "application\/octet-stream"/)
    assert.match(s, /wrk.headers\["Connection"\] = "close"/)
    assert.match(s, /wrk.body = string.rep\("b", 1024\)/)
    assert.match(s, /WRK_JSON/)
  })
})
