// Worker side of outlier detection: hosts report tcpConnect outcomes into the snapshot's shared
// monitor memory, bound to their slot; a cluster without outlier detection reports nowhere.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import pino from 'pino'
import type { ClusterSnapshot } from '../../../source/envoy/upstream/cluster-snapshot.js'
import type { TcpPoolCallbacks } from '../../../source/envoy/upstream/cluster-manager.js'
import { MessageValidator } from '../../../source/common/protobuf/message-validator.js'
import { loadSchema } from '../../../source/common/protobuf/schema.js'
import type { Bootstrap } from '../../../source/common/protobuf/generated/envoy/config/bootstrap/v3.js'
import { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import { ClusterManagerImpl } from '../../../source/common/upstream/cluster-manager-impl.js'
import { Field, HostMonitorMemory, NULL_HOST_MONITOR } from '../../../source/common/upstream/host-monitor-memory.js'
import { ThreadLocalClusterManagerImpl } from '../../../source/common/upstream/thread-local-cluster-manager-impl.js'

const validator = new MessageValidator(loadSchema())
const silent = pino({ level: 'silent' })
const servers: net.Server[] = []
after(() => { for (const s of servers) s.close() })

async function snapshots(clusters: unknown[]): Promise<ClusterSnapshot[]> {
  const r = validator.validate<Bootstrap>('envoy.config.bootstrap.v3.Bootstrap', { static_resources: { clusters } })
  assert.deepEqual(r.errors, [])
  const cm = new ClusterManagerImpl(r.value, { scope: new ThreadLocalStoreImpl(StatMemory.create(1024, 4), 0), hostStatMemory: StatMemory.create(256, 4), log: silent, publish: () => {} })
  await cm.initialize()
  cm.shutdown()
  return cm.snapshots()
}

function worker(s: ClusterSnapshot[]): ThreadLocalClusterManagerImpl {
  const w = new ThreadLocalClusterManagerImpl({ scope: new ThreadLocalStoreImpl(StatMemory.create(1024, 4), 2), hostStatMemory: StatMemory.create(256, 4), shard: 2, log: silent })
  w.update(s)
  return w
}

function connectOnce(w: ThreadLocalClusterManagerImpl, name: string): Promise<void> {
  return new Promise((resolve) => {
    const cb: TcpPoolCallbacks = { onPoolReady: (c) => { c.close('NoFlush'); resolve() }, onPoolFailure: () => resolve() }
    w.getThreadLocalCluster(name)!.tcpConnect(undefined, cb)
  })
}

async function ports(): Promise<{ up: number; down: number }> {
  const s = net.createServer((c) => c.on('error', () => {}))
  servers.push(s)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const d = net.createServer()
  await new Promise<void>((r) => d.listen(0, '127.0.0.1', r))
  const down = (d.address() as net.AddressInfo).port
  await new Promise((r) => d.close(r))
  return { up: (s.address() as net.AddressInfo).port, down }
}

const cluster = (name: string, port: number, extra: Record<string, unknown> = {}): unknown => ({
  name, connect_timeout: '1s', load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] }, ...extra,
})

describe('ThreadLocalClusterManagerImpl: outlier reports', () => {
  it('counts a refused tcpConnect as a 503 and a connect as a success (no split)', async () => {
    const { up, down } = await ports()
    const s = await snapshots([cluster('bad', down, { outlier_detection: {} }), cluster('good', up, { outlier_detection: {} })])
    const w = worker(s)
    await connectOnce(w, 'bad')
    await connectOnce(w, 'bad')
    const bad = new HostMonitorMemory(s[0]!.hostMonitors!)
    assert.equal(bad.load(0, Field.CONSECUTIVE_5XX), 2)
    assert.equal(bad.load(0, Field.CONSECUTIVE_GATEWAY_FAILURE), 2)
    assert.equal(bad.load(0, Field.EXT_TOTAL), 2)
    await connectOnce(w, 'good')
    const good = new HostMonitorMemory(s[1]!.hostMonitors!)
    assert.equal(good.load(0, Field.EXT_SUCCESS), 1)
  })

  it('with split_external_local_origin_errors, counts connect outcomes as local-origin', async () => {
    const { down } = await ports()
    const s = await snapshots([cluster('bad', down, { outlier_detection: { split_external_local_origin_errors: true } })])
    await connectOnce(worker(s), 'bad')
    const m = new HostMonitorMemory(s[0]!.hostMonitors!)
    assert.equal(m.load(0, Field.CONSECUTIVE_LOCAL_ORIGIN_FAILURE), 1)
    assert.equal(m.load(0, Field.CONSECUTIVE_5XX), 0)
  })

  it('gives hosts of a cluster without outlier detection or health checks the null monitor', async () => {
    const { up } = await ports()
    const s = await snapshots([cluster('plain', up)])
    assert.equal(s[0]!.hostMonitors, undefined)
    const host = worker(s).getThreadLocalCluster('plain')!.prioritySet.hostSetsPerPriority[0]!.hosts[0]!
    assert.equal(host.outlierDetector, NULL_HOST_MONITOR)
  })
})
