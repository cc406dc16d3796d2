import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CommunicationProtocolEnum, DaprClient, LogLevel, StateConcurrencyEnum } from '@dapr/dapr'
import { type EnvoyProcess, startEnvoy, tempDir } from './helpers/envoy-process.js'
import { loadApiProtos, nextMessage, type Obj, type RuntimeClient, runtimeClient } from './helpers/runtime-grpc.js'
import { listenerPort, statsMap } from './helpers/tcp.js'

const COMPONENTS = `
          app: { app_id: dapr-app, app_port: 0 }
          state: { statestore: { type: in-memory } }
          pub_subs: { pubsub: { type: in-memory } }
          lock: { lockstore: { type: in-memory } }
          sequencer: { sequencer: { type: in-memory } }
          config_store: { configstore: { type: in-memory, metadata: { items: { feature: "on" } } } }
          secret_store:
            envstore: { type: local.env }
            filestore: { type: local.file, metadata: { secretsFile: SECRETS, multiValued: true } }`

function bootstrap(secrets: string): string {
  const listener = (name: string, api: string): string => `
  - name: ${name}
    stat_prefix: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy_ts.filters.network.runtime_api
        typed_config:
          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi
          stat_prefix: ${name}
          apis: [${api}]${COMPONENTS.replace('SECRETS', JSON.stringify(secrets))}`
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${listener('dapr', 'DAPR')}${listener('layotto', 'LAYOTTO')}`
}

function daprClient(port: number): DaprClient {
  return new DaprClient({
    daprHost: '127.0.0.1',
    daprPort: String(port),
    communicationProtocol: CommunicationProtocolEnum.GRPC,
    logger: { level: LogLevel.Error },
  })
}

async function failsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.match(err.message, re)
    return true
  })
}

describe('Dapr gRPC API with the official @dapr/dapr client, --concurrency 4', () => {
  let envoy: EnvoyProcess
  let port: number
  let layotto: RuntimeClient
  let daprRaw: RuntimeClient
  const clients: DaprClient[] = []
  const root = loadApiProtos(['spec/proto/runtime/v1/runtime.proto'])

  before(async () => {
    const dir = tempDir('envoy-ts-dapr-')
    const secrets = path.join(dir, 'secrets.json')
    fs.writeFileSync(secrets, JSON.stringify({ db: { user: 'admin', password: 'pw' }, token: 't0k' }))
    envoy = await startEnvoy({ config: bootstrap(secrets), args: ['--concurrency', '4', '--drain-time-s', '2'], env: { DAPR_TEST_SECRET: 'from-env' } })
    port = await listenerPort(envoy, 'dapr')
    layotto = runtimeClient(root, 'spec.proto.runtime.v1.Runtime', await listenerPort(envoy, 'layotto'))
    daprRaw = runtimeClient(loadApiProtos(['dapr/proto/runtime/v1/dapr.proto']), 'dapr.proto.runtime.v1.Dapr', port)
    for (let i = 0; i < 8; i++) clients.push(daprClient(port))
    // start() polls GetMetadata until the sidecar answers.
    await Promise.all(clients.map((c) => c.start()))
  })

  after(async () => {
    layotto?.close()
    daprRaw?.close()
    await Promise.all(clients.map((c) => c.stop().catch(() => {})))
    await envoy?.stop()
  })

  it('state round trips with etags', async () => {
    const c = clients[0]!
    await c.state.save('statestore', [{ key: 'order', value: { id: 1 } }])
    assert.deepEqual(await c.state.get('statestore', 'order'), { id: 1 })
    const [item] = await c.state.getBulk('statestore', ['order'])
    const etag = (item as { etag: string }).etag
    assert.match(etag, /^\d+$/)
    await failsWith(c.state.save('statestore', [{ key: 'order', value: { id: 2 }, etag: '424242' }]), /failed saving state in state store statestore: possible etag mismatch/)
    await c.state.save('statestore', [{ key: 'order', value: { id: 2 }, etag }])
    assert.deepEqual(await c.state.get('statestore', 'order'), { id: 2 })
    // first-write without an etag on an existing key fails.
    await failsWith(c.state.save('statestore', [{ key: 'order', value: { id: 3 }, options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } as never }]), /already exists/)
    // The SDK sends `etag` as the Etag's value (its typings say IEtag).
    await failsWith(c.state.delete('statestore', 'order', { etag: '424242' } as never), /failed deleting state with key order/)
    await c.state.delete('statestore', 'order')
    assert.equal(await c.state.get('statestore', 'order'), '')
    await failsWith(c.state.get('nostore', 'x'), /state store nostore is not found/)
  })

  it('state transactions', async () => {
    const c = clients[1]!
    await c.state.save('statestore', [{ key: 'gone', value: 'x' }])
    await c.state.transaction('statestore', [
      { operation: 'upsert', request: { key: 'tx1', value: 'one' } },
      { operation: 'upsert', request: { key: 'tx2', value: 'two' } },
      { operation: 'delete', request: { key: 'gone' } },
    ])
    assert.equal(await clients[2]!.state.get('statestore', 'tx1'), 'one')
    assert.equal(await clients[2]!.state.get('statestore', 'gone'), '')
    await failsWith(c.state.transaction('statestore', [
      { operation: 'upsert', request: { key: 'tx3', value: 'three' } },
      { operation: 'upsert', request: { key: 'tx1', value: 'x', etag: '999999' as never } },
    ]), /error while executing state transaction/)
    assert.equal(await clients[2]!.state.get('statestore', 'tx3'), '', 'nothing of a failed transaction is applied')
  })

  it('lock contention between two clients', async () => {
    const [alice, bob] = [clients[3]!, clients[4]!]
    assert.deepEqual(await alice.lock.lock('lockstore', 'res-1', 'alice', 30), { success: true })
    assert.deepEqual(await bob.lock.lock('lockstore', 'res-1', 'bob', 30), { success: false })
    assert.deepEqual(await bob.lock.unlock('lockstore', 'res-1', 'bob'), { status: 2 }) // LockBelongsToOthers
    assert.deepEqual(await alice.lock.unlock('lockstore', 'res-1', 'alice'), { status: 0 }) // Success
    assert.deepEqual(await bob.lock.lock('lockstore', 'res-1', 'bob', 30), { success: true })
    assert.deepEqual(await alice.lock.unlock('lockstore', 'res-2', 'alice'), { status: 1 }) // LockDoesNotExist
    await failsWith(alice.lock.lock('nolocks', 'r', 'o', 1), /lock store nolocks not found/)
  })

  it('configuration get and a subscription update made through Layotto SaveConfiguration', async () => {
    const c = clients[5]!
    const got = await c.configuration.get('configstore', ['feature'])
    assert.equal(got.items['feature']?.value, 'on')
    const updates: Array<Record<string, { value: string }>> = []
    const sub = await c.configuration.subscribeWithKeys('configstore', ['feature'], async (res) => { updates.push(res.items) })
    try {
      // The SDK subscribes in the background: save until an update arrives.
      const deadline = Date.now() + 10_000
      for (let i = 0; updates.length === 0; i++) {
        assert.ok(Date.now() < deadline, 'no configuration update arrived')
        await layotto.unary('SaveConfiguration', { store_name: 'configstore', items: [{ key: 'feature', content: `off-${i}` }] })
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.match(updates[0]!['feature']!.value, /^off-\d+$/)
    } finally {
      await sub.stop()
    }
  })

  it('secrets from local.file (multiValued) and local.env', async () => {
    const c = clients[6]!
    // The SDK's get() returns the first value of a secret only; getBulk has them all.
    assert.deepEqual(await c.secret.get('filestore', 'token'), { token: 't0k' })
    assert.deepEqual(await c.secret.get('envstore', 'DAPR_TEST_SECRET'), { DAPR_TEST_SECRET: 'from-env' })
    const bulk = await c.secret.getBulk('filestore') as Record<string, Record<string, string>>
    assert.deepEqual(bulk['db'], { user: 'admin', password: 'pw' })
    await failsWith(c.secret.get('envstore', 'NOT_SET_ANYWHERE_X'), /failed getting secret with key NOT_SET_ANYWHERE_X from secret store envstore/)
  })

  it('metadata: app id, components with capabilities, extended metadata', async () => {
    const c = clients[7]!
    await c.metadata.set('owner', 'team-a')
    const m = await clients[0]!.metadata.get()
    assert.equal(m.id, 'dapr-app')
    const state = m.components.find((x) => x.name === 'statestore')
    assert.equal(state?.type, 'state.in-memory')
    assert.deepEqual(state?.capabilities, ['ETAG', 'TRANSACTIONAL', 'TTL'])
    assert.equal(m.extended['owner'], 'team-a')
    assert.equal(m.extended['app-port'], '0')
  })

  it('an rpc envoy-ts does not implement answers UNIMPLEMENTED naming it', async () => {
    await failsWith(clients[0]!.state.query('statestore', { filter: {}, sort: [], page: { limit: 1 } } as never), /QueryStateAlpha1 is not implemented by envoy-ts/)
  })

  it('publish, bulk publish, and a SubscribeTopicEventsAlpha1 stream with CloudEvents', async () => {
    const stream = daprRaw.stream('SubscribeTopicEventsAlpha1')
    stream.write({ initial_request: { pubsub_name: 'pubsub', topic: 'orders' } })
    assert.ok((await nextMessage(stream)).initial_response !== undefined)
    const first = nextMessage(stream)
    await clients[0]!.pubsub.publish('pubsub', 'orders', { order: 1 })
    const ev = (await first).event_message
    assert.equal(ev.topic, 'orders')
    assert.equal(ev.pubsub_name, 'pubsub')
    assert.equal(ev.type, 'com.dapr.event.sent')
    assert.equal(ev.source, 'dapr-app')
    assert.equal(ev.spec_version, '1.0')
    assert.deepEqual(JSON.parse(Buffer.from(ev.data).toString()), { order: 1 })
    assert.equal(ev.extensions.fields.topic.stringValue, 'orders')
    stream.write({ event_processed: { id: ev.id, status: { status: 'SUCCESS' } } })
    const got: Obj[] = []
    const two = new Promise<void>((resolve) => stream.on('data', (m: Obj) => {
      got.push(m.event_message)
      stream.write({ event_processed: { id: m.event_message.id, status: { status: 'SUCCESS' } } })
      if (got.length === 2) resolve()
    }))
    const res = await clients[1]!.pubsub.publishBulk('pubsub', 'orders', ['a', 'b'])
    assert.deepEqual(res.failedMessages, [])
    await two
    assert.deepEqual(got.map((e) => Buffer.from(e.data).toString()).sort(), ['a', 'b'])
    stream.end()
    // The SDK throws `{ error }` for a failed publish.
    await failsWith(clients[0]!.pubsub.publish('nopubsub', 'orders', { x: 1 }).catch((e: { error: Error }) => { throw e.error }), /pubsub nopubsub not found/)
  })

  it('many connections over 4 workers: every read sees the latest write', async () => {
    for (let i = 0; i < 40; i++) {
      const writer = clients[i % clients.length]!
      await writer.state.save('statestore', [{ key: 'shared', value: `v-${i}` }])
      const reads = await Promise.all(clients.filter((c) => c !== writer).map((c) => c.state.get('statestore', 'shared')))
      for (const r of reads) assert.equal(r, `v-${i}`)
    }
    const perWorker = [...(await statsMap(envoy, '^listener\\.dapr\\.worker_\\d+\\.downstream_cx_total$')).entries()].filter(([, v]) => v > 0)
    assert.ok(perWorker.length > 1, `connections reached more than one worker: ${JSON.stringify(perWorker)}`)
  })

  it('sequencer ids strictly increase across workers and connections', async () => {
    const port2 = await listenerPort(envoy, 'layotto')
    const many = Array.from({ length: 8 }, () => runtimeClient(root, 'spec.proto.runtime.v1.Runtime', port2))
    try {
      const next = async (c: RuntimeClient): Promise<bigint> => BigInt((await c.unary('GetNextId', { store_name: 'sequencer', key: 'orders' })).next_id)
      // In parallel: every connection sees its own ids increase, and all ids are distinct.
      const perConn = await Promise.all(many.map(async (c) => {
        const ids: bigint[] = []
        for (let i = 0; i < 25; i++) ids.push(await next(c))
        return ids
      }))
      for (const ids of perConn) for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!)
      const all = perConn.flat()
      assert.equal(new Set(all).size, all.length)
      // In sequence over different connections: each id is above the previous one.
      let last = all.reduce((x, y) => (x > y ? x : y))
      for (let i = 0; i < 40; i++) {
        const id = await next(many[i % many.length]!)
        assert.ok(id > last, `${id} > ${last}`)
        last = id
      }
    } finally {
      for (const c of many) c.close()
    }
  })

  it('Shutdown stops the process gracefully', async () => {
    await clients[0]!.sidecar.shutdown()
    const { code } = await envoy.exited
    assert.equal(code, 0)
  })
})
