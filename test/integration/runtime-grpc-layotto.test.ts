import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { type EnvoyProcess, startEnvoy, tempDir } from './helpers/envoy-process.js'
import {
  grpcFails, loadApiProtos, nextMessage, type Obj, type RuntimeClient, runtimeClient,
} from './helpers/runtime-grpc.js'
import { listenerPort } from './helpers/tcp.js'

const LAYOTTO = 'spec.proto.runtime.v1.Runtime'

function bootstrap(files: string, secrets: string): string {
  const runtime = (name: string, extra: string): string => `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy_ts.filters.network.runtime_api
        typed_config:
          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi
          stat_prefix: ${name}
          apis: [LAYOTTO]
          app: { app_id: layotto-app }${extra}
          state: { statestore: { type: in-memory } }
          pub_subs: { pubsub: { type: in-memory } }
          lock: { lockstore: { type: in-memory } }
          sequencer: { sequencer: { type: in-memory, metadata: { biggerThan: { big: 1000 } } } }
          config_store:
            configstore: { type: in-memory, metadata: { items: { greeting: hello, color: { value: blue, group: ui } } } }
          secret_store:
            envsecrets: { type: local.env, metadata: { prefix: LAYOTTO_TEST_ } }
            filesecrets: { type: local.file, metadata: { secretsFile: ${JSON.stringify(secrets)} } }
          file:
            files: { type: local, metadata: { root: ${JSON.stringify(files)} } }
`
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${runtime('layotto', '')}${runtime('layotto_token', '\n          api_token: s3cret')}`
}

describe('Layotto gRPC API (spec.proto.runtime.v1.Runtime)', () => {
  let envoy: EnvoyProcess
  let a: RuntimeClient
  let b: RuntimeClient
  let tokenPort: number
  let filesRoot: string
  const root = loadApiProtos(['spec/proto/runtime/v1/runtime.proto'])

  before(async () => {
    const dir = tempDir('envoy-ts-layotto-')
    filesRoot = path.join(dir, 'files')
    fs.mkdirSync(filesRoot)
    const secrets = path.join(dir, 'secrets.json')
    fs.writeFileSync(secrets, JSON.stringify({ db: { password: 'pw' } }))
    envoy = await startEnvoy({
      config: bootstrap(filesRoot, secrets),
      args: ['--concurrency', '2'],
      env: { LAYOTTO_TEST_TOKEN: 'tok' },
    })
    const port = await listenerPort(envoy, 'layotto')
    tokenPort = await listenerPort(envoy, 'layotto_token')
    a = runtimeClient(root, LAYOTTO, port)
    b = runtimeClient(root, LAYOTTO, port)
  })

  after(async () => {
    a?.close()
    b?.close()
    await envoy?.stop()
  })

  it('SayHello', async () => {
    assert.equal((await a.unary('SayHello', {})).hello, 'greeting')
    const res = await a.unary('SayHello', { service_name: 'helloworld', name: 'layotto', data: { type_url: 'x', value: Buffer.from('pad') } })
    assert.equal(res.hello, 'hello, layotto')
    assert.equal(Buffer.from(res.data.value).toString(), 'pad')
  })

  it('state: save, get with etag, bulk, delete, transaction, errors', async () => {
    await a.unary('SaveState', { store_name: 'statestore', states: [{ key: 'k1', value: Buffer.from('v1') }, { key: 'k2', value: Buffer.from('v2') }] })
    const got = await b.unary('GetState', { store_name: 'statestore', key: 'k1' })
    assert.equal(Buffer.from(got.data).toString(), 'v1')
    assert.match(got.etag, /^\d+$/)
    await grpcFails(a.unary('SaveState', { store_name: 'statestore', states: [{ key: 'k1', value: Buffer.from('x'), etag: { value: '999999' } }] }),
      grpc.status.FAILED_PRECONDITION, /failed saving state in state store statestore: possible etag mismatch/)
    await a.unary('SaveState', { store_name: 'statestore', states: [{ key: 'k1', value: Buffer.from('v1b'), etag: { value: got.etag } }] })
    await grpcFails(a.unary('DeleteState', { store_name: 'statestore', key: 'k1', etag: { value: got.etag } }), grpc.status.FAILED_PRECONDITION, /etag/)
    const bulk = await b.unary('GetBulkState', { store_name: 'statestore', keys: ['k1', 'k2', 'nope'] })
    assert.deepEqual(bulk.items.map((i: Obj) => [i.key, Buffer.from(i.data).toString()]), [['k1', 'v1b'], ['k2', 'v2'], ['nope', '']])
    await a.unary('ExecuteStateTransaction', {
      storeName: 'statestore',
      operations: [
        { operationType: 'upsert', request: { key: 't1', value: Buffer.from('tv') } },
        { operationType: 'delete', request: { key: 'k2' } },
      ],
    })
    assert.equal(Buffer.from((await b.unary('GetState', { store_name: 'statestore', key: 't1' })).data).toString(), 'tv')
    assert.equal((await b.unary('GetState', { store_name: 'statestore', key: 'k2' })).data.length, 0)
    await grpcFails(a.unary('ExecuteStateTransaction', { storeName: 'statestore', operations: [{ operationType: 'merge', request: { key: 'x' } }] }),
      grpc.status.INVALID_ARGUMENT, /operation type merge not supported/)
    await a.unary('DeleteBulkState', { store_name: 'statestore', states: [{ key: 'k1' }, { key: 't1' }] })
    assert.equal((await b.unary('GetState', { store_name: 'statestore', key: 't1' })).data.length, 0)
    await grpcFails(a.unary('GetState', { store_name: 'nostore', key: 'k' }), grpc.status.INVALID_ARGUMENT, /state store nostore is not found/)
    await grpcFails(a.unary('GetState', { store_name: 'statestore', key: '' }), grpc.status.INVALID_ARGUMENT, /key is empty/)
  })

  it('lock: TryLock, Unlock, LockKeepAlive', async () => {
    assert.equal((await a.unary('TryLock', { store_name: 'lockstore', resource_id: 'order-1', lock_owner: 'alice', expire: 10 })).success, true)
    assert.equal((await b.unary('TryLock', { store_name: 'lockstore', resource_id: 'order-1', lock_owner: 'bob', expire: 10 })).success, false)
    assert.equal((await b.unary('Unlock', { store_name: 'lockstore', resource_id: 'order-1', lock_owner: 'bob' })).status, 'LOCK_BELONG_TO_OTHERS')
    assert.equal((await a.unary('LockKeepAlive', { store_name: 'lockstore', resource_id: 'order-1', lock_owner: 'alice', expire: 10 })).status, 'SUCCESS')
    assert.equal((await a.unary('Unlock', { store_name: 'lockstore', resource_id: 'order-1', lock_owner: 'alice' })).status, 'SUCCESS')
    assert.equal((await a.unary('Unlock', { store_name: 'lockstore', resource_id: 'order-1', lock_owner: 'alice' })).status, 'LOCK_UNEXIST')
    await grpcFails(a.unary('TryLock', { store_name: 'lockstore', resource_id: 'r', lock_owner: 'o', expire: 0 }), grpc.status.INVALID_ARGUMENT, /not positive in lock store lockstore/)
    await grpcFails(a.unary('TryLock', { store_name: 'nolock', resource_id: 'r', lock_owner: 'o', expire: 1 }), grpc.status.INVALID_ARGUMENT, /lock store nolock not found/)
  })

  it('GetNextId: increasing ids, biggerThan, 64-bit as strings', async () => {
    const ids: bigint[] = []
    for (let i = 0; i < 5; i++) ids.push(BigInt((await (i % 2 === 0 ? a : b).unary('GetNextId', { store_name: 'sequencer', key: 'orders', options: { increment: 'STRONG' } })).next_id))
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!)
    assert.equal((await a.unary('GetNextId', { store_name: 'sequencer', key: 'big' })).next_id, '1001')
    await grpcFails(a.unary('GetNextId', { store_name: 'sequencer', key: '' }), grpc.status.INVALID_ARGUMENT, /key is empty/)
  })

  it('configuration: get, save, delete, and a subscription stream sees the changes', async () => {
    const got = await a.unary('GetConfiguration', { store_name: 'configstore', keys: ['greeting', 'color'] })
    assert.deepEqual(got.items.map((i: Obj) => [i.key, i.content]), [['greeting', 'hello']])
    const ui = await a.unary('GetConfiguration', { store_name: 'configstore', group: 'ui', keys: [] })
    assert.deepEqual(ui.items.map((i: Obj) => [i.key, i.content, i.group]), [['color', 'blue', 'ui']])

    const sub = a.stream('SubscribeConfiguration')
    sub.write({ store_name: 'configstore', keys: ['greeting'] })
    // The watch starts asynchronously on main: save until the first change arrives.
    const first = nextMessage(sub, 5000)
    for (let i = 0; i < 50; i++) {
      await b.unary('SaveConfiguration', { store_name: 'configstore', items: [{ key: 'greeting', content: `hi-${i}`, tags: { by: 'test' } }] })
      const r = await Promise.race([first.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))])
      if (r) break
    }
    const update = await first
    assert.equal(update.store_name, 'configstore')
    assert.match(update.items[0].content, /^hi-\d+$/)
    assert.deepEqual(update.items[0].tags, { by: 'test' })
    const deleted = nextMessage(sub)
    await b.unary('DeleteConfiguration', { store_name: 'configstore', keys: ['greeting'] })
    const d = await deleted
    assert.deepEqual(d.items.map((i: Obj) => [i.key, i.content]), [['greeting', '']])
    sub.end()
    await new Promise<void>((resolve) => sub.on('end', () => resolve()).on('error', () => resolve()).resume())
    await grpcFails(a.unary('GetConfiguration', { store_name: 'nocfg', keys: [] }), grpc.status.INVALID_ARGUMENT, /configuration store nocfg not found/)
  })

  it('secrets: local.env with prefix and local.file', async () => {
    assert.deepEqual((await a.unary('GetSecret', { store_name: 'envsecrets', key: 'TOKEN' })).data, { TOKEN: 'tok' })
    assert.deepEqual((await a.unary('GetBulkSecret', { store_name: 'filesecrets' })).data, { 'db:password': { secrets: { 'db:password': 'pw' } } })
    await grpcFails(a.unary('GetSecret', { store_name: 'envsecrets', key: 'NOPE' }), grpc.status.INTERNAL, /failed getting secret with key NOPE from secret store envsecrets: secret NOPE not found/)
    await grpcFails(a.unary('GetSecret', { store_name: 'vault', key: 'x' }), grpc.status.INVALID_ARGUMENT, /failed finding secret store with key vault/)
  })

  it('files: PutFile stream, GetFile stream, ListFile, GetFileMeta, DelFile, confinement', async () => {
    const data = Buffer.alloc(200 * 1024)
    for (let i = 0; i < data.length; i++) data[i] = i % 251
    const chunks: Obj[] = []
    for (let off = 0; off < data.length; off += 30000) chunks.push({ store_name: 'files', name: 'dir/blob.bin', data: data.subarray(off, off + 30000) })
    await a.clientStream('PutFile', chunks)
    assert.ok(fs.readFileSync(path.join(filesRoot, 'dir/blob.bin')).equals(data))
    const got: Buffer[] = []
    const s = b.stream('GetFile', { store_name: 'files', name: 'dir/blob.bin' })
    await new Promise<void>((resolve, reject) => s.on('data', (m: Obj) => got.push(Buffer.from(m.data))).on('end', resolve).on('error', reject))
    assert.ok(got.length > 1, 'served in chunks')
    assert.ok(Buffer.concat(got).equals(data))
    await a.clientStream('PutFile', [{ store_name: 'files', name: 'dir/small.txt', data: Buffer.from('s') }])
    const list = await b.unary('ListFile', { request: { store_name: 'files', name: 'dir/' }, page_size: 1 })
    assert.deepEqual(list.files.map((f: Obj) => f.file_name), ['dir/blob.bin'])
    assert.equal(list.is_truncated, true)
    const list2 = await b.unary('ListFile', { request: { store_name: 'files', name: 'dir/' }, page_size: 1, marker: list.marker })
    assert.deepEqual(list2.files.map((f: Obj) => [f.file_name, f.size]), [['dir/small.txt', '1']])
    const meta = await a.unary('GetFileMeta', { request: { store_name: 'files', name: 'dir/blob.bin' } })
    assert.equal(meta.size, String(data.length))
    await a.unary('DelFile', { request: { store_name: 'files', name: 'dir/blob.bin' } })
    await grpcFails(a.unary('GetFileMeta', { request: { store_name: 'files', name: 'dir/blob.bin' } }), grpc.status.NOT_FOUND, /not found/)
    await grpcFails(a.clientStream('PutFile', [{ store_name: 'files', name: '../escape', data: Buffer.from('x') }]), grpc.status.INVALID_ARGUMENT, /leaves the root/)
    const bad = b.stream('GetFile', { store_name: 'files', name: '/etc/passwd' })
    await assert.rejects(new Promise((resolve, reject) => bad.on('data', resolve).on('error', reject).on('end', resolve)), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT)
  })

  it('PublishEvent and SubscribeTopicEvents: events, acks, redelivery on RETRY', async () => {
    const sub = a.stream('SubscribeTopicEvents')
    sub.write({ initial_request: { pubsub_name: 'pubsub', topic: 'orders' } })
    const initial = await nextMessage(sub)
    assert.ok(initial.initial_response !== undefined && initial.initial_response !== null, JSON.stringify(initial))
    const event = nextMessage(sub)
    await b.unary('PublishEvent', { pubsub_name: 'pubsub', topic: 'orders', data: Buffer.from('{"id":7}'), data_content_type: 'application/json' })
    const e1 = (await event).event_message
    assert.equal(e1.topic, 'orders')
    assert.equal(e1.pubsub_name, 'pubsub')
    assert.equal(e1.data_content_type, 'application/json')
    assert.deepEqual(JSON.parse(Buffer.from(e1.data).toString()), { id: 7 })
    assert.equal(e1.source, 'layotto-app')
    // RETRY: the same event comes again.
    const again = nextMessage(sub)
    sub.write({ event_processed: { id: e1.id, status: { status: 'RETRY' } } })
    const e2 = (await again).event_message
    assert.equal(e2.id, e1.id)
    sub.write({ event_processed: { id: e2.id, status: { status: 'SUCCESS' } } })
    sub.end()
    await new Promise<void>((resolve) => sub.on('end', () => resolve()).on('error', () => resolve()).resume())
    await grpcFails(b.unary('PublishEvent', { pubsub_name: 'nopubsub', topic: 't', data: Buffer.from('x') }), grpc.status.INVALID_ARGUMENT, /pubsub nopubsub not found/)
    await grpcFails(b.unary('PublishEvent', { pubsub_name: 'pubsub', topic: '', data: Buffer.from('x') }), grpc.status.INVALID_ARGUMENT, /topic is empty in pubsub pubsub/)
    const bad = a.stream('SubscribeTopicEvents')
    bad.write({ event_processed: { id: 'x' } })
    await assert.rejects(nextMessage(bad), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT)
  })

  it('InvokeService without an rpcs channel, InvokeBinding without bindings', async () => {
    await grpcFails(a.unary('InvokeService', { id: 'other', message: { method: 'hello', data: { value: Buffer.from('x') } } }),
      grpc.status.FAILED_PRECONDITION, /no rpcs channel/)
    await grpcFails(a.unary('InvokeBinding', { name: 'nobinding', operation: 'create' }), grpc.status.FAILED_PRECONDITION, /no output binding is configured/)
  })

  it('api_token: calls without the token are UNAUTHENTICATED', async () => {
    const c = runtimeClient(root, LAYOTTO, tokenPort)
    try {
      await grpcFails(c.unary('SayHello', {}), grpc.status.UNAUTHENTICATED, /missing dapr-api-token/)
      const wrong = new grpc.Metadata()
      wrong.set('dapr-api-token', 'nope')
      await grpcFails(c.unary('SayHello', {}, wrong), grpc.status.UNAUTHENTICATED, /api token mismatch/)
      const md = new grpc.Metadata()
      md.set('dapr-api-token', 's3cret')
      assert.equal((await c.unary('SayHello', {}, md)).hello, 'greeting')
      const s = c.stream('SubscribeTopicEvents')
      s.write({ initial_request: { pubsub_name: 'pubsub', topic: 't' } })
      await assert.rejects(nextMessage(s), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED)
    } finally {
      c.close()
    }
  })
})
