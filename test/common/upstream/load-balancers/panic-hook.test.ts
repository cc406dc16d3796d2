import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLoadBalancer } from '../../../../source/common/upstream/load-balancers/load-balancer-factory.js'
import { makeClusterConfig, makeHosts, makePrioritySet, seededRandom } from '../../../mocks/upstream/hosts.js'

describe('onPanic (lb_healthy_panic)', () => {
  for (const lb_policy of ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'] as const) {
    it(`${lb_policy}: called once per pick from a level in panic, never otherwise`, () => {
      let panics = 0
      const sick = [...makeHosts(3, { health: 'Unhealthy' }), ...makeHosts(1)]
      const lb = createLoadBalancer({ prioritySet: makePrioritySet(sick), config: makeClusterConfig({ lb_policy }), random: seededRandom(1), onPanic: () => panics++ })
      const picked = new Set<unknown>()
      for (let i = 0; i < 200; i++) picked.add(lb.chooseHost(undefined))
      assert.equal(panics, 200)
      assert.ok(picked.size > 1, 'panic balances over unhealthy hosts too')
      let calm = 0
      const fine = createLoadBalancer({ prioritySet: makePrioritySet(makeHosts(4)), config: makeClusterConfig({ lb_policy }), onPanic: () => calm++ })
      for (let i = 0; i < 50; i++) fine.chooseHost(undefined)
      assert.equal(calm, 0)
    })
  }
})
