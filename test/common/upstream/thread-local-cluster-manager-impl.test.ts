import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'
import pino from 'pino'
import type { ClientConnection } from '../../../source/envoy/network/client-connection.js'
import type { ClusterSnapshot } from '../../../source/envoy/upstream/cluster-snapshot.js'
import type { Host } from '../../../source/envoy/upstream/host.js'
import type { PoolFailureReason, TcpPoolCallbacks } from '../../../source/envoy/upstream/cluster-manager.js'
import { MessageValidator } from '../../../source/common/protobuf/message-validator.js'
import { loadSchema } from '../../../source/common/protobuf/schema.js'
import type { Bootstrap } from '../../../source/common/protobuf/generated/envoy/config/bootstrap/v3.js'
import { StatMemory } from '../../../source/common/stats/stat-memory.js'
import { ThreadLocalStoreImpl } from '../../../source/common/stats/thread-local-store.js'
import { ClusterManagerImpl } from '../../../source/common/upstream/cluster-manager-impl.js'
import { ThreadLocalClusterManagerImpl } from '../../../source/common/upstream/thread-local-cluster-manager-impl.js'

const validator = new MessageValidator(loadSchema())
const silent = pino({ level: 'silent' })

interface World {
  stats: StatMemory
  hostStats: StatMemory
  snapshots: ClusterSnapshot[]
  worker(shard: number): ThreadLocalClusterManagerImpl
  counter(name: string): number
  gauge(name: string): number
  host(name: string): number
}

/** Main builds snapshots from `clusters`; workers on shards 2, 3 … consume them. */
async function world(clusters: unknown[]): Promise<World> {
  const r = validator.validate<Bootstrap>('envoy.config.bootstrap.v3.Bootstrap', { static_resources: { clusters } })
  assert.deepEqual(r.errors, [])
  const stats = StatMemory.create(1024, 6)
  const hostStats = StatMemory.create(256, 6)
  const main = new ThreadLocalStoreImpl(stats, 0)
  const hostMain = new ThreadLocalStoreImpl(hostStats, 0)
  const cm = new ClusterManagerImpl(r.value, { scope: main, hostStatMemory: hostStats, log: silent, publish: () => {} })
  await cm.initialize()
  cm.shutdown()
  return {
    stats, hostStats, snapshots: cm.snapshots(),
    worker: (shard) => {
      const w = new ThreadLocalClusterManagerImpl({ scope: new ThreadLocalStoreImpl(stats, shard), hostStatMemory: hostStats, shard, log: silent })
      w.update(cm.snapshots())
      return w
    },
    counter: (n) => main.counter(n).value(),
    gauge: (n) => main.gauge(n).value(),
    host: (n) => hostMain.counter(n).value(),
  }
}

function staticCluster(name: string, port: number, extra: Record<string, unknown> = {}): unknown {
  const lb = port === 0 ? [] : [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }]
  return { name, connect_timeout: '2s', load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: lb }] }, ...extra }
}

type Outcome = { ready: ClientConnection; host: Host } | { failure: PoolFailureReason; details: string; host: Host | undefined }

function connect(w: ThreadLocalClusterManagerImpl, cluster: string): { outcome: Promise<Outcome>; cancel(): void; calls: () => number } {
  let calls = 0
  let cancel = (): void => {}
  const outcome = new Promise<Outcome>((resolve) => {
    const cb: TcpPoolCallbacks = {
      onPoolReady: (ready, host) => { calls++; resolve({ ready, host }) },
      onPoolFailure: (failure, details, host) => { calls++; resolve({ failure, details, host }) },
    }
    const c = w.getThreadLocalCluster(cluster)!.tcpConnect(undefined, cb)
    cancel = () => c.cancel()
  })
  return { outcome, cancel: () => cancel(), calls: () => calls }
}

function closed(conn: ClientConnection): Promise<void> {
  return new Promise((resolve) => {
    conn.addConnectionCallbacks({ onEvent: (e) => { if (e !== 'Connected') resolve() }, onAboveWriteBufferHighWatermark() {}, onBelowWriteBufferLowWatermark() {} })
  })
}

