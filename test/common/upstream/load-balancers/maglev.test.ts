import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { xxHash64 } from '../../../../source/common/upstream/load-balancers/hash.js'
import { MaglevLoadBalancer, MaglevTable, isPrime } from '../../../../source/common/upstream/load-balancers/maglev.js'
import { normalizeHostWeights } from '../../../../source/common/upstream/load-balancers/ring-hash.js'
import type { Cluster } from '../../../../source/common/protobuf/generated/envoy/config/cluster/v3.js'
import type { LoadBalancerContext } from '../../../../source/envoy/upstream/load-balancer.js'
import type { Host } from '../../../../source/envoy/upstream/host.js'
import { makeClusterConfig, makeHost, makeHostSet, makeHosts, makePrioritySet, seededRandom } from '../../../mocks/upstream/hosts.js'

function maglev(hosts: Host[], config: Partial<Cluster> = {}): MaglevLoadBalancer {
  return new MaglevLoadBalancer({ prioritySet: makePrioritySet(hosts), config: makeClusterConfig({ lb_policy: 'MAGLEV', ...config }), random: seededRandom(9) })
}

function keyed(key: bigint): LoadBalancerContext {
  return { computeHashKey: () => key }
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => xxHash64(`flow-${i}`))

describe('MaglevLoadBalancer', () => {
  it('fills the table in proportion to weight', () => {
    const hosts = [makeHost({ weight: 1 }), makeHost({ weight: 1 }), makeHost({ weight: 2 })]
    const table = new MaglevTable(normalizeHostWeights(makeHostSet(0, hosts), false, false), 65537, false)
    const slots = table.slotsPerHost()
    assert.equal(table.size, 65537)
    const expected = [0.25, 0.25, 0.5]
    hosts.forEach((h, i) => assert.ok(Math.abs(slots.get(h)! / 65537 - expected[i]!) < 0.005, `${i}: ${slots.get(h)}`))
  })

  it('maps the same key to the same host and spreads keys by weight', () => {
    const hosts = [makeHost({ weight: 1 }), makeHost({ weight: 3 })]
    const lb = maglev(hosts)
    const again = maglev(hosts)
    let light = 0
    for (const k of KEYS) {
      const h = lb.chooseHost(keyed(k))
      assert.equal(again.chooseHost(keyed(k)), h)
      if (h === hosts[0]) light++
    }
    assert.ok(Math.abs(light / KEYS.length - 0.25) < 0.02, String(light))
  })

  it('remaps few keys besides those of a removed host', () => {
    const hosts = makeHosts(10)
    const before = maglev(hosts)
    const after = maglev(hosts.slice(1))
    let moved = 0
    let movedOthers = 0
    for (const k of KEYS) {
      const was = before.chooseHost(keyed(k))
      if (was !== after.chooseHost(keyed(k))) {
        moved++
        if (was !== hosts[0]) movedOthers++
      }
    }
    assert.ok(moved > 0.05 * KEYS.length && moved < 0.2 * KEYS.length, String(moved))
    // Maglev trades perfect stability for balance: a few other keys move too.
    assert.ok(movedOthers < 0.05 * KEYS.length, String(movedOthers))
  })

  it('honours table_size and requires it to be prime', () => {
    const lb = maglev(makeHosts(3), { maglev_lb_config: { table_size: 101 } })
    assert.equal(lb.tables[0]!.size, 101)
    assert.throws(() => maglev(makeHosts(3), { maglev_lb_config: { table_size: 100 } }), { code: 'ETS_ERR_CONFIG_INVALID' })
    assert.ok(isPrime(65537) && isPrime(5000011) && !isPrime(1) && !isPrime(65536))
  })

  it('retries to another host, and picks at random without a key', () => {
    const hosts = makeHosts(5)
    const lb = maglev(hosts)
    for (const k of KEYS.slice(0, 200)) {
      const first = lb.chooseHost(keyed(k))!
      const ctx: LoadBalancerContext = { computeHashKey: () => k, shouldSelectAnotherHost: (h) => h === first, hostSelectionRetryCount: 5 }
      assert.notEqual(lb.chooseHost(ctx), first)
    }
    const seen = new Set<Host | undefined>()
    for (let i = 0; i < 200; i++) seen.add(lb.chooseHost(undefined))
    assert.equal(seen.size, 5)
  })

  it('balances over all hosts in panic and returns undefined with none', () => {
    const hosts = makeHosts(4, { health: 'Unhealthy' })
    const lb = maglev(hosts)
    assert.equal(lb.priorityLoad.perPriorityPanic[0], true)
    const seen = new Set<Host | undefined>()
    for (const k of KEYS.slice(0, 200)) seen.add(lb.chooseHost(keyed(k)))
    assert.equal(seen.size, 4)
    assert.equal(maglev([]).chooseHost(keyed(1n)), undefined)
  })
})
