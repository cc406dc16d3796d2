import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import net from 'node:net'
import { describe, it } from 'node:test'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import {
  closed, connect, listenerPort, readBytes, roundTrip, startBlackHole, startUpstream, statValue, tcpProxyConfig, waitForStat,
} from './helpers/tcp.js'

const MiB = 1024 * 1024

/** A deterministic 64 KiB block; the stream is this block repeated, so both ends can hash it. */
const BLOCK = crypto.createHash('sha512').update('envoy-ts').digest().toString('hex').repeat(512).slice(0, 64 * 1024)

function writeStream(s: net.Socket, total: number, end: boolean): Promise<string> {
  const hash = crypto.createHash('sha256')
  const block = Buffer.from(BLOCK)
  let sent = 0
  return new Promise((resolve, reject) => {
    const pump = (): void => {
      while (sent < total) {
        const chunk = block.subarray(0, Math.min(block.length, total - sent))
        hash.update(chunk)
        sent += chunk.length
        if (!s.write(chunk)) {
          s.once('drain', pump)
          return
        }
      }
      if (end) s.end()
      resolve(hash.digest('hex'))
    }
    s.once('error', reject)
    pump()
  })
}

/** Reads `total` bytes, pausing `pauseMs` after every `every` bytes: a slow reader. */
function readStream(s: net.Socket, total: number, slow?: { every: number; pauseMs: number }): Promise<string> {
  const hash = crypto.createHash('sha256')
  let got = 0
  let sinceePause = 0
  return new Promise((resolve, reject) => {
    s.on('data', (c: Buffer) => {
      hash.update(c)
      got += c.length
      sinceePause += c.length
      if (got >= total) {
        resolve(hash.digest('hex'))
        return
      }
      if (slow !== undefined && sinceePause >= slow.every) {
        sinceePause = 0
        s.pause()
        setTimeout(() => s.resume(), slow.pauseMs)
      }
    })
    s.once('close', () => { if (got < total) reject(new Error(`closed after ${got} of ${total} bytes`)) })
  })
}

