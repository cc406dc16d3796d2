import assert from 'node:assert/strict'
import http from 'node:http'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type EnvoyProcess, runEnvoy, startEnvoy, tempDir, writeTemp } from './helpers/envoy-process.js'
import {
  type EchoBody, type HttpUpstream, type Json, cluster, hcmBootstrap, hcmListener, send, startHttpUpstream, within,
} from './helpers/http-upstream.js'
import { listenerPort, statValue } from './helpers/tcp.js'

/**
 * Which clients may steer the proxy with `x-envoy-*` request headers (issue 18, defect 5). As in
 * Envoy since `explicit_internal_address_config` became the only behaviour, no peer is internal
 * unless the HCM's `internal_address_config` lists it (`cidr_ranges`, `unix_sockets`): a loopback
 * client of an edge proxy (`use_remote_address: true`) is external by default.
 */

const T = { timeout: 15_000 }
const HOOK = { timeout: 30_000 }
/** The upstream answers after this long; `x-envoy-upstream-rq-timeout-ms: 1` is far shorter. */
const UPSTREAM_DELAY_MS = 200

/** Headers only an internal client may send; each would change how the proxy handles the request. */
const STEERING = {
  'x-envoy-upstream-rq-timeout-ms': '1',
  'x-envoy-upstream-rq-per-try-timeout-ms': '1',
  'x-envoy-max-retries': '3',
  'x-envoy-retry-on': '5xx',
  'x-envoy-retry-grpc-on': 'cancelled',
  'x-envoy-retriable-status-codes': '418',
  'x-envoy-upstream-alt-stat-name': 'alt',
  'x-envoy-upstream-rq-timeout-alt-response': '204',
  'x-envoy-hedge-on-per-try-timeout': 'true',
  'x-envoy-force-trace': 'true',
  'x-envoy-ip-tags': 'tag',
  'x-envoy-decorator-operation': 'op',
  'x-envoy-downstream-service-cluster': 'spoofed',
}

let envoy: EnvoyProcess
let upstream: HttpUpstream
const ports: Record<string, number> = {}
let sockets: { internal: string; external: string }

const LOOPBACK_RANGE = { cidr_ranges: [{ address_prefix: '127.0.0.1', prefix_len: 32 }] }

function edge(name: string, hcm: Json, listener?: Json): Json {
  return hcmListener({ name, statPrefix: name, hcm: { use_remote_address: true, ...hcm }, ...(listener !== undefined ? { listener } : {}) })
}

const pipe = (p: string): Json => ({ address: { pipe: { path: p } } })

function config(upstreamPort: number): string {
  return hcmBootstrap({
    name: 'edge_default',
    statPrefix: 'edge_default',
    hcm: { use_remote_address: true },
    extraListeners: [
      edge('edge_internal', { internal_address_config: LOOPBACK_RANGE }),
      edge('edge_unix_only', { internal_address_config: { unix_sockets: true } }),
      edge('pipe_internal', { internal_address_config: { unix_sockets: true } }, pipe(sockets.internal)),
      edge('pipe_external', {}, pipe(sockets.external)),
    ],
    clusters: [cluster('backend', { endpoints: [upstreamPort] })],
  })
}