const servers: net.Server[] = []
async function upstream(): Promise<number> {
  const s = net.createServer((sock) => sock.on('error', () => {}))
  servers.push(s)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  return (s.address() as net.AddressInfo).port
}

async function refusedPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

/**
 * A loopback port whose connects hang: a listener with backlog 1 on a thread that never accepts,
 * with its accept queue filled first. The kernel drops further SYNs, so a connect stays pending
 * until the client gives up — a connect timeout that needs no unroutable address.
 */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const release = new Int32Array(new SharedArrayBuffer(4))
  const w = new Worker(`
    const net = require('node:net'); const { parentPort, workerData } = require('node:worker_threads')
    const s = net.createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      parentPort.postMessage(s.address().port)
      Atomics.wait(workerData, 0, 0)
      process.exit(0)
    })`, { eval: true, workerData: release })
  const port = await new Promise<number>((resolve) => w.once('message', resolve))
  const fillers: net.Socket[] = []
  for (let i = 0; i < 2; i++) {
    const s = net.connect(port, '127.0.0.1')
    fillers.push(s)
    await new Promise((resolve) => s.once('connect', resolve))
  }
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy()
      Atomics.store(release, 0, 1)
      Atomics.notify(release, 0)
      await w.terminate()
    },
  }
}

after(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
})

