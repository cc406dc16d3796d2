/**
 * Issue 18, defect 8: the local file component and symbolic links, through Layotto's real gRPC
 * API of the real binary. Real links in a temp dir: a link to a file outside the root, a link to
 * a directory outside it, a dangling link pointing outside, and a link to a file inside. Nothing
 * outside the root may be read, written, created, listed or deleted, and a refused request must
 * leave the disk as it was. Names with control characters or a component over 255 bytes are
 * INVALID_ARGUMENT.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { type EnvoyProcess, startEnvoy, tempDir } from './helpers/envoy-process.js'
import { grpcFails, loadApiProtos, type Obj, type RuntimeClient, runtimeClient } from './helpers/runtime-grpc.js'
import { listenerPort } from './helpers/tcp.js'

const STORE = 'files'

function bootstrap(root: string): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: layotto
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy_ts.filters.network.runtime_api
        typed_config:
          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi
          stat_prefix: layotto
          apis: [LAYOTTO]
          file: { ${STORE}: { type: local, metadata: { root: ${JSON.stringify(root)} } } }
`
}

/** A snapshot of every entry under `dir` (names and, for files, contents) to prove nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) {
        out[p] = '<dir>'
        walk(p)
      } else if (e.isSymbolicLink()) {
        out[p] = `-> ${fs.readlinkSync(p)}`
      } else {
        out[p] = fs.readFileSync(p, 'utf8')
      }
    }
  }
  walk(dir)
  return out
}

describe('file.local and symbolic links (real gRPC API)', () => {
  let envoy: EnvoyProcess
  let c: RuntimeClient
  let base: string
  let root: string
  let outside: string

  before(async () => {
    base = tempDir('envoy-ts-file-links-')
    root = path.join(base, 'root')
    outside = path.join(base, 'outside')
    fs.mkdirSync(root)
    fs.mkdirSync(outside)
    fs.writeFileSync(path.join(outside, 'target.txt'), 'outside secret')
    fs.writeFileSync(path.join(root, 'real.txt'), 'inside')
    fs.symlinkSync(path.join(outside, 'target.txt'), path.join(root, 'hostlink'))
    fs.symlinkSync(outside, path.join(root, 'link'))
    fs.symlinkSync(path.join(outside, 'created-by-dangling.txt'), path.join(root, 'dangle'))
    fs.symlinkSync('real.txt', path.join(root, 'inlink'))
    envoy = await startEnvoy({ config: bootstrap(root) })
    c = runtimeClient(loadApiProtos(['spec/proto/runtime/v1/runtime.proto']), 'spec.proto.runtime.v1.Runtime', await listenerPort(envoy, 'layotto'))
  })

  after(async () => {
    c?.close()
    await envoy?.stop()
    fs.rmSync(base, { recursive: true, force: true })
  })

  const put = (name: string, data = 'x'): Promise<Obj> => c.clientStream('PutFile', [{ store_name: STORE, name, data: Buffer.from(data) }])
  const getFile = (name: string): Promise<Buffer> => new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    c.stream('GetFile', { store_name: STORE, name })
      .on('data', (m: Obj) => chunks.push(Buffer.from(m['data'] as Uint8Array)))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject)
  })
  const req = (name: string): Obj => ({ request: { store_name: STORE, name } })
  const invalid = (p: Promise<unknown>, re = /root|invalid|name/): Promise<void> => grpcFails(p, grpc.status.INVALID_ARGUMENT, re)

  it('refuses writes through links that leave the root, before touching the disk', async () => {
    const before = snapshot(outside)
    await invalid(put('hostlink', 'overwritten'))
    await invalid(put('dangle', 'created'))
    await invalid(put('link/newdir/deep.txt'))
    await invalid(put('link/new.txt'))
    await invalid(put('link/target.txt'))
    assert.deepEqual(snapshot(outside), before, 'nothing outside the root changed')
    assert.equal(fs.existsSync(path.join(outside, 'newdir')), false)
    assert.equal(fs.readlinkSync(path.join(root, 'hostlink')), path.join(outside, 'target.txt'), 'the link itself is left alone')
  })

  it('refuses reads, metadata, listings and deletes through links that leave the root', async () => {
    const before = snapshot(outside)
    await invalid(getFile('hostlink'))
    await invalid(getFile('link/target.txt'))
    await invalid(c.unary('GetFileMeta', req('link/target.txt')))
    await invalid(c.unary('GetFileMeta', req('dangle')))
    await invalid(c.unary('ListFile', { ...req('link/'), page_size: 10 }))
    await invalid(c.unary('ListFile', { ...req('link/t'), page_size: 10 }))
    await invalid(c.unary('DelFile', req('link/target.txt')))
    await invalid(c.unary('DelFile', req('hostlink')))
    const all = await c.unary('ListFile', { ...req(''), page_size: 100 })
    const names = (all['files'] as Obj[]).map((f) => f['file_name'])
    assert.ok(!names.some((n) => String(n).startsWith('link/')), `nothing under link/: ${names.join(', ')}`)
    assert.deepEqual(snapshot(outside), before)
  })

  it('still serves links that stay inside the root, and ordinary files', async () => {
    assert.equal((await getFile('inlink')).toString(), 'inside')
    assert.equal(String((await c.unary('GetFileMeta', req('inlink')))['size']), '6')
    await put('sub/dir/ok.txt', 'fine')
    assert.equal(fs.readFileSync(path.join(root, 'sub/dir/ok.txt'), 'utf8'), 'fine')
    assert.equal((await getFile('sub/dir/ok.txt')).toString(), 'fine')
    const list = await c.unary('ListFile', { ...req('sub/'), page_size: 10 })
    assert.deepEqual((list['files'] as Obj[]).map((f) => f['file_name']), ['sub/dir/ok.txt'])
    await c.unary('DelFile', req('sub/dir/ok.txt'))
    assert.equal(fs.existsSync(path.join(root, 'sub/dir/ok.txt')), false)
  })

  it('answers INVALID_ARGUMENT for control characters and over-long names, 255 bytes work', async () => {
    for (const name of ['a\nb.txt', 'tab\there', 'bell\u0007', 'del\u007f', 'dir\r/x']) {
      await invalid(put(name), /invalid|control/)
      await invalid(c.unary('GetFileMeta', req(name)), /invalid|control/)
    }
    const long = 'n'.repeat(256)
    await invalid(put(long), /too long|255/)
    await invalid(put(`d/${long}/x`), /too long|255/)
    await invalid(c.unary('GetFileMeta', req(long)), /too long|255/)
    const multibyte = 'é'.repeat(128) // 256 bytes in UTF-8
    await invalid(put(multibyte), /too long|255/)
    const max = 'm'.repeat(255)
    await put(max, 'max')
    assert.equal(String((await c.unary('GetFileMeta', req(max)))['size']), '3')
    assert.deepEqual(fs.readdirSync(root).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left behind')
  })
})
