// Active health checking and outlier detection end to end: the real binary in front of loopback
// upstreams that go down and come back. Thresholds are checked through the health check event
// log; "traffic follows" means no request reaches a host once main has flagged it (after a
// short grace for the snapshot to reach the workers, well inside one interval).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { type EnvoyProcess, startEnvoy, tempDir } from './helpers/envoy-process.js'
import {
  distribution, endpointsYaml, flagged, healthy, type HttpBackend, httpBackends, proxyBootstrap, sleep, TcpBackend,
  tcpPick, via, waitForHost,
} from './helpers/backends.js'
import { listenerPort, statValue, waitForStat } from './helpers/tcp.js'

/** Event logs are flushed every 50 ms so the test can read them. */
async function envoyFor(t: TestContext, config: string, concurrency = 2): Promise<EnvoyProcess> {
  const envoy = await startEnvoy({ config, args: ['--concurrency', String(concurrency), '--file-flush-interval-msec', '50'] })
  t.after(async () => {
    const kill = setTimeout(() => envoy.child.kill('SIGKILL'), 5000)
    await envoy.stop()
    clearTimeout(kill)
  })
  return envoy
}

function stopAll(t: TestContext, backends: Array<{ stop?: () => Promise<void>; close?: () => Promise<void> }>): void {
  t.after(() => Promise.all(backends.map((b) => (b.stop ?? b.close)!.call(b))))
}

/** Parsed event log lines. */
function events(file: string): Array<Record<string, any>> {
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, any>)
}

/** Waits for an event log line matching `pred` (the file is flushed by the server on its own schedule). */
async function waitForEvent(file: string, pred: (e: Record<string, any>) => boolean, timeoutMs = 15_000): Promise<Array<Record<string, any>>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const all = events(file)
    if (all.some(pred)) return all
    if (Date.now() > deadline) throw new Error(`no matching event in ${file}:\n${JSON.stringify(all)}`)
    await sleep(50)
  }
}

