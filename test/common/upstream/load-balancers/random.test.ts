import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RandomLoadBalancer } from '../../../../source/common/upstream/load-balancers/random.js'
import type { Host } from '../../../../source/envoy/upstream/host.js'
import { makeClusterConfig, makeHosts, makePrioritySet, seededRandom } from '../../../mocks/upstream/hosts.js'

describe('RandomLoadBalancer', () => {
  it('covers every host about uniformly', () => {
    const hosts = makeHosts(5)
    const lb = new RandomLoadBalancer({ prioritySet: makePrioritySet(hosts), config: makeClusterConfig({ lb_policy: 'RANDOM' }), random: seededRandom(3) })
    const counts = new Map<Host, number>()
    for (let i = 0; i < 10_000; i++) {
      const h = lb.chooseHost(undefined)!
      counts.set(h, (counts.get(h) ?? 0) + 1)
    }
    assert.equal(counts.size, 5)
    for (const c of counts.values()) assert.ok(Math.abs(c - 2000) < 200, String(c))
  })

  it('defaults to Math.random', () => {
    const hosts = makeHosts(2)
    const lb = new RandomLoadBalancer({ prioritySet: makePrioritySet(hosts), config: makeClusterConfig({ lb_policy: 'RANDOM' }) })
    assert.ok(hosts.includes(lb.chooseHost(undefined) as (typeof hosts)[number]))
  })
})
