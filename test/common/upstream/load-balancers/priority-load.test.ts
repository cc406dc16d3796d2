import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PriorityLoad } from '../../../../source/common/upstream/load-balancers/priority-load.js'
import type { PriorityLoadOptions } from '../../../../source/common/upstream/load-balancers/priority-load.js'
import type { Host } from '../../../../source/envoy/upstream/host.js'
import { makeHostSet, makeHosts, seededRandom } from '../../../mocks/upstream/hosts.js'

const defaults: PriorityLoadOptions = { panicThreshold: 50, localityWeighted: false }

/** 100 hosts at `priority`: `healthy` healthy, `degraded` degraded, the rest unhealthy. */
function level(priority: number, healthy: number, degraded = 0): Host[] {
  return [
    ...makeHosts(healthy, { priority }),
    ...makeHosts(degraded, { priority, health: 'Degraded' }),
    ...makeHosts(100 - healthy - degraded, { priority, health: 'Unhealthy' }),
  ]
}

function load(levels: Host[][], options: PriorityLoadOptions = defaults): PriorityLoad {
  const prioritySet = { hostSetsPerPriority: levels.map((hosts, p) => makeHostSet(p, hosts)) }
  return new PriorityLoad(prioritySet, options, seededRandom(1))
}

describe('PriorityLoad', () => {
  it('spills from P0 to a healthy P1 as in the priority-levels docs', () => {
    const table: Array<[number, number, number]> = [
      [100, 100, 0],
      [72, 100, 0],
      [71, 99, 1],
      [50, 70, 30],
      [25, 35, 65],
      [0, 0, 100],
    ]
    for (const [healthy, p0, p1] of table) {
      const pl = load([level(0, healthy), level(1, 100)])
      assert.deepEqual(pl.healthyLoad, [p0, p1], `P0 ${healthy}% healthy`)
      assert.deepEqual(pl.degradedLoad, [0, 0])
      assert.deepEqual(pl.perPriorityPanic, [false, false])
    }
  })

  it('sends load to degraded hosts as in the degraded-endpoints docs', () => {
    const table: Array<[number, number, number, number]> = [
      [100, 0, 100, 0],
      [71, 0, 100, 0],
      [71, 29, 99, 1],
      [25, 65, 35, 65],
      [5, 0, 100, 0],
    ]
    for (const [healthy, degraded, toHealthy, toDegraded] of table) {
      const pl = load([level(0, healthy, degraded)])
      assert.deepEqual([pl.healthyLoad[0], pl.degradedLoad[0]], [toHealthy, toDegraded], `${healthy}/${degraded}`)
    }
  })

  it('applies the panic threshold as in the panic-threshold docs', () => {
    const table: Array<[number, number, number, number, boolean, boolean]> = [
      [72, 72, 100, 0, false, false],
      [71, 71, 99, 1, false, false],
      [50, 60, 70, 30, false, false],
      [25, 100, 35, 65, false, false],
      // Both levels under the threshold: total panic, load by host count.
      [25, 25, 50, 50, true, true],
      // Health 7 and 91 (total 98): 7 + 92, and the rounding remainder goes to P0. The docs
      // table rounds this row to 7/93.
      [5, 65, 8, 92, true, false],
    ]
    for (const [h0, h1, l0, l1, panic0, panic1] of table) {
      const pl = load([level(0, h0), level(1, h1)])
      assert.deepEqual(pl.healthyLoad, [l0, l1], `${h0}/${h1}`)
      assert.deepEqual(pl.perPriorityPanic, [panic0, panic1], `${h0}/${h1}`)
    }
  })

  it('balances over all hosts of a panicking level', () => {
    const pl = load([level(0, 10)])
    assert.deepEqual(pl.perPriorityPanic, [true])
    const source = pl.choosePriority(() => 0.5)!
    assert.equal(source.panic, true)
    assert.equal(source.hosts.length, 100)
  })

  it('never panics with a threshold of 0', () => {
    const pl = load([level(0, 10)], { panicThreshold: 0, localityWeighted: false })
    assert.deepEqual(pl.perPriorityPanic, [false])
    assert.equal(pl.choosePriority(() => 0.5)!.hosts.length, 10)
    const none = load([level(0, 0)], { panicThreshold: 0, localityWeighted: false })
    assert.deepEqual(none.healthyLoad, [100])
    assert.equal(none.choosePriority(() => 0.5)!.hosts.length, 0)
  })

  it('fails over entirely to P1 when P0 is down', () => {
    const pl = load([level(0, 0), level(1, 100)])
    assert.deepEqual(pl.healthyLoad, [0, 100])
    for (const r of [0, 0.3, 0.99]) assert.equal(pl.choosePriority(() => r)!.priority, 1)
  })

  it('splits load by host count in total panic and handles empty sets', () => {
    const pl = load([level(0, 0).slice(0, 30), level(1, 0).slice(0, 10)])
    assert.deepEqual(pl.healthyLoad, [75, 25])
    const empty = new PriorityLoad({ hostSetsPerPriority: [makeHostSet(0, [])] }, defaults, Math.random)
    assert.deepEqual(empty.healthyLoad, [100])
    assert.equal(empty.choosePriority(Math.random)!.hosts.length, 0)
    assert.equal(new PriorityLoad({ hostSetsPerPriority: [] }, defaults, Math.random).choosePriority(Math.random), undefined)
  })

  it('picks localities by weight × availability when locality weighted', () => {
    const a = makeHosts(4, { locality: { zone: 'a' } })
    const b = makeHosts(4, { locality: { zone: 'b' } })
    const weights: Array<readonly [string, number]> = [['/a/', 1], ['/b/', 3]]
    const options = { panicThreshold: 50, localityWeighted: true }
    const random = seededRandom(7)
    const count = (pl: PriorityLoad): Record<string, number> => {
      const c: Record<string, number> = { a: 0, b: 0 }
      for (let i = 0; i < 10_000; i++) c[pl.choosePriority(random)!.hosts[0]!.locality.zone]!++
      return c
    }
    const all = new PriorityLoad({ hostSetsPerPriority: [makeHostSet(0, [...a, ...b], { localityWeights: weights })] }, options, random)
    assert.deepEqual(count(all), { a: 2500, b: 7500 })
    // Half of b unhealthy: b's weight becomes 3 × min(1, 1.4 × 0.5) = 2.1 against a's 1.
    b[0]!.currentHealth = 'Unhealthy'
    b[1]!.currentHealth = 'Unhealthy'
    const half = new PriorityLoad({ hostSetsPerPriority: [makeHostSet(0, [...a, ...b], { localityWeights: weights })] }, options, random)
    const c = count(half)
    assert.ok(Math.abs(c.b! / 10_000 - 2.1 / 3.1) < 0.01, JSON.stringify(c))
    // Without the option, localities are ignored.
    const flat = new PriorityLoad({ hostSetsPerPriority: [makeHostSet(0, [...a, ...b], { localityWeights: weights })] }, defaults, random)
    assert.equal(flat.choosePriority(random)!.localityIndex, -1)
  })
})
