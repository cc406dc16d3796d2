/**
 * Issue 18, defect 11 (runtime part): `state.in-memory` limits (`maxKeys`, `maxBytes`,
 * `maxValueBytes` in the component's metadata) through the real binary: a write past a limit is
 * RESOURCE_EXHAUSTED on gRPC (Dapr and Layotto) and 429 with Dapr's error code on the Dapr HTTP
 * API, and stores nothing; writes that do not grow the store still pass. Bad limit metadata is
 * refused at load time, naming the field.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { type EnvoyProcess, runEnvoy, startEnvoy, writeTemp } from './helpers/envoy-process.js'
import { request } from './helpers/http-client.js'
import { grpcFails, loadApiProtos, type RuntimeClient, runtimeClient, runtimeApiBootstrap } from './helpers/runtime-grpc.js'
import { listenerPort } from './helpers/tcp.js'

function bootstrap(metadata: string): string {
  return runtimeApiBootstrap([`state: { statestore: { type: in-memory, metadata: ${metadata} } }`])
}

const bytes = (n: number, c = 'v'): Buffer => Buffer.from(c.repeat(n))

describe('state.in-memory limits', () => {
  let envoy: EnvoyProcess
  let dapr: RuntimeClient
  let layotto: RuntimeClient
  let http: string

  before(async () => {
    envoy = await startEnvoy({ config: bootstrap('{ maxKeys: 4, maxBytes: 400, maxValueBytes: 150 }') })
    const port = await listenerPort(envoy, 'grpc')
    dapr = runtimeClient(loadApiProtos(['dapr/proto/runtime/v1/dapr.proto']), 'dapr.proto.runtime.v1.Dapr', port)
    layotto = runtimeClient(loadApiProtos(['spec/proto/runtime/v1/runtime.proto']), 'spec.proto.runtime.v1.Runtime', port)
    http = `http://127.0.0.1:${await listenerPort(envoy, 'dapr_http')}`
  })

  after(async () => {
    dapr?.close()
    layotto?.close()
    await envoy?.stop()
  })

  const save = (c: RuntimeClient, key: string, value: Buffer): Promise<unknown> =>
    c.unary('SaveState', { store_name: 'statestore', states: [{ key, value }] })
  const size = async (key: string): Promise<number> =>
    Buffer.from((await dapr.unary('GetState', { store_name: 'statestore', key }))['data'] as Uint8Array).length
  const exhausted = (p: Promise<unknown>, re: RegExp): Promise<void> => grpcFails(p, grpc.status.RESOURCE_EXHAUSTED, re)

  it('refuses writes past maxBytes, maxKeys and maxValueBytes, storing nothing', async () => {
    for (const k of ['k1', 'k2', 'k3']) await save(dapr, k, bytes(100)) // 3 keys, 306 bytes
    await exhausted(save(dapr, 'k4', bytes(100)), /maxBytes 400/)
    assert.equal(await size('k4'), 0, 'nothing stored')
    await save(dapr, 'k4', bytes(50)) // 4 keys, 358 bytes
    await exhausted(save(dapr, 'k5', bytes(1)), /maxKeys 4/)
    await exhausted(save(layotto, 'k5', bytes(1)), /maxKeys 4/)
    assert.equal(await size('k5'), 0)
    await exhausted(save(dapr, 'k1', bytes(151)), /maxValueBytes 150/)
    assert.equal(await size('k1'), 100, 'the old value stays')
    // Several items: refused whole.
    await exhausted(dapr.unary('SaveState', { store_name: 'statestore', states: [{ key: 'k1', value: bytes(10) }, { key: 'k6', value: bytes(1) }] }), /maxKeys/)
    assert.equal(await size('k1'), 100)
  })

  it('lets writes that do not grow past a limit through', async () => {
    await save(dapr, 'k1', bytes(10)) // an overwrite that shrinks
    assert.equal(await size('k1'), 10)
    await dapr.unary('ExecuteStateTransaction', {
      storeName: 'statestore',
      operations: [
        { operationType: 'delete', request: { key: 'k2' } },
        { operationType: 'upsert', request: { key: 'k5', value: bytes(1) } },
      ],
    })
    assert.equal(await size('k5'), 1)
    await dapr.unary('DeleteState', { store_name: 'statestore', key: 'k3' })
    await save(layotto, 'k6', bytes(100))
    assert.equal(await size('k6'), 100)
  })

  it('Dapr HTTP: 429 with ERR_STATE_SAVE / ERR_STATE_TRANSACTION', async () => {
    const post = (p: string, body: unknown): Promise<{ status: number; body: string }> =>
      request(`${http}${p}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    const saved = await post('/v1.0/state/statestore', [{ key: 'h1', value: 'x' }])
    assert.equal(saved.status, 429, saved.body)
    assert.equal((JSON.parse(saved.body) as { errorCode: string }).errorCode, 'ERR_STATE_SAVE')
    assert.equal((await request(`${http}/v1.0/state/statestore/h1`)).status, 204, 'nothing stored')
    const tx = await post('/v1.0/state/statestore/transaction', { operations: [{ operation: 'upsert', request: { key: 'h2', value: 'x' } }] })
    assert.equal(tx.status, 429, tx.body)
    assert.equal((JSON.parse(tx.body) as { errorCode: string }).errorCode, 'ERR_STATE_TRANSACTION')
    const big = await post('/v1.0/state/statestore', [{ key: 'k1', value: 'x'.repeat(200) }])
    assert.equal(big.status, 429, big.body)
    assert.equal(envoy.child.exitCode, null)
  })

  it('rejects unknown or invalid limit metadata at load time, naming the field', async () => {
    for (const [md, field] of [['{ maxkeys: 3 }', 'metadata.maxkeys'], ['{ maxBytes: -1 }', 'metadata.maxBytes'], ['{ maxValueBytes: lots }', 'metadata.maxValueBytes']] as const) {
      const r = await runEnvoy(['--mode', 'validate', '-c', writeTemp('bootstrap.yaml', bootstrap(md))])
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stdout + r.stderr, new RegExp(`state\\.statestore\\.${field.replace('.', '\\.')}`))
    }
  })
})
