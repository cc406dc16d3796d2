/**
 * The overload manager (issue 18): Envoy's global downstream connection limit, exact across
 * workers, and the stop_accepting_connections / disable_http_keepalive actions.
 */
import assert from 'node:assert/strict'
import type net from 'node:net'
import { after, describe, it } from 'node:test'
import { type EnvoyProcess, runEnvoy, startEnvoy, writeTemp } from './helpers/envoy-process.js'
import { closed, connect, listenerPort, readBytes, statsMap, statValue, waitForStat } from './helpers/tcp.js'

const MONITOR = 'envoy.resource_monitors.global_downstream_max_connections'
const KEEPALIVE = 'envoy.overload_actions.disable_http_keepalive'
const STOP = 'envoy.overload_actions.stop_accepting_connections'

function overload(max: number, actions = ''): string {
  return `
overload_manager:
  refresh_interval: 0.05s
  resource_monitors:
  - name: ${MONITOR}
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: ${max}
${actions}`
}

function bootstrap(overloadYaml: string): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${overloadYaml}
static_resources:
  listeners:
  - name: echo
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.echo
        typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.echo.v3.Echo }
  - name: http_in
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http_in
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "ok" } } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`
}

/** Connects and sends one byte: resolves 'served' when echoed, 'closed' when the proxy closes it. */
async function probe(port: number): Promise<{ socket: net.Socket; outcome: 'served' | 'closed' }> {
  const socket = await connect(port)
  socket.on('error', () => {})
  socket.write('x')
  // The proxy closes an extra one with a FIN (or a RST when our byte arrived first).
  const ended = new Promise<'closed'>((resolve) => socket.once('end', () => resolve('closed')))
  const outcome = await Promise.race([readBytes(socket, 1).then(() => 'served' as const, () => 'closed' as const), ended])
  return { socket, outcome }
}

/** One HTTP/1.1 request on a new connection; returns the raw response head. */
async function httpHead(port: number): Promise<string> {
  const s = await connect(port)
  s.on('error', () => {})
  s.write('GET / HTTP/1.1\r\nhost: test\r\n\r\n')
  let text = ''
  await new Promise<void>((resolve, reject) => {
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      if (text.includes('\r\n\r\nok')) resolve()
    })
    s.once('close', () => (text.includes('\r\n\r\nok') ? resolve() : reject(new Error(`closed early: ${text}`))))
  })
  s.destroy()
  return text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase()
}

function stopAll(sockets: net.Socket[]): void {
  for (const s of sockets.splice(0)) s.destroy()
}

describe('overload manager', () => {
  const running: EnvoyProcess[] = []
  const sockets: net.Socket[] = []
  after(async () => {
    stopAll(sockets)
    await Promise.all(running.map((p) => p.stop('SIGKILL')))
  })

  it('global_downstream_max_connections: N across workers, extras closed and counted, room again after closes', async () => {
    const N = 4
    const p = await startEnvoy({ config: bootstrap(overload(N)), args: ['--concurrency', '2'] })
    running.push(p)
    const port = await listenerPort(p, 'echo')
    const outcomes: string[] = []
    for (let i = 0; i < N + 5; i++) {
      const r = await probe(port)
      sockets.push(r.socket)
      outcomes.push(r.outcome)
    }
    assert.deepEqual(outcomes, [...Array(N).fill('served'), ...Array(5).fill('closed')])
    const overflow = [...(await statsMap(p, 'downstream_global_cx_overflow')).entries()].filter(([k]) => k.startsWith('listener.127.0.0.1_'))
    assert.equal(overflow.reduce((a, [, v]) => a + v, 0), 5)
    // Main samples the pressure every refresh_interval (50 ms here).
    await waitForStat(p, `overload.${MONITOR}.pressure`, (v) => v === 100)

    // Close two served connections: two new ones are accepted, the next is not.
    const served = sockets.slice(0, 2)
    for (const s of served) s.destroy()
    await Promise.all(served.map(closed))
    const again: string[] = []
    for (let i = 0; i < 3; i++) {
      const r = await eventuallyServed(port, i < 2)
      sockets.push(r.socket)
      again.push(r.outcome)
    }
    assert.deepEqual(again, ['served', 'served', 'closed'])
    stopAll(sockets)
    assert.equal((await p.stop()).code, 0)
  })

  it('disable_http_keepalive adds connection: close over its threshold; stop_accepting_connections holds accepts', async () => {
    const actions = `  actions:
  - name: ${KEEPALIVE}
    triggers: [{ name: ${MONITOR}, threshold: { value: 0.5 } }]
  - name: ${STOP}
    triggers: [{ name: ${MONITOR}, threshold: { value: 0.75 } }]
