/**
 * Issue 18, defect 1: names a client chooses (secret keys, store and component names, state
 * keys, metadata keys, configuration keys, lock and sequencer keys, topics, file names) that are
 * members of Object.prototype (`constructor`, `toString`, `__proto__`, ...) must be treated as
 * any other name. Before the fix `GET /v1.0/secrets/<store>/constructor` ended the process
 * ("function () { [native code] } could not be cloned"). Every name goes through Dapr's HTTP
 * API, Dapr's gRPC API and Layotto's gRPC API of the real binary; each answer must equal the
 * answer for an ordinary unknown name, the process must stay alive, and normal requests must
 * still work afterwards.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { type EnvoyProcess, startEnvoy, tempDir } from './helpers/envoy-process.js'
import { request, type SimpleResponse } from './helpers/http-client.js'
import { loadApiProtos, type Obj, type RuntimeClient, runtimeClient, runtimeApiBootstrap } from './helpers/runtime-grpc.js'
import { listenerPort } from './helpers/tcp.js'

const NAMES = Object.getOwnPropertyNames(Object.prototype)
/** An ordinary name nothing knows: the answer every prototype name must get. */
const PLAIN = 'no-such-name-x'

function bootstrap(files: string, secrets: string): string {
  return runtimeApiBootstrap([
    'app: { app_id: proto-app }',
    'state: { statestore: { type: in-memory } }',
    'pub_subs: { pubsub: { type: in-memory } }',
    'lock: { lockstore: { type: in-memory } }',
    'sequencer: { sequencer: { type: in-memory } }',
    'config_store: { configstore: { type: in-memory, metadata: { items: { feature: "on" } } } }',
    'secret_store:',
    '  envstore: { type: local.env }',
    `  filestore: { type: local.file, metadata: { secretsFile: ${JSON.stringify(secrets)} } }`,
    `file: { files: { type: local, metadata: { root: ${JSON.stringify(files)} } } }`,
  ])
}

/** Status and Dapr error code of an HTTP answer (the message names the key, so it differs). */
function shape(r: SimpleResponse): string {
  let code = ''
  try {
    code = String((JSON.parse(r.body) as { errorCode?: string }).errorCode ?? '')
  } catch {
    // not JSON: the status says it all
  }
  return `${r.status} ${code}`
}

/** The gRPC status name of a call (OK when it succeeded). */
async function grpcShape(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    const e = err as grpc.ServiceError
    assert.ok(typeof e.code === 'number', `not a gRPC error: ${String(err)}`)
    return grpc.status[e.code]!
  }
}