describe('active health checking', () => {
  it('HTTP: unhealthy after unhealthy_threshold failures, healthy after healthy_threshold passes; traffic follows', async (t) => {
    const [a, b] = await httpBackends('a', 'b') as [HttpBackend, HttpBackend]
    stopAll(t, [a, b])
    const log = path.join(tempDir(), 'hc.log')
    const envoy = await envoyFor(t, proxyBootstrap(`
  - name: backend
    connect_timeout: 0.25s
    health_checks:
    - timeout: 0.25s
      interval: 0.3s
      no_traffic_interval: 0.3s
      unhealthy_threshold: 2
      healthy_threshold: 2
      event_log_path: ${log}
      always_log_health_check_failures: true
      always_log_health_check_success: true
      http_health_check: { path: /healthz }
    load_assignment:
      cluster_name: backend
      endpoints:
${endpointsYaml([{ ports: [a.port, b.port] }])}`))
    const port = await listenerPort(envoy, 'http_in')
    const before = await distribution(port, 40)
    assert.ok((before.get('a') ?? 0) > 0 && (before.get('b') ?? 0) > 0, JSON.stringify([...before]))

    await b.stop()
    await waitForHost(envoy, 'backend', b.port, flagged('failed_active_hc'))
    await sleep(50)
    const during = await distribution(port, 40)
    assert.deepEqual([...during], [['a', 40]], 'no request reaches the unhealthy host')
    const down = await waitForEvent(log, (e) => e.eject_unhealthy_event !== undefined)
    const eject = down.findIndex((e) => e.eject_unhealthy_event !== undefined)
    assert.equal(down[eject]!.eject_unhealthy_event.failure_type, 'NETWORK')
    assert.equal(down[eject]!.host.socket_address.port_value, b.port)
    // unhealthy_threshold 2: one failure before the one that ejects (which logs its own failure after).
    const bFailures = down.slice(0, eject).filter((e) => e.health_check_failure_event !== undefined && e.host.socket_address.port_value === b.port)
    assert.equal(bFailures.length, 1)
    assert.ok(await statValue(envoy, 'cluster.backend.health_check.network_failure') >= 2)
    assert.equal(await statValue(envoy, 'cluster.backend.membership_healthy'), 1)

    await b.start()
    await waitForHost(envoy, 'backend', b.port, healthy)
    const up = await waitForEvent(log, (e) => e.add_healthy_event !== undefined && e.host.socket_address.port_value === b.port && e.add_healthy_event.first_check === false)
    const added = up.findIndex((e) => e.add_healthy_event?.first_check === false && e.host.socket_address.port_value === b.port)
    const lastFailure = up.slice(0, added).findLastIndex((e) => e.health_check_failure_event !== undefined && e.host.socket_address.port_value === b.port)
    const passesBefore = up.slice(lastFailure + 1, added).filter((e) => e.successful_health_check_event !== undefined && e.host.socket_address.port_value === b.port)
    assert.equal(passesBefore.length, 1, 'healthy_threshold 2: one pass before the one that adds the host')
    await sleep(50)
    const after = await distribution(port, 40)
    assert.ok((after.get('b') ?? 0) > 0, 'traffic returns to the recovered host')
  })

  it('TCP: send/receive payloads decide health; tcp_proxy traffic follows', async (t) => {
    const [a, b] = await Promise.all([new TcpBackend('a').start(), new TcpBackend('b').start()])
    stopAll(t, [a, b])
    const envoy = await envoyFor(t, proxyBootstrap(`
  - name: backend
    connect_timeout: 0.25s
    health_checks:
    - timeout: 0.2s
      interval: 0.25s
      no_traffic_interval: 0.25s
      unhealthy_threshold: 1
      healthy_threshold: 1
      tcp_health_check:
        send: { text: "50494e47" }
        receive: [{ text: "504f" }, { text: "4e47" }]
    load_assignment:
      cluster_name: backend
      endpoints:
${endpointsYaml([{ ports: [a.port, b.port] }])}`))
    const port = await listenerPort(envoy, 'tcp_in')
    const picks = await Promise.all(Array.from({ length: 20 }, () => tcpPick(port)))
    assert.ok(picks.includes('a') && picks.includes('b'))
    b.healthy = false
    // A wrong answer is only known when the check times out.
    await waitForHost(envoy, 'backend', b.port, flagged('active_hc_timeout'))
    await sleep(50)
    const onlyA = await Promise.all(Array.from({ length: 20 }, () => tcpPick(port)))
    assert.deepEqual([...new Set(onlyA)], ['a'])
    b.healthy = true
    await waitForHost(envoy, 'backend', b.port, healthy)
    await sleep(50)
    const both = await Promise.all(Array.from({ length: 20 }, () => tcpPick(port)))
    assert.ok(both.includes('b'))
  })

  it('x-envoy-immediate-health-check-fail on traffic excludes the host at once', async (t) => {
    const [a, b] = await httpBackends('a', 'b') as [HttpBackend, HttpBackend]
    stopAll(t, [a, b])
    const envoy = await envoyFor(t, proxyBootstrap(`
  - name: backend
    health_checks:
    - { timeout: 1s, interval: 30s, unhealthy_threshold: 3, healthy_threshold: 1, http_health_check: { path: /healthz } }
    load_assignment:
      cluster_name: backend
      endpoints:
${endpointsYaml([{ ports: [a.port, b.port] }])}`))
    const port = await listenerPort(envoy, 'http_in')
    b.dataHeaders = { 'x-envoy-immediate-health-check-fail': 'true' }
    for (let i = 0; i < 10 && b.served === 0; i++) await via(port)
    await waitForHost(envoy, 'backend', b.port, flagged('excluded_via_immediate_hc_fail'))
    assert.equal(await statValue(envoy, 'cluster.backend.health_check.passive_failure'), 1)
    await sleep(50)
    const served = b.served
    await distribution(port, 20)
    assert.equal(b.served, served)
  })
})

