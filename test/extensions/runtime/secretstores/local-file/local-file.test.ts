import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import { localFileSecretStoreFactory } from '../../../../../source/extensions/runtime/secretstores/local-file/config.js'
import { silentLog } from '../../../../mocks/network/factory-context.js'

const ctx = { log: silentLog, appId: 'app' }
const doc = { db: { user: 'admin', password: 's3cret', ports: [5432] }, token: 'abc', n: 7 }

function secretsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-secrets-'))
  const file = path.join(dir, 'secrets.json')
  fs.writeFileSync(file, JSON.stringify(doc))
  return file
}

describe('secretstores.local.file', () => {
  it('flattens nested keys with the separator (one value per secret)', async () => {
    const s = localFileSecretStoreFactory.create('s', { secretsFile: secretsFile() }, ctx, 'p.secret_store.s')
    assert.deepEqual(await s.get('db:password'), { 'db:password': 's3cret' })
    assert.deepEqual(await s.get('db:ports:0'), { 'db:ports:0': '5432' })
    assert.deepEqual(await s.get('n'), { n: '7' })
    const all = await s.bulkGet()
    assert.deepEqual(Object.keys(all).sort(), ['db:password', 'db:ports:0', 'db:user', 'n', 'token'])
    await assert.rejects(s.get('db'), /secret db not found/)
  })

  it('nestedSeparator and multiValued as Dapr', async () => {
    const s = localFileSecretStoreFactory.create('s', { secretsFile: secretsFile(), nestedSeparator: '.', multiValued: 'true' }, ctx, 'p.secret_store.s')
    assert.deepEqual(await s.get('db'), { user: 'admin', password: 's3cret', 'ports.0': '5432' })
    assert.deepEqual(await s.get('token'), { token: 'abc' })
  })

  it('a secret named __proto__ in the file is an ordinary secret; prototype names are unknown (issue 18)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-secrets-'))
    const file = path.join(dir, 'secrets.json')
    fs.writeFileSync(file, '{"__proto__": {"x": "1"}, "plain": "p"}')
    for (const multiValued of ['false', 'true']) {
      const s = localFileSecretStoreFactory.create('s', { secretsFile: file, multiValued }, ctx, 'p.secret_store.s')
      assert.ok(Object.keys(await s.bulkGet()).includes(multiValued === 'true' ? '__proto__' : '__proto__:x'))
      for (const n of Object.getOwnPropertyNames(Object.prototype).filter((k) => k !== '__proto__')) await assert.rejects(s.get(n), /not found/)
    }
    const s = localFileSecretStoreFactory.create('s', { secretsFile: file, multiValued: 'true' }, ctx, 'p.secret_store.s')
    assert.equal(Object.getOwnPropertyDescriptor(await s.get('__proto__'), 'x')?.value, '1')
  })

  it('needs secretsFile; a missing file fails at use', async () => {
    assert.throws(() => localFileSecretStoreFactory.create('s', {}, ctx, 'p.secret_store.s'), (err: { code?: string; message: string }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.message, /p\.secret_store\.s\.metadata\.secretsFile: is required/)
      return true
    })
    const s = localFileSecretStoreFactory.create('s', { secretsFile: '/nonexistent/secrets.json' }, ctx, 'p.secret_store.s')
    await assert.rejects(s.get('x'), /cannot read secrets file/)
  })
})