/** One request over a Unix socket with Node's client. */
function sendUnix(socketPath: string, urlPath: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: urlPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('internal_address_config: who may send x-envoy-* request headers', () => {
  before(async () => {
    const dir = tempDir('envoy-ts-internal-')
    sockets = { internal: path.join(dir, 'internal.sock'), external: path.join(dir, 'external.sock') }
    upstream = await startHttpUpstream({ behavior: () => ({ kind: 'echo', delayMs: UPSTREAM_DELAY_MS }) })
    envoy = await startEnvoy({ config: config(upstream.port) })
    for (const l of ['edge_default', 'edge_internal', 'edge_unix_only']) ports[l] = await listenerPort(envoy, l)
  }, HOOK)
  after(async () => {
    await envoy?.stop()
    await upstream?.close()
  }, HOOK)

  it('without internal_address_config a loopback client is external: its x-envoy-* headers are stripped, not obeyed', T, async () => {
    const r = await within(send(ports.edge_default!, '/default', { headers: { ...STEERING, 'x-envoy-internal': 'true' } }), 5000, 'the answer')
    assert.equal(r.status, 200, `the 1 ms timeout from the client was ignored: ${r.body}`)
    const seen = r.echo().headers
    for (const h of Object.keys(STEERING)) assert.equal(seen[h], undefined, `${h} is not forwarded`)
    assert.equal(seen['x-envoy-internal'], undefined, 'a client cannot claim to be internal')
    assert.equal(seen['x-envoy-external-address'], '127.0.0.1', 'the edge names the external client')
    assert.equal(seen['x-envoy-expected-rq-timeout-ms'], '15000', "the route's own timeout (Envoy's default 15 s)")
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_rq_timeout'), 0)
  })

  it('unix_sockets alone does not make a loopback TCP client internal', T, async () => {
    const r = await within(send(ports.edge_unix_only!, '/unix-only', { headers: STEERING }), 5000, 'the answer')
    assert.equal(r.status, 200)
    assert.equal(r.echo().headers['x-envoy-upstream-rq-timeout-ms'], undefined)
  })

  it('with cidr_ranges listing 127.0.0.1/32 the same request is internal: the 1 ms timeout applies (504)', T, async () => {
    const before = await statValue(envoy, 'cluster.backend.upstream_rq_timeout')
    const r = await within(send(ports.edge_internal!, '/internal-timeout', { headers: { 'x-envoy-upstream-rq-timeout-ms': '1' } }), 5000, 'the answer')
    assert.equal(r.status, 504)
    assert.equal(r.body, 'upstream request timeout')
    assert.equal(await statValue(envoy, 'cluster.backend.upstream_rq_timeout'), before + 1)
    // x-envoy-upstream-rq-timeout-alt-response: a timeout answers 204 instead of 504.
    const alt = await within(send(ports.edge_internal!, '/internal-alt', { headers: { 'x-envoy-upstream-rq-timeout-ms': '1', 'x-envoy-upstream-rq-timeout-alt-response': '' } }), 5000, 'the answer')
    assert.equal(alt.status, 204)
    // An internal request is marked, keeps x-envoy-* headers the router does not consume, and is no edge request.
    const ok = (await within(send(ports.edge_internal!, '/internal-ok', { headers: { 'x-envoy-upstream-alt-stat-name': 'alt', 'x-envoy-external-address': '192.0.2.7' } }), 5000, 'the answer'))
    assert.equal(ok.status, 200)
    const seen: EchoBody['headers'] = ok.echo().headers
    assert.equal(seen['x-envoy-internal'], 'true')
    assert.equal(seen['x-envoy-upstream-alt-stat-name'], 'alt')
    assert.equal(seen['x-envoy-external-address'], '192.0.2.7', 'an internal request keeps the address a front proxy set')
  })

  it('a client-supplied x-forwarded-for makes even a listed peer external', T, async () => {
    const r = await within(send(ports.edge_internal!, '/xff', { headers: { 'x-envoy-upstream-rq-timeout-ms': '1', 'x-forwarded-for': '203.0.113.9' } }), 5000, 'the answer')
    assert.equal(r.status, 200)
    const seen = r.echo().headers
    assert.equal(seen['x-envoy-internal'], undefined)
    assert.equal(seen['x-envoy-external-address'], '127.0.0.1')
  })

  it('a Unix socket peer is internal only with unix_sockets: true', T, async () => {
    const internal = await within(sendUnix(sockets.internal, '/pipe-internal', { 'x-envoy-upstream-rq-timeout-ms': '1' }), 5000, 'the answer')
    assert.equal(internal.status, 504)
    const external = await within(sendUnix(sockets.external, '/pipe-external', { 'x-envoy-upstream-rq-timeout-ms': '1' }), 5000, 'the answer')
    assert.equal(external.status, 200)
    const seen = (JSON.parse(external.body) as EchoBody).headers
    assert.equal(seen['x-envoy-upstream-rq-timeout-ms'], undefined)
    assert.equal(seen['x-envoy-internal'], undefined)
  })

  it('a malformed cidr_ranges entry is rejected at load time, naming the field', T, async () => {
    const bad = hcmBootstrap({ hcm: { use_remote_address: true, internal_address_config: { cidr_ranges: [{ address_prefix: 'not-an-ip', prefix_len: 8 }] } }, clusters: [cluster('backend', { endpoints: [1] })] })
    const r = await runEnvoy(['-c', writeTemp('bad.yaml', bad), '--mode', 'validate'])
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stdout + r.stderr, /internal_address_config\.cidr_ranges\[0\]/)
  })
})

describe('the explicit_internal_address_config runtime guard', () => {
  let legacy: EnvoyProcess
  let up: HttpUpstream
  before(async () => {
    up = await startHttpUpstream({ behavior: () => ({ kind: 'echo', delayMs: UPSTREAM_DELAY_MS }) })
    const bootstrap = JSON.parse(hcmBootstrap({
      name: 'edge_legacy',
      statPrefix: 'edge_legacy',
      hcm: { use_remote_address: true },
      extraListeners: [edge('edge_explicit', { internal_address_config: { cidr_ranges: [{ address_prefix: '192.0.2.0', prefix_len: 24 }] } })],
      clusters: [cluster('backend', { endpoints: [up.port] })],
    })) as Json
    bootstrap.layered_runtime = { layers: [{ name: 'static', static_layer: { 'envoy.reloadable_features.explicit_internal_address_config': false } }] }
    legacy = await startEnvoy({ config: JSON.stringify(bootstrap) })
  }, HOOK)
  after(async () => {
    await legacy?.stop()
    await up?.close()
  }, HOOK)

  it('set to false, a listener without internal_address_config trusts loopback again (Envoy\'s old default)', T, async () => {
    const r = await within(send(await listenerPort(legacy, 'edge_legacy'), '/legacy', { headers: { 'x-envoy-upstream-rq-timeout-ms': '1' } }), 5000, 'the answer')
    assert.equal(r.status, 504)
  })

  it('... but an explicit internal_address_config still decides alone', T, async () => {
    const r = await within(send(await listenerPort(legacy, 'edge_explicit'), '/explicit', { headers: { 'x-envoy-upstream-rq-timeout-ms': '1' } }), 5000, 'the answer')
    assert.equal(r.status, 200)
    assert.equal(r.echo().headers['x-envoy-internal'], undefined)
  })
})