describe('outlier detection', () => {
  it('five consecutive 5xx eject a host (across workers); it returns after base_ejection_time, then stays out longer', async (t) => {
    const [a, b] = await httpBackends('a', 'b') as [HttpBackend, HttpBackend]
    stopAll(t, [a, b])
    b.dataStatus = 500
    const log = path.join(tempDir(), 'outlier.log')
    const envoy = await envoyFor(t, proxyBootstrap(`
  - name: backend
    outlier_detection: { consecutive_5xx: 5, interval: 1s, base_ejection_time: 1s, max_ejection_percent: 50 }
    load_assignment:
      cluster_name: backend
      endpoints:
${endpointsYaml([{ ports: [a.port, b.port] }])}`, `cluster_manager: { outlier_detection: { event_log_path: ${log} } }`))
    const port = await listenerPort(envoy, 'http_in')
    const active = (): Promise<number> => statValue(envoy, 'cluster.backend.outlier_detection.ejections_active')
    let fails = 0
    while (fails < 4) if ((await via(port)).status === 500) fails++
    assert.equal(await active(), 0, 'four are not enough')
    while (fails < 5) if ((await via(port)).status === 500) fails++
    await waitForStat(envoy, 'cluster.backend.outlier_detection.ejections_active', (v) => v === 1)
    const ejectedAt = Date.now()
    await waitForHost(envoy, 'backend', b.port, flagged('failed_outlier_check'))
    await sleep(50)
    assert.deepEqual([...(await distribution(port, 20))], [['a', 20]])
    assert.equal(await statValue(envoy, 'cluster.backend.outlier_detection.ejections_enforced_consecutive_5xx'), 1)
    assert.equal(await statValue(envoy, 'cluster.backend.outlier_detection.ejections_total'), 1)

    await waitForHost(envoy, 'backend', b.port, healthy, 5000)
    const out = Date.now() - ejectedAt
    // Un-ejection is checked every interval (1 s): back between 1 and 2 intervals after the ejection.
    assert.ok(out >= 900 && out < 2600, `back after base_ejection_time (${out} ms)`)
    await sleep(50)
    let second = 0
    while (second < 5) if ((await via(port)).status === 500) second++
    await waitForHost(envoy, 'backend', b.port, flagged('failed_outlier_check'))
    const again = Date.now()
    await waitForHost(envoy, 'backend', b.port, healthy, 5000)
    const out2 = Date.now() - again
    // Re-ejected within an interval of coming back, so the multiplier has not decayed: 2 × base.
    assert.ok(out2 >= 1900, `the second ejection lasts 2 × base_ejection_time (${out2} ms)`)
    const ejects = (await waitForEvent(log, (e) => e.action === 'EJECT' && e.num_ejections === 2)).filter((e) => e.action === 'EJECT')
    assert.deepEqual(ejects.map((e) => [e.type, e.upstream_url, e.num_ejections, e.enforced]), [
      ['CONSECUTIVE_5XX', `127.0.0.1:${b.port}`, 1, true], ['CONSECUTIVE_5XX', `127.0.0.1:${b.port}`, 2, true],
    ])
  })

  it('refused connections through tcp_proxy count as failures (connect errors map to 503)', async (t) => {
    const [a, b] = await httpBackends('a', 'b') as [HttpBackend, HttpBackend]
    stopAll(t, [a, b])
    await b.stop()
    const envoy = await envoyFor(t, proxyBootstrap(`
  - name: backend
    connect_timeout: 0.5s
    outlier_detection: { consecutive_5xx: 3, interval: 1s, base_ejection_time: 30s, max_ejection_percent: 50 }
    load_assignment:
      cluster_name: backend
      endpoints:
${endpointsYaml([{ ports: [a.port, b.port] }])}`), 1)
    const port = await listenerPort(envoy, 'tcp_in')
    for (let i = 0; i < 6; i++) await tcpPick(port).catch(() => '')
    await waitForHost(envoy, 'backend', b.port, flagged('failed_outlier_check'))
    assert.equal(await statValue(envoy, 'cluster.backend.outlier_detection.ejections_detected_consecutive_5xx'), 1)
  })
})
