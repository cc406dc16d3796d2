import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LeastRequestLoadBalancer } from '../../../../source/common/upstream/load-balancers/least-request.js'
import type { Cluster } from '../../../../source/common/protobuf/generated/envoy/config/cluster/v3.js'
import type { Host } from '../../../../source/envoy/upstream/host.js'
import { makeClusterConfig, makeHost, makeHosts, makePrioritySet, seededRandom } from '../../../mocks/upstream/hosts.js'

function lr(hosts: Host[], config: Partial<Cluster> = {}, seed = 1): LeastRequestLoadBalancer {
  return new LeastRequestLoadBalancer({
    prioritySet: makePrioritySet(hosts),
    config: makeClusterConfig({ lb_policy: 'LEAST_REQUEST', ...config }),
    random: seededRandom(seed),
  })
}

describe('LeastRequestLoadBalancer', () => {
  it('always prefers the idle host of two', () => {
    const busy = makeHost({ rqActive: 5 })
    const idle = makeHost({ rqActive: 0 })
    const lb = lr([busy, idle])
    for (let i = 0; i < 100; i++) assert.equal(lb.chooseHost(undefined), idle)
  })

  it('spreads ties between idle hosts', () => {
    const hosts = makeHosts(2)
    const lb = lr(hosts)
    let first = 0
    for (let i = 0; i < 1000; i++) if (lb.chooseHost(undefined) === hosts[0]) first++
    assert.ok(first > 400 && first < 600, String(first))
  })

  it('with power-of-two choices, rarely picks the busiest host', () => {
    const hosts = makeHosts(10)
    hosts.forEach((h, i) => h.setActive(i))
    const lb = lr(hosts)
    const counts = new Map<Host, number>()
    for (let i = 0; i < 10_000; i++) {
      const h = lb.chooseHost(undefined)!
      counts.set(h, (counts.get(h) ?? 0) + 1)
    }
    // The busiest host wins only when sampled twice: about 1%.
    assert.ok((counts.get(hosts[9]!) ?? 0) < 200)
    assert.ok(counts.get(hosts[0]!)! > counts.get(hosts[5]!)!)
  })

  it('honours choice_count', () => {
    const hosts = makeHosts(10)
    hosts.forEach((h, i) => h.setActive(i + 1))
    const share = (config: Partial<Cluster>): number => {
      const lb = lr(hosts, config)
      let idlest = 0
      for (let i = 0; i < 10_000; i++) if (lb.chooseHost(undefined) === hosts[0]) idlest++
      return idlest / 10_000
    }
    // The idlest host wins whenever it is sampled: 1 - 0.9^k of the time.
    assert.ok(Math.abs(share({}) - 0.19) < 0.02)
    assert.ok(Math.abs(share({ least_request_lb_config: { choice_count: 5 } }) - 0.41) < 0.02)
    // No more hosts than choices: a full scan, so always the idlest.
    assert.equal(share({ least_request_lb_config: { choice_count: 10 } }), 1)
  })

  it('weights unequal hosts by weight / (active + 1)', () => {
    const a = makeHost({ weight: 1 })
    const b = makeHost({ weight: 3 })
    const lb = lr([a, b])
    let n = 0
    for (let i = 0; i < 10_000; i++) if (lb.chooseHost(undefined) === a) n++
    assert.ok(Math.abs(n / 10_000 - 0.25) < 0.01, String(n))
    // b gets busy: weight 3 / 6 = 0.5 against a's 1.
    b.setActive(5)
    let m = 0
    for (let i = 0; i < 9_000; i++) if (lb.chooseHost(undefined) === a) m++
    assert.ok(Math.abs(m / 9_000 - 2 / 3) < 0.01, String(m))
    assert.equal(lb.effectiveWeight(b), 0.5)
  })

  it('applies active_request_bias', () => {
    const a = makeHost({ weight: 2, rqActive: 3 })
    const b = makeHost({ weight: 1 })
    const biased = lr([a, b], { least_request_lb_config: { active_request_bias: { default_value: 2, runtime_key: '' } } })
    assert.equal(biased.effectiveWeight(a), 2 / 16)
    const unbiased = lr([a, b], { least_request_lb_config: { active_request_bias: { default_value: 0, runtime_key: '' } } })
    assert.equal(unbiased.effectiveWeight(a), 2)
  })
})
