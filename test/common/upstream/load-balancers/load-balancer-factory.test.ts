import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkLoadBalancerConfig, createLoadBalancer } from '../../../../source/common/upstream/load-balancers/load-balancer-factory.js'
import { LeastRequestLoadBalancer } from '../../../../source/common/upstream/load-balancers/least-request.js'
import { MaglevLoadBalancer } from '../../../../source/common/upstream/load-balancers/maglev.js'
import { RandomLoadBalancer } from '../../../../source/common/upstream/load-balancers/random.js'
import { RingHashLoadBalancer } from '../../../../source/common/upstream/load-balancers/ring-hash.js'
import { RoundRobinLoadBalancer } from '../../../../source/common/upstream/load-balancers/round-robin.js'
import type { Cluster_LbPolicy } from '../../../../source/common/protobuf/generated/envoy/config/cluster/v3.js'
import type { Host } from '../../../../source/envoy/upstream/host.js'
import { makeClusterConfig, makeHosts, makePrioritySet, seededRandom } from '../../../mocks/upstream/hosts.js'

const POLICIES: Array<[Cluster_LbPolicy, new (...a: never[]) => unknown]> = [
  ['ROUND_ROBIN', RoundRobinLoadBalancer],
  ['LEAST_REQUEST', LeastRequestLoadBalancer],
  ['RANDOM', RandomLoadBalancer],
  ['RING_HASH', RingHashLoadBalancer],
  ['MAGLEV', MaglevLoadBalancer],
]

function build(policy: Cluster_LbPolicy, hosts: Host[]) {
  return createLoadBalancer({ prioritySet: makePrioritySet(hosts), config: makeClusterConfig({ lb_policy: policy }), random: seededRandom(11) })
}

describe('createLoadBalancer', () => {
  it('builds the balancer for each supported lb_policy', () => {
    for (const [policy, cls] of POLICIES) assert.ok(build(policy, makeHosts(2)) instanceof cls, policy)
  })

  it('rejects CLUSTER_PROVIDED and LOAD_BALANCING_POLICY_CONFIG with a clear error', () => {
    for (const policy of ['CLUSTER_PROVIDED', 'LOAD_BALANCING_POLICY_CONFIG'] as const) {
      assert.throws(() => build(policy, makeHosts(1)), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ETS_ERR_CONFIG_INVALID')
        assert.match(err.message, new RegExp(`fake_cluster.*${policy}.*not supported`))
        return true
      })
      assert.throws(() => checkLoadBalancerConfig(makeClusterConfig({ lb_policy: policy })), { code: 'ETS_ERR_CONFIG_INVALID' })
    }
    assert.doesNotThrow(() => checkLoadBalancerConfig(makeClusterConfig({ lb_policy: 'MAGLEV' })))
  })

  it('returns undefined for every policy when there are no hosts', () => {
    for (const [policy] of POLICIES) assert.equal(build(policy, []).chooseHost(undefined), undefined, policy)
  })

  it('honours shouldSelectAnotherHost up to hostSelectionRetryCount for every policy', () => {
    for (const [policy] of POLICIES) {
      const hosts = makeHosts(4)
      const lb = build(policy, hosts)
      const banned = new Set<Host>(hosts.slice(0, 3))
      let calls = 0
      const ctx = {
        shouldSelectAnotherHost: (h: Host) => {
          calls++
          return banned.has(h)
        },
        hostSelectionRetryCount: 50,
      }
      for (let i = 0; i < 50; i++) assert.equal(lb.chooseHost(ctx), hosts[3], policy)
      // Every host rejected: the last pick stands after 1 + retry-count tries.
      calls = 0
      const picked = lb.chooseHost({ shouldSelectAnotherHost: (h: Host) => (calls++, h !== undefined), hostSelectionRetryCount: 2 })
      assert.ok(picked !== undefined, policy)
      assert.equal(calls, 3, policy)
    }
  })
})