describe('ThreadLocalClusterManagerImpl', () => {
  it('connects to a host with cluster and host stats, and unwinds them on close', async () => {
    const port = await upstream()
    const w = await world([staticCluster('c', port)])
    const tl = w.worker(2)
    assert.deepEqual(tl.clusterNames(), ['c'])
    const { outcome } = connect(tl, 'c')
    const r = await outcome
    assert.ok('ready' in r)
    assert.equal(r.host.addressString, `127.0.0.1:${port}`)
    assert.equal(w.counter('cluster.c.upstream_cx_total'), 1)
    assert.equal(w.gauge('cluster.c.upstream_cx_active'), 1)
    assert.equal(w.counter('cluster.c.upstream_rq_total'), 1)
    assert.equal(w.gauge('cluster.c.upstream_rq_active'), 1)
    assert.equal(w.gauge('cluster.c.upstream_rq_pending_active'), 0)
    assert.equal(w.host(`c/127.0.0.1:${port}/cx_total`), 1, 'host stats are visible through the host stat memory')
    assert.equal(w.host(`c/127.0.0.1:${port}/rq_total`), 1)
    assert.equal(w.gauge('cluster.c.circuit_breakers.default.cx_open'), 0)
    assert.equal(tl.getThreadLocalCluster('c')!.info.resourceManager('default').connections.count(), 1)
    const done = closed(r.ready)
    r.ready.close('NoFlush')
    await done
    assert.equal(w.gauge('cluster.c.upstream_cx_active'), 0)
    assert.equal(w.gauge('cluster.c.upstream_rq_active'), 0)
    assert.equal(w.counter('cluster.c.upstream_cx_destroy'), 1)
    assert.equal(w.counter('cluster.c.upstream_cx_destroy_local'), 1)
    assert.equal(tl.getThreadLocalCluster('c')!.info.resourceManager('default').connections.count(), 0)
    assert.equal(w.counter('cluster.c.upstream_cx_connect_fail'), 0)
  })

  it('reports a refused connect as RemoteConnectionFailure', async () => {
    const port = await refusedPort()
    const w = await world([staticCluster('c', port)])
    const r = await connect(w.worker(2), 'c').outcome
    assert.ok('failure' in r)
    assert.equal(r.failure, 'RemoteConnectionFailure')
    assert.equal(r.details, 'connection refused')
    assert.equal(w.counter('cluster.c.upstream_cx_connect_fail'), 1)
    assert.equal(w.counter('cluster.c.upstream_cx_connect_timeout'), 0)
    assert.equal(w.host(`c/127.0.0.1:${port}/cx_connect_fail`), 1)
    assert.equal(w.gauge('cluster.c.upstream_cx_active'), 0)
    assert.equal(w.counter('cluster.c.upstream_rq_total'), 0, 'a failed connect never became a request')
  })

  it('times out a connect that never completes', async () => {
    const hole = await blackHole()
    try {
      const w = await world([staticCluster('c', hole.port, { connect_timeout: '0.200s' })])
      const tl = w.worker(2)
      const r = await connect(tl, 'c').outcome
      assert.ok('failure' in r)
      assert.equal(r.failure, 'Timeout')
      assert.equal(r.details, 'connect timeout')
      assert.equal(w.counter('cluster.c.upstream_cx_connect_timeout'), 1)
      assert.equal(w.counter('cluster.c.upstream_cx_connect_fail'), 1)
      assert.equal(tl.getThreadLocalCluster('c')!.info.resourceManager('default').connections.count(), 0)
    } finally {
      await hole.close()
    }
  })

  it('cancel() abandons a pending connect without callbacks', async () => {
    const hole = await blackHole()
    try {
      const w = await world([staticCluster('c', hole.port)])
      const tl = w.worker(2)
      const c = connect(tl, 'c')
      assert.equal(w.gauge('cluster.c.upstream_cx_active'), 1)
      c.cancel()
      c.cancel()
      await new Promise((resolve) => setImmediate(resolve))
      assert.equal(c.calls(), 0)
      assert.equal(w.gauge('cluster.c.upstream_cx_active'), 0)
      assert.equal(w.gauge('cluster.c.upstream_rq_pending_active'), 0)
      assert.equal(w.counter('cluster.c.upstream_cx_connect_fail'), 0)
      assert.equal(tl.getThreadLocalCluster('c')!.info.resourceManager('default').connections.count(), 0)
    } finally {
      await hole.close()
    }
  })

  it('holds max_connections across workers sharing the snapshot', async () => {
    const port = await upstream()
    const w = await world([staticCluster('c', port, { circuit_breakers: { thresholds: [{ max_connections: 1 }] } })])
    const a = w.worker(2)
    const b = w.worker(3)
    const first = await connect(a, 'c').outcome
    assert.ok('ready' in first)
    const second = await connect(b, 'c').outcome
    assert.ok('failure' in second)
    assert.equal(second.failure, 'Overflow')
    assert.equal(w.counter('cluster.c.upstream_cx_overflow'), 1)
    assert.equal(w.gauge('cluster.c.circuit_breakers.default.cx_open'), 1)
    const done = closed(first.ready)
    first.ready.close('NoFlush')
    await done
    assert.equal(w.gauge('cluster.c.circuit_breakers.default.cx_open'), 0)
    const third = await connect(b, 'c').outcome
    assert.ok('ready' in third)
    third.ready.close('NoFlush')
  })

  it('fails with NoHealthyUpstream when the cluster has no hosts', async () => {
    const w = await world([staticCluster('empty', 0)])
    const r = await connect(w.worker(2), 'empty').outcome
    assert.ok('failure' in r)
    assert.equal(r.failure, 'NoHealthyUpstream')
    assert.equal(r.host, undefined)
    assert.equal(w.counter('cluster.empty.upstream_cx_none_healthy'), 1)
  })

  it('ignores older snapshots and keeps Host objects across updates', async () => {
    const w = await world([staticCluster('c', 1000)])
    const tl = w.worker(2)
    const s = w.snapshots[0]!
    const before = tl.getThreadLocalCluster('c')!.prioritySet.hostSetsPerPriority[0]!.hosts[0]!
    const extra = { ...s.hosts[0]!, port: 1001 }
    tl.update([{ ...s, version: s.version + 1, hosts: [{ ...s.hosts[0]!, healthFlags: 1 }, extra] }])
    const set = tl.getThreadLocalCluster('c')!.prioritySet.hostSetsPerPriority[0]!
    assert.equal(set.hosts.length, 2)
    assert.equal(set.hosts[0], before, 'same address, same Host')
    assert.equal(before.health(), 'Unhealthy')
    assert.deepEqual(set.healthyHosts.map((h) => h.addressString), ['127.0.0.1:1001'])
    tl.update([s])
    assert.equal(tl.getThreadLocalCluster('c')!.prioritySet.hostSetsPerPriority[0]!.hosts.length, 2, 'older version ignored')
    assert.equal(tl.chooseHost('c', undefined)?.addressString, '127.0.0.1:1001')
    tl.remove(['c'])
    assert.equal(tl.getThreadLocalCluster('c'), undefined)
  })
})
