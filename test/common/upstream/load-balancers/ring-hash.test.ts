import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { xxHash64 } from '../../../../source/common/upstream/load-balancers/hash.js'
import { Ring, RingHashLoadBalancer, normalizeHostWeights } from '../../../../source/common/upstream/load-balancers/ring-hash.js'
import type { Cluster } from '../../../../source/common/protobuf/generated/envoy/config/cluster/v3.js'
import type { LoadBalancerContext } from '../../../../source/envoy/upstream/load-balancer.js'
import type { Host } from '../../../../source/envoy/upstream/host.js'
import { makeClusterConfig, makeHost, makeHostSet, makeHosts, makePrioritySet, seededRandom } from '../../../mocks/upstream/hosts.js'

function ringLb(hosts: Host[], config: Partial<Cluster> = {}): RingHashLoadBalancer {
  return new RingHashLoadBalancer({ prioritySet: makePrioritySet(hosts), config: makeClusterConfig({ lb_policy: 'RING_HASH', ...config }), random: seededRandom(5) })
}

function keyed(key: bigint): LoadBalancerContext {
  return { computeHashKey: () => key }
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => xxHash64(`request-${i}`))

function spread(lb: { chooseHost(c: LoadBalancerContext | undefined): Host | undefined }): Map<Host, number> {
  const counts = new Map<Host, number>()
  for (const k of KEYS) {
    const h = lb.chooseHost(keyed(k))!
    counts.set(h, (counts.get(h) ?? 0) + 1)
  }
  return counts
}

describe('RingHashLoadBalancer', () => {
  it('maps the same key to the same host, also across rebuilds', () => {
    const hosts = makeHosts(6)
    const one = ringLb(hosts)
    const two = ringLb(hosts)
    for (const k of KEYS.slice(0, 500)) {
      const h = one.chooseHost(keyed(k))
      assert.equal(one.chooseHost(keyed(k)), h)
      assert.equal(two.chooseHost(keyed(k)), h)
    }
  })

  it('sizes the ring from minimum_ring_size and the lightest host, capped by maximum_ring_size', () => {
    const hosts = [makeHost({ weight: 1 }), makeHost({ weight: 1 }), makeHost({ weight: 2 })]
    const set = makeHostSet(0, hosts)
    const ring = new Ring(normalizeHostWeights(set, false, false), 1024, 8 << 20, 'XX_HASH', false)
    assert.equal(ring.size, 1024)
    assert.deepEqual([...ring.pointsPerHost().values()].sort((a, b) => a - b), [256, 256, 512])
    const capped = new Ring(normalizeHostWeights(set, false, false), 1024, 100, 'XX_HASH', false)
    assert.equal(capped.size, 100)
  })

  it('spreads keys roughly by weight', () => {
    const hosts = [makeHost({ weight: 1 }), makeHost({ weight: 1 }), makeHost({ weight: 2 })]
    const counts = spread(ringLb(hosts))
    const expected = [0.25, 0.25, 0.5]
    hosts.forEach((h, i) => assert.ok(Math.abs(counts.get(h)! / KEYS.length - expected[i]!) < 0.06, `${i}: ${counts.get(h)}`))
  })

  it('remaps only the keys of a removed host while the points per host stay the same', () => {
    const hosts = makeHosts(10)
    // 100 points per host in both rings.
    const before = new Ring(normalizeHostWeights(makeHostSet(0, hosts), false, false), 1000, 8 << 20, 'XX_HASH', false)
    const after = new Ring(normalizeHostWeights(makeHostSet(0, hosts.slice(1)), false, false), 900, 8 << 20, 'XX_HASH', false)
    let moved = 0
    for (const k of KEYS) {
      const hi = Number(k >> 32n)
      const lo = Number(k & 0xffffffffn)
      const was = before.chooseHost(hi, lo, 0)
      if (was !== after.chooseHost(hi, lo, 0)) {
        moved++
        assert.equal(was, hosts[0], 'only keys of the removed host move')
      }
    }
    assert.ok(Math.abs(moved / KEYS.length - 0.1) < 0.03, String(moved))
  })

  it('moves about 1/N of the keys when a host leaves the balancer', () => {
    // The ring is resized for 9 hosts (114 instead of 103 points each), so a few keys also move
    // between the remaining hosts, as in Envoy.
    const hosts = makeHosts(10)
    const before = ringLb(hosts)
    const after = ringLb(hosts.slice(1))
    let moved = 0
    for (const k of KEYS) {
      const was = before.chooseHost(keyed(k))
      const now = after.chooseHost(keyed(k))
      if (was === hosts[0]) assert.notEqual(now, was)
      if (was !== now) moved++
    }
    assert.ok(moved > 0.05 * KEYS.length && moved < 0.2 * KEYS.length, String(moved))
  })

  it('supports MURMUR_HASH_2', () => {
    const hosts = makeHosts(4)
    const counts = spread(ringLb(hosts, { ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' } }))
    assert.equal(counts.size, 4)
    for (const c of counts.values()) assert.ok(c > 1500, String(c))
  })

  it('picks at random when there is no hash key', () => {
    const hosts = makeHosts(4)
    const lb = ringLb(hosts)
    const seen = new Set<Host | undefined>()
    for (let i = 0; i < 200; i++) seen.add(lb.chooseHost(undefined))
    assert.equal(seen.size, 4)
  })

  it('retries past hosts that shouldSelectAnotherHost rejects', () => {
    const hosts = makeHosts(5)
    const lb = ringLb(hosts)
    for (const k of KEYS.slice(0, 200)) {
      const first = lb.chooseHost(keyed(k))!
      const ctx: LoadBalancerContext = { computeHashKey: () => k, shouldSelectAnotherHost: (h) => h === first, hostSelectionRetryCount: 10 }
      assert.notEqual(lb.chooseHost(ctx), first)
    }
  })

  it('uses the healthy hosts, and priority 1 when priority 0 is down', () => {
    const p0 = makeHosts(3, { health: 'Unhealthy' })
    const p1 = makeHosts(3, { priority: 1 })
    const lb = ringLb([...p0, ...p1])
    for (const k of KEYS.slice(0, 300)) assert.ok(p1.includes(lb.chooseHost(keyed(k)) as (typeof p1)[number]))
    const mixed = makeHosts(4)
    mixed[0]!.currentHealth = 'Unhealthy'
    const lb2 = ringLb(mixed)
    for (const k of KEYS.slice(0, 300)) assert.notEqual(lb2.chooseHost(keyed(k)), mixed[0])
  })

  it('rejects minimum_ring_size > maximum_ring_size', () => {
    assert.throws(
      () => ringLb(makeHosts(1), { ring_hash_lb_config: { hash_function: 'XX_HASH', minimum_ring_size: 2048, maximum_ring_size: 1024 } }),
      { code: 'ETS_ERR_CONFIG_INVALID' },
    )
  })

  it('returns undefined with no hosts', () => {
    assert.equal(ringLb([]).chooseHost(keyed(1n)), undefined)
  })
})
