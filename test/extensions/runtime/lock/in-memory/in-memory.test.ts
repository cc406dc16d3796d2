import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../../source/envoy/runtime-api/component-factory.js'
import { inMemoryLockFactory, setup } from '../../../../../source/extensions/runtime/lock/in-memory/config.js'
import { InMemoryLockStore } from '../../../../../source/extensions/runtime/lock/in-memory/in-memory.js'

describe('lock.in-memory', () => {
  it('registers as lock.in-memory, embedded', () => {
    const r = new RegistryImpl()
    setup(r)
    assert.equal(r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).lookup('lock.in-memory', undefined), inMemoryLockFactory)
    assert.equal(inMemoryLockFactory.embedded, true)
  })

  it('gives a resource to one owner at a time; only the owner unlocks', async () => {
    const l = new InMemoryLockStore()
    assert.equal(await l.tryLock('r', 'alice', 10), true)
    assert.equal(await l.tryLock('r', 'bob', 10), false)
    assert.equal(await l.tryLock('r', 'alice', 10), false, 'not re-entrant')
    assert.equal(await l.unlock('r', 'bob'), 'LOCK_BELONGS_TO_OTHERS')
    assert.equal(await l.unlock('r', 'alice'), 'SUCCESS')
    assert.equal(await l.unlock('r', 'alice'), 'LOCK_DOES_NOT_EXIST')
    assert.equal(await l.tryLock('r', 'bob', 10), true)
  })

  it('expiry frees the lock; keepAlive extends only the owner lease', async () => {
    let now = 0
    const l = new InMemoryLockStore(() => now)
    assert.equal(await l.tryLock('r', 'alice', 2), true)
    now = 1500
    assert.equal(await l.keepAlive('r', 'bob', 2), false)
    assert.equal(await l.keepAlive('r', 'alice', 2), true) // now expires at 3500
    now = 3000
    assert.equal(await l.tryLock('r', 'bob', 2), false)
    now = 3500
    assert.equal(await l.unlock('r', 'alice'), 'LOCK_DOES_NOT_EXIST')
    assert.equal(await l.keepAlive('r', 'alice', 2), false)
    assert.equal(await l.tryLock('r', 'bob', 2), true)
  })
})