`
    const p = await startEnvoy({ config: bootstrap(overload(4, actions)), args: ['--concurrency', '2'] })
    running.push(p)
    const echo = await listenerPort(p, 'echo')
    const http = await listenerPort(p, 'http_in')
    assert.doesNotMatch(await httpHead(http), /connection: close/)
    assert.equal(await statValue(p, `overload.${KEEPALIVE}.active`), 0)

    // Two held connections: pressure 2/4 = 0.5 saturates disable_http_keepalive.
    for (let i = 0; i < 2; i++) sockets.push((await probe(echo)).socket)
    await waitForStat(p, `overload.${KEEPALIVE}.active`, (v) => v === 1)
    assert.equal(await statValue(p, `overload.${KEEPALIVE}.scale_percent`), 100)
    assert.match(await httpHead(http), /connection: close/)
    assert.ok(await statValue(p, 'http.http_in.downstream_cx_overload_disable_keepalive') >= 1)

    // A third: 0.75 saturates stop_accepting_connections; a new connection waits in the queue.
    sockets.push((await probe(echo)).socket)
    await waitForStat(p, `overload.${STOP}.active`, (v) => v === 1)
    // Workers apply it on their next refresh (50 ms): give them a generous margin to do so.
    await new Promise((r) => setTimeout(r, 1000))
    const waiting = await connect(echo)
    waiting.on('error', () => {})
    waiting.write('y')
    const echoed = readBytes(waiting, 1)
    let served = false
    void echoed.then(() => { served = true }, () => {})
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(served, false, 'not accepted while stop_accepting_connections is active')
    // Pressure falls: the waiting connection is accepted and served.
    stopAll(sockets)
    assert.equal((await echoed).toString(), 'y')
    await waitForStat(p, `overload.${STOP}.active`, (v) => v === 0)
    // Every connection gone (the request below adds one: 1/4 stays under 0.5): keep-alive again.
    waiting.destroy()
    await waitForStat(p, `overload.${MONITOR}.pressure`, (v) => v === 0)
    await waitForStat(p, `overload.${KEEPALIVE}.active`, (v) => v === 0)
    assert.doesNotMatch(await httpHead(http), /connection: close/)
    assert.equal((await p.stop()).code, 0)
  })

  it('unknown resource monitors and unsupported actions are rejected at load time, naming the field', async () => {
    const bad = `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
overload_manager:
  refresh_interval: 0.25s
  resource_monitors:
  - name: envoy.resource_monitors.fixed_heap
  - name: envoy.resource_monitors.injected_resource
  actions:
  - name: envoy.overload_actions.stop_accepting_requests
    triggers: [{ name: envoy.resource_monitors.fixed_heap, threshold: { value: 0.9 } }]
  - name: ${KEEPALIVE}
    triggers: [{ name: envoy.resource_monitors.nope, threshold: { value: 0.9 } }]
`
    const r = await runEnvoy(['--mode', 'validate', '-c', writeTemp('bad.yaml', bad)])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /overload_manager\.resource_monitors\[0\]: Didn't find a registered implementation for name: 'envoy\.resource_monitors\.fixed_heap'/)
    assert.match(r.stderr, /overload_manager\.resource_monitors\[1\]: Didn't find a registered implementation for name: 'envoy\.resource_monitors\.injected_resource'/)
    assert.match(r.stderr, /overload_manager\.actions\[0\]\.name: unsupported overload action 'envoy\.overload_actions\.stop_accepting_requests'/)
    assert.match(r.stderr, /overload_manager\.actions\[1\]\.triggers\[0\]\.name: unknown trigger resource 'envoy\.resource_monitors\.nope'/)
    const zero = await runEnvoy(['--mode', 'validate', '-c', writeTemp('zero.yaml', bootstrap(overload(0)))])
    assert.equal(zero.code, 1)
    assert.match(zero.stderr, /max_active_downstream_connections/)
    const ok = await runEnvoy(['--mode', 'validate', '-c', writeTemp('ok.yaml', bootstrap(overload(10)))])
    assert.equal(ok.code, 0, ok.stderr)
  })
})

/**
 * A probe that should be served once the proxy has released closed connections (their release
 * follows the close on a worker: retried briefly, bounded). `expectServed` false: probe once.
 */
async function eventuallyServed(port: number, expectServed: boolean): Promise<{ socket: net.Socket; outcome: 'served' | 'closed' }> {
  for (let i = 0; ; i++) {
    const r = await probe(port)
    if (r.outcome === 'served' || !expectServed || i >= 20) return r
    r.socket.destroy()
    await new Promise((res) => setTimeout(res, 100))
  }
}
