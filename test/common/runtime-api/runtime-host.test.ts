import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import { RegistryImpl } from '../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../source/common/errors/codes.js'
import type { RuntimeApi } from '../../../source/common/protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import { RuntimeHostImpl, type MainChannel } from '../../../source/common/runtime-api/runtime-host-impl.js'
import { RuntimeHostProxy, type WorkerChannel } from '../../../source/common/runtime-api/runtime-host-proxy.js'
import { RpcChannel } from '../../../source/common/thread/rpc-channel.js'
import type { ConfigurationItem } from '../../../source/envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../source/envoy/runtime-api/errors.js'
import { setupAllExtensions } from '../../../source/extensions/all-extensions.js'
import { silentLog } from '../../mocks/network/factory-context.js'

function config(extra: Partial<RuntimeApi> = {}): RuntimeApi {
  return {
    stat_prefix: 'rt', apis: [], state: { store: { type: 'in-memory' } }, pub_subs: {}, lock: { locks: { type: 'lock.in-memory' } },
    sequencer: { seq: { type: 'in-memory' } }, config_store: { cfg: { type: 'in-memory', metadata: { items: { a: '1' } } } },
    secret_store: {}, file: {}, bindings: {}, rpcs: {}, api_token: '', app: { app_id: 'app', app_host: '', app_port: 0, app_protocol: 'HTTP' },
    ...extra,
  }
}

function registry(): RegistryImpl {
  const r = new RegistryImpl()
  setupAllExtensions(r)
  return r
}

const ports: MessageChannel[] = []
after(() => { for (const c of ports) { c.port1.close(); c.port2.close() } })

/** Main's host and a worker proxy joined by a MessageChannel, as in the process. */
function pair(index = 0): { host: RuntimeHostImpl; proxy: RuntimeHostProxy; shutdowns: string[] } {
  const shutdowns: string[] = []
  const host = new RuntimeHostImpl({ registry: registry(), log: silentLog, shutdown: (r) => shutdowns.push(r) })
  const ch = new MessageChannel()
  ports.push(ch)
  host.serve(new RpcChannel(ch.port1) as unknown as MainChannel, index)
  const proxy = new RuntimeHostProxy(new RpcChannel(ch.port2) as unknown as WorkerChannel, registry(), silentLog, index)
  return { host, proxy, shutdowns }
}

describe('RuntimeHost (main) and its worker proxy', () => {
  it('rejects unknown types and bad metadata with the field path', () => {
    const host = new RuntimeHostImpl({ registry: registry(), log: silentLog, shutdown: () => {} })
    assert.throws(() => host.components(config({ state: { s: { type: 'nosuch' } }, sequencer: { q: { type: 'in-memory', metadata: { biggerThan: { k: 'x' } } } } }), 'cfg'), (err: { code?: string; errors: string[] }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.errors[0]!, /^cfg\.state\.s\.type: unknown state component type 'nosuch' \(registered: in-memory/)
      assert.match(err.errors[1]!, /^cfg\.sequencer\.q\.metadata\.biggerThan\.k/)
      return true
    })
  })

  it('builds a (kind, name) once; the same name with another config is an error', () => {
    const host = new RuntimeHostImpl({ registry: registry(), log: silentLog, shutdown: () => {} })
    const a = host.components(config(), 'a')
    const b = host.components(config({ stat_prefix: 'other' }), 'b')
    assert.equal(a.get('state', 'store'), b.get('state', 'store'))
    assert.deepEqual(a.list().map((c) => `${c.kind}/${c.name}/${c.type}`), ['state/store/state.in-memory', 'lock/locks/lock.in-memory', 'sequencer/seq/sequencer.in-memory', 'configuration/cfg/configuration.in-memory'])
    assert.throws(() => host.components(config({ config_store: { cfg: { type: 'in-memory', metadata: { items: { a: '2' } } } } }), 'c'), /c\.config_store\.cfg: configuration component 'cfg' is already declared with another type or metadata at a\.config_store\.cfg/)
  })

  it('worker calls reach the one instance on main; errors keep status and code', async () => {
    const { host, proxy } = pair()
    const onMain = host.components(config(), 'cfg')
    const w1 = proxy.components(config(), 'cfg')
    const mainStore = onMain.get('state', 'store')!
    const workerStore = w1.get('state', 'store')!
    assert.notEqual(workerStore, mainStore)
    const big = Buffer.alloc(64 * 1024, 1)
    await workerStore.set([{ key: 'k', value: big.subarray(10, 13) }])
    const got = await mainStore.get('k')
    assert.equal(got.value?.byteLength, 3)
    assert.equal(got.value!.buffer.byteLength, 3, 'only the bytes of the view crossed')
    const viaWorker = await workerStore.get('k')
    assert.equal(viaWorker.etag, got.etag)
    await assert.rejects(workerStore.set([{ key: 'k', value: new Uint8Array(1), etag: '12345' }]), (err: { status?: number; errorCode?: string }) => {
      assert.equal(err.status, RuntimeStatus.FAILED_PRECONDITION)
      assert.equal(err.errorCode, 'ETAG_MISMATCH')
      return true
    })
    const seq = w1.get('sequencer', 'seq')!
    assert.equal(await seq.nextId('x'), 1n)
    assert.equal(await onMain.get('sequencer', 'seq')!.nextId('x'), 2n)
    assert.equal(await w1.get('lock', 'locks')!.tryLock('r', 'o', 5), true)
    assert.equal(await onMain.get('lock', 'locks')!.tryLock('r', 'p', 5), false)
  })

  it('configuration subscriptions run on main and stream to the worker; unsubscribe by id ends them', async () => {
    const { host, proxy } = pair(3)
    const onMain = host.components(config(), 'cfg')
    const w = proxy.components(config(), 'cfg')
    const seen: ConfigurationItem[][] = []
    let ended = false
    const sub = await proxy.subscribeConfiguration('cfg', config(), ['a'], (items) => seen.push(items), () => { ended = true })
    assert.match(sub.id, /^3:/)
    await w.get('configuration', 'cfg')!.save!([{ key: 'a', value: 'changed', version: '' }])
    await onMain.get('configuration', 'cfg')!.save!([{ key: 'b', value: 'ignored', version: '' }])
    await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(seen.map((l) => l.map((i) => `${i.key}=${i.value}`)), [['a=changed']])
    // Another thread stops it by id: the owner hears `end`.
    assert.equal(await host.unsubscribe(sub.id), true)
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(ended, true)
    assert.equal(await host.unsubscribe(sub.id), false)
    await assert.rejects(proxy.subscribeConfiguration('nope', config(), [], () => {}), /configuration component nope is not found/)
  })

  it('extended metadata is shared; shutdown goes to main', async () => {
    const { host, proxy, shutdowns } = pair()
    await proxy.setMetadata('k', 'v')
    assert.deepEqual(await host.getMetadata(), { k: 'v' })
    assert.deepEqual(await proxy.getMetadata(), { k: 'v' })
    assert.deepEqual(await proxy.subscriptions('app'), [])
    proxy.shutdown()
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(shutdowns.length, 1)
  })
})
