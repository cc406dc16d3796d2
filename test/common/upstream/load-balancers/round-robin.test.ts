import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RoundRobinLoadBalancer } from '../../../../source/common/upstream/load-balancers/round-robin.js'
import type { Host } from '../../../../source/envoy/upstream/host.js'
import { makeClusterConfig, makeHost, makeHosts, makePrioritySet, seededRandom } from '../../../mocks/upstream/hosts.js'

function rr(hosts: Host[], seed = 1): RoundRobinLoadBalancer {
  return new RoundRobinLoadBalancer({ prioritySet: makePrioritySet(hosts), config: makeClusterConfig(), random: seededRandom(seed) })
}

describe('RoundRobinLoadBalancer', () => {
  it('rotates exactly through equal-weight hosts', () => {
    const hosts = makeHosts(5)
    const lb = rr(hosts)
    const first = lb.chooseHost(undefined)!
    const start = hosts.indexOf(first as (typeof hosts)[number])
    for (let i = 1; i < 23; i++) assert.equal(lb.chooseHost(undefined), hosts[(start + i) % 5])
  })

  it('starts at different offsets for different random sources', () => {
    const hosts = makeHosts(8)
    const starts = new Set<Host>()
    for (let seed = 1; seed <= 20; seed++) starts.add(rr(hosts, seed).chooseHost(undefined)!)
    assert.ok(starts.size > 3)
  })

  it('splits 1:3 weights 25/75 within 1%', () => {
    const light = makeHost({ weight: 1 })
    const heavy = makeHost({ weight: 3 })
    const lb = rr([light, heavy])
    let n = 0
    for (let i = 0; i < 10_000; i++) if (lb.chooseHost(undefined) === light) n++
    assert.ok(Math.abs(n / 10_000 - 0.25) < 0.01, String(n))
  })

  it('skips unhealthy hosts and uses only healthy ones', () => {
    const good = makeHosts(3)
    const bad = makeHosts(1, { health: 'Unhealthy' })
    const lb = rr([...good, ...bad])
    for (let i = 0; i < 30; i++) assert.notEqual(lb.chooseHost(undefined), bad[0])
  })

  it('returns undefined with no hosts', () => {
    assert.equal(rr([]).chooseHost(undefined), undefined)
  })
})