describe('client-chosen names that are Object.prototype members', () => {
  let envoy: EnvoyProcess
  let http: string
  let dapr: RuntimeClient
  let layotto: RuntimeClient

  before(async () => {
    const dir = tempDir('envoy-ts-proto-names-')
    const files = path.join(dir, 'files')
    fs.mkdirSync(files)
    fs.writeFileSync(path.join(files, 'hello.txt'), 'hi')
    const secrets = path.join(dir, 'secrets.json')
    fs.writeFileSync(secrets, JSON.stringify({ db: { password: 'pw' } }))
    envoy = await startEnvoy({ config: bootstrap(files, secrets), env: { PROTO_NAMES_SECRET: 'shh' } })
    http = `http://127.0.0.1:${await listenerPort(envoy, 'dapr_http')}`
    const grpcPort = await listenerPort(envoy, 'grpc')
    dapr = runtimeClient(loadApiProtos(['dapr/proto/runtime/v1/dapr.proto']), 'dapr.proto.runtime.v1.Dapr', grpcPort)
    layotto = runtimeClient(loadApiProtos(['spec/proto/runtime/v1/runtime.proto']), 'spec.proto.runtime.v1.Runtime', grpcPort)
  })

  after(async () => {
    dapr?.close()
    layotto?.close()
    await envoy?.stop()
  })

  const alive = (): void => assert.equal(envoy.child.exitCode, null, `envoy-ts exited:\n${envoy.stderr.slice(-2000)}`)
  const get = (p: string): Promise<SimpleResponse> => request(`${http}${p}`)
  const post = (p: string, body: unknown): Promise<SimpleResponse> =>
    request(`${http}${p}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  const enc = encodeURIComponent

  it('Dapr HTTP: secrets, state, stores, configuration, locks, pub/sub, bindings, metadata', async () => {
    const cases: Array<{ what: string; run: (n: string) => Promise<SimpleResponse> }> = [
      { what: 'env secret key', run: (n) => get(`/v1.0/secrets/envstore/${enc(n)}`) },
      { what: 'file secret key', run: (n) => get(`/v1.0/secrets/filestore/${enc(n)}`) },
      { what: 'secret store', run: (n) => get(`/v1.0/secrets/${enc(n)}/key`) },
      { what: 'bulk secret store', run: (n) => get(`/v1.0/secrets/${enc(n)}/bulk`) },
      { what: 'state key', run: (n) => get(`/v1.0/state/statestore/${enc(n)}`) },
      { what: 'state store', run: (n) => get(`/v1.0/state/${enc(n)}/k`) },
      { what: 'state store (save)', run: (n) => post(`/v1.0/state/${enc(n)}`, [{ key: 'k', value: 1 }]) },
      { what: 'configuration key', run: (n) => get(`/v1.0/configuration/configstore?key=${enc(n)}`) },
      { what: 'configuration store', run: (n) => get(`/v1.0/configuration/${enc(n)}?key=feature`) },
      { what: 'lock store', run: (n) => post(`/v1.0-alpha1/lock/${enc(n)}`, { resourceId: 'r', lockOwner: 'o', expiryInSeconds: 5 }) },
      { what: 'pub/sub', run: (n) => post(`/v1.0/publish/${enc(n)}/topic`, { a: 1 }) },
      { what: 'binding', run: (n) => post(`/v1.0/bindings/${enc(n)}`, { operation: 'get' }) },
      { what: 'query metadata', run: (n) => get(`/v1.0/state/statestore/k?metadata.${enc(n)}=x`) },
      { what: 'header', run: (n) => request(`${http}/v1.0/state/statestore/k`, { headers: { [n.replace(/_/g, 'x')]: 'v' } }) },
    ]
    for (const c of cases) {
      const expected = shape(await c.run(PLAIN))
      for (const n of NAMES) {
        const got = shape(await c.run(n))
        alive()
        assert.equal(got, expected, `${c.what} ${JSON.stringify(n)}`)
      }
    }
    const secret = await get('/v1.0/secrets/envstore/PROTO_NAMES_SECRET')
    assert.equal(secret.status, 200)
    assert.deepEqual(JSON.parse(secret.body), { PROTO_NAMES_SECRET: 'shh' })
  })

  it('Dapr HTTP: prototype names as state keys, metadata keys and topics round-trip', async () => {
    for (const n of NAMES) {
      const saved = await post('/v1.0/state/statestore', [{ key: n, value: { n } }])
      assert.equal(saved.status, 204, `save ${n}: ${saved.body}`)
      const got = await get(`/v1.0/state/statestore/${enc(n)}`)
      assert.equal(got.status, 200, `get ${n}`)
      assert.deepEqual(JSON.parse(got.body), { n })
      const bulk = await post('/v1.0/state/statestore/bulk', { keys: [n] })
      assert.equal(bulk.status, 200)
      assert.deepEqual((JSON.parse(bulk.body) as Obj[]).map((i) => [i['key'], i['data']]), [[n, { n }]])
      const put = await request(`${http}/v1.0/metadata/${enc(n)}`, { method: 'PUT', body: `v-${n}` })
      assert.equal(put.status, 204, `metadata ${n}: ${put.body}`)
      const published = await post(`/v1.0/publish/pubsub/${enc(n)}`, { n })
      assert.equal(published.status, 204, `publish ${n}: ${published.body}`)
      alive()
    }
    const md = JSON.parse((await get('/v1.0/metadata')).body) as { extended: Record<string, string> }
    for (const n of NAMES) assert.ok(Object.hasOwn(md.extended, n) && md.extended[n] === `v-${n}`, `metadata ${n}`)
  })

  it('Dapr gRPC: GetSecret, GetBulkSecret, state, configuration, lock, publish, binding', async () => {
    const cases: Array<{ what: string; run: (n: string) => Promise<unknown> }> = [
      { what: 'env secret key', run: (n) => dapr.unary('GetSecret', { store_name: 'envstore', key: n }) },
      { what: 'file secret key', run: (n) => dapr.unary('GetSecret', { store_name: 'filestore', key: n }) },
      { what: 'secret store', run: (n) => dapr.unary('GetSecret', { store_name: n, key: 'k' }) },
      { what: 'bulk secret store', run: (n) => dapr.unary('GetBulkSecret', { store_name: n }) },
      { what: 'secret metadata', run: (n) => dapr.unary('GetSecret', { store_name: 'envstore', key: PLAIN, metadata: { [n]: 'x' } }) },
      { what: 'state key', run: (n) => dapr.unary('GetState', { store_name: 'statestore', key: n }) },
      { what: 'state store', run: (n) => dapr.unary('GetState', { store_name: n, key: 'k' }) },
      { what: 'configuration key', run: (n) => dapr.unary('GetConfiguration', { store_name: 'configstore', keys: [n] }) },
      { what: 'configuration store', run: (n) => dapr.unary('GetConfiguration', { store_name: n, keys: ['feature'] }) },
      { what: 'lock store', run: (n) => dapr.unary('TryLockAlpha1', { store_name: n, resource_id: 'r', lock_owner: 'o', expiry_in_seconds: 5 }) },
      { what: 'pub/sub', run: (n) => dapr.unary('PublishEvent', { pubsub_name: n, topic: 't', data: Buffer.from('{}'), data_content_type: 'application/json' }) },
      { what: 'binding', run: (n) => dapr.unary('InvokeBinding', { name: n, operation: 'get' }) },
    ]
    for (const c of cases) {
      const expected = await grpcShape(c.run(PLAIN))
      for (const n of NAMES) {
        assert.equal(await grpcShape(c.run(n)), expected, `${c.what} ${JSON.stringify(n)}`)
        alive()
      }
    }
    for (const n of NAMES) {
      await dapr.unary('SaveState', { store_name: 'statestore', states: [{ key: `g-${n}`, value: Buffer.from(n) }] })
      const got = await dapr.unary('GetState', { store_name: 'statestore', key: `g-${n}` })
      assert.equal(Buffer.from(got['data'] as Uint8Array).toString(), n)
      const lock = await dapr.unary('TryLockAlpha1', { store_name: 'lockstore', resource_id: n, lock_owner: 'o', expiry_in_seconds: 5 })
      assert.equal(lock['success'], true, `lock ${n}`)
    }
    const secret = await dapr.unary('GetSecret', { store_name: 'envstore', key: 'PROTO_NAMES_SECRET' })
    assert.deepEqual({ ...secret['data'] }, { PROTO_NAMES_SECRET: 'shh' })
  })

  it('Layotto gRPC: GetSecret, state, sequencer, configuration, lock, files, publish', async () => {
    const cases: Array<{ what: string; run: (n: string) => Promise<unknown> }> = [
      { what: 'env secret key', run: (n) => layotto.unary('GetSecret', { store_name: 'envstore', key: n }) },
      { what: 'file secret key', run: (n) => layotto.unary('GetSecret', { store_name: 'filestore', key: n }) },
      { what: 'secret store', run: (n) => layotto.unary('GetSecret', { store_name: n, key: 'k' }) },
      { what: 'state key', run: (n) => layotto.unary('GetState', { store_name: 'statestore', key: n }) },
      { what: 'state store', run: (n) => layotto.unary('GetState', { store_name: n, key: 'k' }) },
      { what: 'sequencer', run: (n) => layotto.unary('GetNextId', { store_name: n, key: 'k' }) },
      { what: 'configuration store', run: (n) => layotto.unary('GetConfiguration', { store_name: n, app_id: 'proto-app', keys: ['feature'] }) },
      { what: 'lock store', run: (n) => layotto.unary('TryLock', { store_name: n, resource_id: 'r', lock_owner: 'o', expire: 5 }) },
      { what: 'file store', run: (n) => layotto.unary('GetFileMeta', { request: { store_name: n, name: 'hello.txt' } }) },
      { what: 'file name', run: (n) => layotto.unary('GetFileMeta', { request: { store_name: 'files', name: n } }) },
      { what: 'pub/sub', run: (n) => layotto.unary('PublishEvent', { pubsub_name: n, topic: 't', data: Buffer.from('{}'), data_content_type: 'application/json' }) },
    ]
    for (const c of cases) {
      const expected = await grpcShape(c.run(PLAIN))
      for (const n of NAMES) {
        assert.equal(await grpcShape(c.run(n)), expected, `${c.what} ${JSON.stringify(n)}`)
        alive()
      }
    }
    for (const n of NAMES) {
      const id = await layotto.unary('GetNextId', { store_name: 'sequencer', key: n })
      assert.equal(String(id['next_id']), '1', `sequencer ${n}`)
    }
    const secret = await layotto.unary('GetSecret', { store_name: 'envstore', key: 'PROTO_NAMES_SECRET' })
    assert.deepEqual({ ...secret['data'] }, { PROTO_NAMES_SECRET: 'shh' })
    const meta = await layotto.unary('GetFileMeta', { request: { store_name: 'files', name: 'hello.txt' } })
    assert.equal(String(meta['size']), '2')
  })
})
