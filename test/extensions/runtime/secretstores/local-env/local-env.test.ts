import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { localEnvSecretStoreFactory } from '../../../../../source/extensions/runtime/secretstores/local-env/config.js'
import { LocalEnvSecretStore } from '../../../../../source/extensions/runtime/secretstores/local-env/local-env.js'
import { silentLog } from '../../../../mocks/network/factory-context.js'

describe('secretstores.local.env', () => {
  it('exposes environment variables as secrets', async () => {
    const s = new LocalEnvSecretStore('', { A: '1', B: '2' })
    assert.deepEqual(await s.get('A'), { A: '1' })
    await assert.rejects(s.get('C'), /secret C not found/)
    assert.deepEqual(await s.bulkGet(), { A: { A: '1' }, B: { B: '2' } })
  })

  it('Object.prototype member names are unknown secrets, not functions (issue 18)', async () => {
    for (const env of [{ A: '1' }, process.env]) {
      const s = new LocalEnvSecretStore('', env)
      for (const n of Object.getOwnPropertyNames(Object.prototype)) await assert.rejects(s.get(n), /not found/)
    }
  })

  it('with a prefix, only prefixed variables, named without it', async () => {
    const s = new LocalEnvSecretStore('APP_', { APP_DB: 'x', OTHER: 'y', APP_: 'z' })
    assert.deepEqual(await s.get('DB'), { DB: 'x' })
    await assert.rejects(s.get('OTHER'), /not found/)
    assert.deepEqual(await s.bulkGet(), { DB: { DB: 'x' } })
  })

  it('the factory reads prefix from metadata and uses the process environment', async () => {
    process.env['ENVOY_TS_TEST_SECRET_X'] = 'v'
    const s = localEnvSecretStoreFactory.create('env', { prefix: 'ENVOY_TS_TEST_SECRET_' }, { log: silentLog, appId: '' }, 'p')
    assert.deepEqual(await s.get('X'), { X: 'v' })
  })
})
