import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import {
  BLOCK, type HttpUpstream, RawHttpConnection, cluster, hcmBootstrap, hcmListener, startHttpUpstream, stderrJsonAccessLog, within,
} from './helpers/http-upstream.js'
import { listenerPort, statValue, waitForStat } from './helpers/tcp.js'

/**
 * Large bodies both ways through the HCM and router with bounded proxy memory, and the HCM's
 * downstream timeouts: request_headers_timeout (slowloris), stream_idle_timeout, request_timeout.
 */

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const SIZE = GiB
/** Readers on both ends pause this long after every `every` bytes: slower than the proxy. */
const SLOW = { every: 16 * MiB, pauseMs: 20 }
const RSS_BOUND = 128 * MiB

/** Hooks start and stop processes: bounded, so a failed start cannot hang the run. */
const HOOK = { timeout: 30_000 }
let envoy: EnvoyProcess
let upstream: HttpUpstream
const ports: Record<string, number> = {}

function rss(): number {
  const status = fs.readFileSync(`/proc/${envoy.child.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
}

/** Samples the proxy's RSS until stopped; returns the peak growth over the starting value. */
function rssSampler(): { stop(): number } {
  const base = rss()
  let peak = base
  const timer = setInterval(() => { peak = Math.max(peak, rss()) }, 50)
  return { stop: () => { clearInterval(timer); peak = Math.max(peak, rss()); return peak - base } }
}

function config(upstreamPort: number): string {
  const log = stderrJsonAccessLog({ path: '%REQ(:PATH)%', code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', details: '%RESPONSE_CODE_DETAILS%' })
  const vhosts = [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend', timeout: '0s' } }] }]
  return hcmBootstrap({
    statPrefix: 'streaming',
    virtualHosts: vhosts,
    extraListeners: [
      hcmListener({ name: 'headers_timeout', statPrefix: 'hdrto', virtualHosts: vhosts, hcm: { request_headers_timeout: '0.3s', access_log: [log] } }),
      hcmListener({ name: 'idle', statPrefix: 'idle', virtualHosts: vhosts, hcm: { stream_idle_timeout: '0.3s', access_log: [log] } }),
      hcmListener({ name: 'request_timeout', statPrefix: 'reqto', virtualHosts: vhosts, hcm: { request_timeout: '0.3s', stream_idle_timeout: '10s', access_log: [log] } }),
    ],
    clusters: [cluster('backend', { endpoints: [upstreamPort] })],
  })
}

describe('HTTP streaming and downstream timeouts', () => {
  before(async () => {
    upstream = await startHttpUpstream({
      behavior: (_n, req) => req.method === 'POST' && req.url === '/upload'
        ? { kind: 'sink', slow: SLOW }
        : req.url === '/download' ? { kind: 'source', bytes: SIZE } : { kind: 'echo' },
    })
    envoy = await startEnvoy({ config: config(upstream.port), args: ['--file-flush-interval-msec', '10', '--drain-time-s', '2'] })
    for (const l of ['http_in', 'headers_timeout', 'idle', 'request_timeout']) ports[l] = await listenerPort(envoy, l)
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    await upstream?.close()
  }, HOOK)

  it('a 1 GiB upload reaches a slow upstream byte-exact, with bounded proxy memory', { timeout: 120_000 }, async (t) => {
    const sampler = rssSampler()
    const started = Date.now()
    const hash = crypto.createHash('sha256')
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: ports.http_in, path: '/upload', method: 'POST', agent: false,
        headers: { 'content-length': String(SIZE), 'content-type': 'application/octet-stream' },
      }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { body += c })
        res.on('end', () => resolve(body))
        res.on('error', reject)
      })
      req.on('error', reject)
      let sent = 0
      const pump = (): void => {
        while (sent < SIZE) {
          const chunk = BLOCK.subarray(0, Math.min(BLOCK.length, SIZE - sent))
          hash.update(chunk)
          sent += chunk.length
          if (!req.write(chunk)) {
            req.once('drain', pump)
            return
          }
        }
        req.end()
      }
      pump()
    })
    const growth = sampler.stop()
    const ms = Date.now() - started
    t.diagnostic(`upload: 1 GiB in ${ms} ms (${Math.round(SIZE / MiB / (ms / 1000))} MiB/s), proxy RSS growth ${Math.round(growth / MiB)} MiB`)
    const got = JSON.parse(answer) as { bytes: number; sha256: string }
    assert.equal(got.bytes, SIZE)
    assert.equal(got.sha256, hash.digest('hex'), 'the upstream received exactly what the client sent')
    assert.ok(growth < RSS_BOUND, `proxy RSS grew ${Math.round(growth / MiB)} MiB while moving 1 GiB`)
    // The slow upstream pushed back: the client connection was paused and resumed.
    const paused = await statValue(envoy, 'http.streaming.downstream_flow_control_paused_reading_total')
    assert.ok(paused > 0, 'downstream reading was paused')
    assert.ok(await statValue(envoy, 'http.streaming.downstream_flow_control_resumed_reading_total') >= paused - 1, 'and resumed')
  })

  it('a 1 GiB download reaches a slow client byte-exact, with bounded proxy memory', { timeout: 120_000 }, async (t) => {
    const expected = crypto.createHash('sha256')
    for (let left = SIZE; left > 0; left -= BLOCK.length) expected.update(BLOCK.subarray(0, Math.min(left, BLOCK.length)))
    const pausedBefore = await statValue(envoy, 'cluster.backend.upstream_flow_control_paused_reading_total')
    const sampler = rssSampler()
    const started = Date.now()
    const got = await new Promise<{ bytes: number; sha256: string; chunked: boolean }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: ports.http_in, path: '/download', agent: false }, (res) => {
        const hash = crypto.createHash('sha256')
        let bytes = 0
        let sincePause = 0
        res.on('data', (c: Buffer) => {
          hash.update(c)
          bytes += c.length
          sincePause += c.length
          if (sincePause >= SLOW.every) {
            sincePause = 0
            res.pause()
            setTimeout(() => res.resume(), SLOW.pauseMs)
          }
        })
        res.on('end', () => resolve({ bytes, sha256: hash.digest('hex'), chunked: res.headers['transfer-encoding'] === 'chunked' }))
        res.on('error', reject)
      }).on('error', reject)
    })
    const growth = sampler.stop()
    const ms = Date.now() - started
    t.diagnostic(`download: 1 GiB in ${ms} ms (${Math.round(SIZE / MiB / (ms / 1000))} MiB/s), proxy RSS growth ${Math.round(growth / MiB)} MiB`)
    assert.equal(got.bytes, SIZE)
    assert.equal(got.sha256, expected.digest('hex'), 'the client received exactly what the upstream sent')
    assert.ok(got.chunked, 'a body of unknown length is relayed chunked')
    assert.ok(growth < RSS_BOUND, `proxy RSS grew ${Math.round(growth / MiB)} MiB while moving 1 GiB`)
    assert.ok(await statValue(envoy, 'cluster.backend.upstream_flow_control_paused_reading_total') > pausedBefore,
      'the slow client paused reading from the upstream')
  })

  it('slowloris: request_headers_timeout answers a stalled header block with 408 and closes', { timeout: 10_000 }, async () => {
    const conn = await RawHttpConnection.open(ports.headers_timeout!)
    const started = Date.now()
    conn.write('GET /slow HTTP/1.1\r\nHost: stream.test\r\nX-Slow: ')
    // Envoy: a local reply "request header timeout" (408 while the request is incomplete).
    const r = await within(conn.readResponse(), 5000, 'a response to the stalled request')
    const waited = Date.now() - started
    assert.equal(r.status, 408)
    assert.equal(r.body.toString(), 'request header timeout')
    assert.ok(waited >= 250 && waited < 3000, `answered after ${waited} ms`)
    await within(conn.closed, 3000, 'close after the 408')
    await waitForStat(envoy, 'http.hdrto.downstream_rq_header_timeout', (v) => v === 1)
    assert.ok(!upstream.heads.some((h) => h.endsWith('/slow')))
  })

  it('request_headers_timeout does not cut a request whose headers arrived in time', { timeout: 10_000 }, async () => {
    const conn = await RawHttpConnection.open(ports.headers_timeout!)
    // Headers complete at once; the body trickles for longer than the header timeout.
    conn.write('POST /in-time HTTP/1.1\r\nHost: stream.test\r\nContent-Length: 6\r\n\r\nabc')
    await upstream.waitForRequests(upstream.requestCount + 1)
    await new Promise((resolve) => setTimeout(resolve, 500)) // longer than the 0.3 s header timeout, by design
    conn.write('def')
    const r = await within(conn.readResponse(), 5000, 'response')
    assert.equal(r.status, 200)
    assert.equal((JSON.parse(r.body.toString()) as { body: string }).body, 'abcdef')
    conn.destroy()
  })

  it('stream_idle_timeout: a request that stalls mid-body gets 408 "stream timeout", flag SI', { timeout: 10_000 }, async () => {
    const before = await statValue(envoy, 'http.idle.downstream_rq_idle_timeout')
    const conn = await RawHttpConnection.open(ports.idle!)
    const started = Date.now()
    conn.write('POST /idle HTTP/1.1\r\nHost: stream.test\r\nContent-Length: 10\r\n\r\nabc')
    const r = await within(conn.readResponse(), 5000, 'idle timeout response')
    const waited = Date.now() - started
    assert.equal(r.status, 408)
    assert.equal(r.body.toString(), 'stream timeout')
    assert.ok(waited >= 250 && waited < 3000, `answered after ${waited} ms`)
    await within(conn.closed, 3000, 'close after the 408')
    await waitForStat(envoy, 'http.idle.downstream_rq_idle_timeout', (v) => v === before + 1)
    const line = await within(envoy.waitForLog((l) => l.path === '/idle'), 5000, 'access log')
    assert.equal(line.flags, 'SI')
    assert.equal(line.details, 'stream_idle_timeout')
  })

  it('request_timeout: a request not complete in time gets 408 "request timeout"', { timeout: 10_000 }, async () => {
    const conn = await RawHttpConnection.open(ports.request_timeout!)
    const started = Date.now()
    conn.write('POST /reqto HTTP/1.1\r\nHost: stream.test\r\nContent-Length: 10\r\n\r\na')
    // Keep the stream busy (so stream_idle_timeout never fires) but never finish the body.
    const trickle = setInterval(() => { if (!conn.peerClosed) conn.write('b') }, 100)
    try {
      const r = await within(conn.readResponse(), 5000, 'request timeout response')
      const waited = Date.now() - started
      assert.equal(r.status, 408)
      assert.equal(r.body.toString(), 'request timeout')
      assert.ok(waited >= 250 && waited < 3000, `answered after ${waited} ms`)
    } finally {
      clearInterval(trickle)
    }
    await within(conn.closed, 3000, 'close after the 408')
    await waitForStat(envoy, 'http.reqto.downstream_rq_timeout', (v) => v === 1)
    assert.equal((await within(envoy.waitForLog((l) => l.path === '/reqto'), 5000, 'access log')).details, 'request_overall_timeout')
  })
})