async function rss(envoy: EnvoyProcess): Promise<number> {
  // server.memory_physical_size is refreshed every second; read the process directly instead.
  const { readFileSync } = await import('node:fs')
  const status = readFileSync(`/proc/${envoy.child.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
}

describe('tcp_proxy', () => {
  it('moves 200 MiB each way byte-exact, with bounded memory against a slow reader', async () => {
    const size = 200 * MiB
    let upstreamDigest: Promise<string> | undefined
    let downstreamSent: Promise<string> | undefined
    // The upstream reads the client's stream slowly, then sends its own stream back.
    const upstream = await startUpstream({
      onSocket: (s) => {
        upstreamDigest = readStream(s, size, { every: 8 * MiB, pauseMs: 40 })
        void upstreamDigest.then(() => { downstreamSent = writeStream(s, size, true) })
      },
    })
    const envoy = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [upstream.port] }), args: ['--concurrency', '2'] })
    const port = await listenerPort(envoy, 'tcp_in')
    const baseline = await rss(envoy)
    let peak = baseline
    const sampler = setInterval(() => { void rss(envoy).then((v) => { peak = Math.max(peak, v) }) }, 50)
    const client = await connect(port)
    const sent = await writeStream(client, size, false)
    assert.equal(await upstreamDigest!, sent, 'upstream received exactly what the client sent')
    // Now the other way, with the client as the slow reader.
    const received = await readStream(client, size, { every: 8 * MiB, pauseMs: 40 })
    assert.equal(received, await downstreamSent!, 'client received exactly what the upstream sent')
    clearInterval(sampler)
    client.destroy()
    const growth = peak - baseline
    assert.ok(growth < 96 * MiB, `proxy RSS grew ${Math.round(growth / MiB)} MiB while moving 400 MiB`)
    assert.ok(await statValue(envoy, 'tcp.tcp_in.downstream_flow_control_paused_reading_total') > 0, 'downstream reads were paused at least once')
    await envoy.stop()
    await upstream.close()
  })

  it('passes half-close both ways', async () => {
    // Client → FIN → upstream sees end, answers, then closes its side.
    const upstream = await startUpstream({
      onSocket: (s) => {
        let got = ''
        s.on('data', (c: Buffer) => { got += c.toString() })
        s.on('end', () => s.end(`got:${got}`))
      },
    })
    const envoy = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [upstream.port] }) })
    const port = await listenerPort(envoy, 'tcp_in')
    const r = await roundTrip(port, 'half-closed request')
    assert.equal(r.data.toString(), 'got:half-closed request')
    // Upstream FIN first: the client can still send after the upstream half-closed.
    let sawResolve: (v: string) => void = () => {}
    const upstreamSaw = new Promise<string>((resolve) => { sawResolve = resolve })
    const upstream2 = await startUpstream({
      onSocket: (s) => {
        s.end('bye-first ')
        let got = ''
        s.on('data', (c: Buffer) => { got += c.toString() })
        s.on('end', () => sawResolve(got))
      },
    })
    const envoy2 = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [upstream2.port] }) })
    const c = await connect(await listenerPort(envoy2, 'tcp_in'))
    const ended = new Promise<void>((resolve) => c.once('end', resolve))
    assert.equal((await readBytes(c, 'bye-first '.length)).toString(), 'bye-first ')
    await ended
    c.end('still writing')
    assert.equal(await upstreamSaw, 'still writing')
    await closed(c)
    await Promise.all([envoy.stop(), envoy2.stop()])
    await Promise.all([upstream.close(), upstream2.close()])
  })

  it('an upstream that refuses closes the downstream and counts upstream_cx_connect_fail', async () => {
    const gone = await startUpstream()
    await gone.close()
    const envoy = await startEnvoy({
      config: tcpProxyConfig({
        upstreamPorts: [gone.port],
        tcpProxyExtra: '          access_log: [{ name: envoy.access_loggers.stderr, typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog, log_format: { json_format: { flags: "%RESPONSE_FLAGS%", reason: "%UPSTREAM_TRANSPORT_FAILURE_REASON%" } } } }]',
      }),
      args: ['--file-flush-interval-msec', '20'],
    })
    const r = await roundTrip(await listenerPort(envoy, 'tcp_in'), 'anyone?')
    assert.equal(r.data.length, 0)
    await waitForStat(envoy, 'cluster.backend.upstream_cx_connect_fail', (v) => v === 1)
    const line = await envoy.waitForLog((l) => l.flags !== undefined)
    assert.deepEqual([line.flags, line.reason], ['UF', 'connection_refused'])
    await envoy.stop()
  })

  it('a black-holed upstream hits connect_timeout', async () => {
    const hole = await startBlackHole()
    const envoy = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [hole.port] }).replace('connect_timeout: 1s', 'connect_timeout: 0.25s') })
    const started = Date.now()
    const r = await roundTrip(await listenerPort(envoy, 'tcp_in'), 'hello?')
    const waited = Date.now() - started
    assert.equal(r.data.length, 0)
    assert.ok(waited >= 200 && waited < 3000, `closed after ${waited} ms`)
    await waitForStat(envoy, 'cluster.backend.upstream_cx_connect_timeout', (v) => v === 1)
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_cx_connect_fail'), 1)
    await envoy.stop()
    hole.close()
  })

  it('max_connect_attempts retries another host', async () => {
    const gone = await startUpstream()
    await gone.close()
    const live = await startUpstream({ greeting: 'live ' })
    const envoy = await startEnvoy({
      config: tcpProxyConfig({ upstreamPorts: [gone.port, live.port], tcpProxyExtra: '          max_connect_attempts: 3' }),
    })
    const port = await listenerPort(envoy, 'tcp_in')
    for (let i = 0; i < 4; i++) assert.equal((await roundTrip(port, 'x')).data.toString(), 'live x')
    await envoy.stop()
    await live.close()
  })

  it('a STRICT_DNS cluster resolves localhost', async () => {
    const upstream = await startUpstream({ greeting: 'dns ' })
    const envoy = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [upstream.port], clusterType: 'STRICT_DNS', host: 'localhost' }) })
    assert.equal((await roundTrip(await listenerPort(envoy, 'tcp_in'), 'ok')).data.toString(), 'dns ok')
    await envoy.stop()
    await upstream.close()
  })

  it('a LOGICAL_DNS cluster resolves localhost', async () => {
    const upstream = await startUpstream({ greeting: 'logical ' })
    const envoy = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [upstream.port], clusterType: 'LOGICAL_DNS', host: 'localhost' }) })
    assert.equal((await roundTrip(await listenerPort(envoy, 'tcp_in'), 'ok')).data.toString(), 'logical ok')
    await envoy.stop()
    await upstream.close()
  })

  it('max_connections overflows across workers and is counted', async () => {
    const upstream = await startUpstream()
    const envoy = await startEnvoy({
      config: tcpProxyConfig({ upstreamPorts: [upstream.port], clusterExtra: '    circuit_breakers: { thresholds: [{ max_connections: 3 }] }' }),
      args: ['--concurrency', '4'],
    })
    const port = await listenerPort(envoy, 'tcp_in')
    const held: net.Socket[] = []
    for (let i = 0; i < 3; i++) {
      const s = await connect(port)
      s.write('x')
      await readBytes(s, 1)
      held.push(s)
    }
    // However the kernel spreads them over the 4 workers, the 4th to 8th are over the limit.
    const extra = await Promise.all(Array.from({ length: 5 }, () => roundTrip(port, 'y')))
    assert.ok(extra.every((r) => r.data.length === 0), 'connections over max_connections are closed')
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_cx_overflow'), 5)
    assert.equal(upstream.accepted, 3)
    assert.equal(await statValue(envoy, 'cluster.backend.circuit_breakers.default.cx_open'), 1)
    for (const s of held) s.destroy()
    await envoy.stop()
    await upstream.close()
  })

  it('SIGTERM refuses new connections and lets an open one finish', async () => {
    const upstream = await startUpstream()
    const envoy = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [upstream.port] }), args: ['--concurrency', '2', '--drain-time-s', '30'] })
    const port = await listenerPort(envoy, 'tcp_in')
    const open = await connect(port)
    open.write('before ')
    await readBytes(open, 7)
    envoy.child.kill('SIGTERM')
    await envoy.waitForLog((l) => l.msg === 'listeners stopped')
    const refused = await roundTrip(port, 'new')
    assert.equal(refused.error, 'ECONNREFUSED')
    open.write('during drain')
    assert.equal((await readBytes(open, 'during drain'.length)).toString(), 'during drain')
    assert.equal(envoy.child.exitCode, null, 'still running while a connection is open')
    open.end()
    const { code } = await envoy.exited
    assert.equal(code, 0)
    await upstream.close()
  })

  it('/drain_listeners stops accepting and counts the listener as stopped', async () => {
    const upstream = await startUpstream()
    const envoy = await startEnvoy({ config: tcpProxyConfig({ upstreamPorts: [upstream.port] }) })
    const port = await listenerPort(envoy, 'tcp_in')
    const { request } = await import('./helpers/http-client.js')
    assert.equal((await request(`${envoy.adminUrl}/drain_listeners`, { method: 'POST' })).body, 'OK\n')
    assert.equal((await roundTrip(port, 'x')).error, 'ECONNREFUSED')
    assert.equal(await statValue(envoy, 'listener_manager.listener_stopped'), 1)
    await envoy.stop()
    await upstream.close()
  })
})
