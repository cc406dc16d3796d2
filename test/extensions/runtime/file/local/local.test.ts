import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import { RuntimeStatus } from '../../../../../source/envoy/runtime-api/errors.js'
import { localFileStoreFactory } from '../../../../../source/extensions/runtime/file/local/config.js'
import { LocalFileStore } from '../../../../../source/extensions/runtime/file/local/local.js'
import { silentLog } from '../../../../mocks/network/factory-context.js'

const b = (s: string): Uint8Array => new TextEncoder().encode(s)

function store(): { s: LocalFileStore; root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-files-'))
  return { s: new LocalFileStore('files', root), root }
}

async function rejectsWith(p: Promise<unknown>, status: number, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: { status?: number; message: string }) => {
    assert.equal(err.status, status)
    assert.match(err.message, re)
    return true
  })
}

describe('file.local', () => {
  it('needs root', () => {
    assert.throws(() => localFileStoreFactory.create('f', {}, { log: silentLog, appId: '' }, 'p.file.f'), (err: { code?: string; message: string }) => {
      assert.equal(err.code, ErrorCode.CONFIG_INVALID)
      assert.match(err.message, /p\.file\.f\.metadata\.root: is required/)
      return true
    })
  })

  it('puts, gets, stats and deletes files under the root', async () => {
    const { s, root } = store()
    await s.put('a/b.txt', b('hello'))
    assert.equal(fs.readFileSync(path.join(root, 'a/b.txt'), 'utf8'), 'hello')
    assert.equal(Buffer.from(await s.get('a/b.txt')).toString(), 'hello')
    const st = await s.stat('a/b.txt')
    assert.equal(st.size, 5)
    assert.ok(!Number.isNaN(Date.parse(st.lastModified)))
    await s.del('a/b.txt')
    await rejectsWith(s.get('a/b.txt'), RuntimeStatus.NOT_FOUND, /not found/)
    await rejectsWith(s.stat('a/b.txt'), RuntimeStatus.NOT_FOUND, /not found/)
    await rejectsWith(s.del('a/b.txt'), RuntimeStatus.NOT_FOUND, /not found/)
  })

  it('rejects names that leave the root', async () => {
    const { s, root } = store()
    const outside = path.join(path.dirname(root), `outside-${path.basename(root)}`)
    fs.mkdirSync(outside)
    fs.writeFileSync(path.join(outside, 'secret'), 'x')
    fs.symlinkSync(outside, path.join(root, 'link'))
    for (const name of ['../x', 'a/../../x', '/etc/passwd', 'a\0b', '..']) {
      await rejectsWith(s.get(name), RuntimeStatus.INVALID_ARGUMENT, /root|invalid/)
      await rejectsWith(s.put(name, b('x')), RuntimeStatus.INVALID_ARGUMENT, /root|invalid/)
    }
    await rejectsWith(s.get('link/secret'), RuntimeStatus.INVALID_ARGUMENT, /leaves the root/)
    await rejectsWith(s.put('link/new', b('x')), RuntimeStatus.INVALID_ARGUMENT, /leaves the root/)
    assert.equal(fs.existsSync(path.join(outside, 'new')), false)
    await rejectsWith(s.list('../'), RuntimeStatus.INVALID_ARGUMENT, /root/)
  })

  it('lists by prefix in pages with a marker', async () => {
    const { s } = store()
    for (const n of ['d/1', 'd/2', 'd/3', 'd/sub/4', 'e/5']) await s.put(n, b(n))
    const p1 = await s.list('d/', { pageSize: 2 })
    assert.deepEqual(p1.files.map((f) => f.name), ['d/1', 'd/2'])
    assert.equal(p1.truncated, true)
    const p2 = await s.list('d/', { pageSize: 2, marker: p1.marker })
    assert.deepEqual(p2.files.map((f) => f.name), ['d/3', 'd/sub/4'])
    assert.equal(p2.truncated, false)
    assert.equal(p2.marker, '')
    assert.deepEqual((await s.list('')).files.map((f) => f.name), ['d/1', 'd/2', 'd/3', 'd/sub/4', 'e/5'])
    assert.deepEqual((await s.list('nothing/')).files, [])
  })

  it('dot-dot-prefixed names inside the root are ordinary; links inside the root work (issue 18)', async () => {
    const { s, root } = store()
    await s.put('..x', b('dots'))
    assert.equal(new TextDecoder().decode(await s.get('..x')), 'dots')
    await s.put('d/..y', b('y'))
    assert.deepEqual((await s.list('d/')).files.map((f) => f.name), ['d/..y'])
    fs.mkdirSync(path.join(root, 'real'))
    fs.symlinkSync('real', path.join(root, 'alias'))
    await s.put('alias/f.txt', b('via link'))
    assert.equal(fs.readFileSync(path.join(root, 'real/f.txt'), 'utf8'), 'via link')
    assert.deepEqual((await s.list('alias/')).files.map((f) => f.name), ['alias/f.txt'])
    fs.symlinkSync('real/f.txt', path.join(root, 'flink'))
    await s.put('flink', b('through'))
    assert.equal(fs.readFileSync(path.join(root, 'real/f.txt'), 'utf8'), 'through')
    assert.ok(fs.lstatSync(path.join(root, 'flink')).isSymbolicLink(), 'a write through an inside link keeps the link')
    await s.del('flink')
    assert.equal(fs.existsSync(path.join(root, 'flink')), false)
    assert.equal(fs.existsSync(path.join(root, 'real/f.txt')), true, 'DelFile removes the link, not its target')
    fs.symlinkSync('loop', path.join(root, 'loop'))
    await rejectsWith(s.get('loop'), RuntimeStatus.INVALID_ARGUMENT, /leaves the root/)
    await rejectsWith(s.put('loop/x', b('x')), RuntimeStatus.INVALID_ARGUMENT, /leaves the root/)
  })
})
