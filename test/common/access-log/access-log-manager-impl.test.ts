import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import {
  AccessLogManagerImpl, FLUSH_THRESHOLD_BYTES, MAX_BUFFER_BYTES,
} from '../../../source/common/access-log/access-log-manager-impl.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-access-log-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

let n = 0
function tempPath(): string {
  return path.join(dir, `log-${n++}.log`)
}

const silent = pino({ level: 'silent' })

/**
 * Resolves once `bytes` bytes have been flushed to disk through `onFlush`. The manager's timers
 * are unref'd, so a ref'd guard keeps the loop alive meanwhile and fails a flush that never comes.
 */
function flushWatcher(): { onFlush: (p: string, b: number) => void; until(bytes: number): Promise<void> } {
  let total = 0
  let waiter: { bytes: number; resolve: () => void } | undefined
  return {
    onFlush: (_p, b) => {
      total += b
      if (waiter !== undefined && total >= waiter.bytes) waiter.resolve()
    },
    until: (bytes) => new Promise<void>((resolve, reject) => {
      if (total >= bytes) {
        resolve()
        return
      }
      const guard = setTimeout(() => reject(new Error(`flushed ${total} of ${bytes} bytes`)), 10000)
      waiter = {
        bytes,
        resolve: () => {
          clearTimeout(guard)
          resolve()
        },
      }
    }),
  }
}

describe('AccessLogManagerImpl', () => {
  it('returns one writer per path', () => {
    const m = new AccessLogManagerImpl(1000, silent)
    const p = tempPath()
    assert.equal(m.createAccessLogFile(p), m.createAccessLogFile(p))
    assert.notEqual(m.createAccessLogFile(p), m.createAccessLogFile(tempPath()))
    m.close()
  })

  it('buffers entries until flush()', () => {
    const m = new AccessLogManagerImpl(60000, silent)
    const p = tempPath()
    const f = m.createAccessLogFile(p)
    f.write('one\n')
    f.write('two\n')
    assert.equal(fs.readFileSync(p, 'utf8'), '')
    m.flush()
    assert.equal(fs.readFileSync(p, 'utf8'), 'one\ntwo\n')
    assert.equal(m.stats.flushed, 1)
    m.close()
  })

  it('appends to an existing file', () => {
    const p = tempPath()
    fs.writeFileSync(p, 'old\n')
    const m = new AccessLogManagerImpl(60000, silent)
    m.createAccessLogFile(p).write('new\n')
    m.flush()
    assert.equal(fs.readFileSync(p, 'utf8'), 'old\nnew\n')
    m.close()
  })

  it('flushes on the flush interval', async () => {
    const w = flushWatcher()
    const m = new AccessLogManagerImpl(20, silent, { onFlush: w.onFlush })
    const p = tempPath()
    m.createAccessLogFile(p).write('tick\n')
    assert.equal(fs.readFileSync(p, 'utf8'), '')
    await w.until(5)
    assert.equal(fs.readFileSync(p, 'utf8'), 'tick\n')
    m.close()
  })

  it('flushes at once when the buffer passes 64 KiB', async () => {
    const w = flushWatcher()
    const m = new AccessLogManagerImpl(60 * 60 * 1000, silent, { onFlush: w.onFlush })
    const p = tempPath()
    const f = m.createAccessLogFile(p)
    const line = `${'x'.repeat(1023)}\n`
    const count = Math.ceil(FLUSH_THRESHOLD_BYTES / line.length)
    for (let i = 0; i < count - 1; i++) f.write(line)
    assert.equal(m.stats.flushed, 0)
    f.write(line)
    await w.until(count * line.length)
    assert.equal(fs.readFileSync(p, 'utf8'), line.repeat(count))
    m.close()
  })

  it('reopen() starts a new file after the old one was renamed', () => {
    const m = new AccessLogManagerImpl(60000, silent)
    const p = tempPath()
    const f = m.createAccessLogFile(p)
    f.write('before rotation\n')
    m.flush()
    fs.renameSync(p, `${p}.1`)
    f.write('still buffered\n')
    m.reopen()
    f.write('after rotation\n')
    m.flush()
    assert.equal(fs.readFileSync(`${p}.1`, 'utf8'), 'before rotation\n')
    assert.equal(fs.readFileSync(p, 'utf8'), 'still buffered\nafter rotation\n')
    m.close()
  })

  it('reopen() during a write waits for it before closing the file', async () => {
    const w = flushWatcher()
    const m = new AccessLogManagerImpl(60000, silent, { onFlush: w.onFlush })
    const p = tempPath()
    const f = m.createAccessLogFile(p)
    const big = `${'y'.repeat(FLUSH_THRESHOLD_BYTES)}\n`
    f.write(big) // starts an fs.write
    fs.renameSync(p, `${p}.1`)
    m.reopen()
    await w.until(big.length)
    f.write('after\n')
    m.flush()
    assert.equal(fs.readFileSync(`${p}.1`, 'utf8'), big)
    assert.equal(fs.readFileSync(p, 'utf8'), 'after\n')
    m.close()
  })

  it('keeps whole lines when two managers append to one file', async () => {
    const p = tempPath()
    const w1 = flushWatcher()
    const w2 = flushWatcher()
    const a = new AccessLogManagerImpl(5, silent, { onFlush: w1.onFlush })
    const b = new AccessLogManagerImpl(5, silent, { onFlush: w2.onFlush })
    const fa = a.createAccessLogFile(p)
    const fb = b.createAccessLogFile(p)
    const expected: string[] = []
    let bytesA = 0
    let bytesB = 0
    for (let i = 0; i < 3000; i++) {
      const lineA = `a ${i} ${'a'.repeat(i % 700)}\n`
      const lineB = `b ${i} ${'b'.repeat((i * 7) % 900)}\n`
      fa.write(lineA)
      fb.write(lineB)
      bytesA += lineA.length
      bytesB += lineB.length
      expected.push(lineA.slice(0, -1), lineB.slice(0, -1))
      if (i % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    await Promise.all([w1.until(bytesA), w2.until(bytesB)])
    const lines = fs.readFileSync(p, 'utf8').split('\n')
    assert.equal(lines.pop(), '')
    for (const line of lines) assert.match(line, /^(a \d+ a*|b \d+ b*)$/)
    assert.deepEqual(lines.sort(), expected.sort())
    a.close()
    b.close()
  })

  it('throws a config error when the file cannot be opened', () => {
    const m = new AccessLogManagerImpl(1000, silent)
    assert.throws(() => m.createAccessLogFile(path.join(dir, 'no-such-dir', 'x.log')), (err: { code?: string; message: string }) => {
      assert.equal(err.code, 'ETS_ERR_CONFIG_INVALID')
      assert.match(err.message, /unable to open access log file/)
      return true
    })
  })

  it('logs a failing write once, never throws, and drops entries past 1 MiB', { skip: !fs.existsSync('/dev/full') }, () => {
    const logged: string[] = []
    const log = pino({ level: 'info' }, { write: (s: string) => logged.push(s) })
    const m = new AccessLogManagerImpl(60000, log)
    const f = m.createAccessLogFile('/dev/full')
    f.write('lost\n')
    m.flush()
    m.flush()
    assert.ok(m.stats.writeFailed >= 2)
    assert.equal(logged.length, 1)
    assert.match(logged[0]!, /access log write failed/)
    assert.match(logged[0]!, /ENOSPC/)
    const line = `${'z'.repeat(1023)}\n`
    for (let i = 0; i < (MAX_BUFFER_BYTES / line.length) + 10; i++) f.write(line)
    m.flush()
    assert.ok(m.stats.writeDropped > 0)
    assert.equal(logged.length, 1)
    m.close()
  })

  it('writes /dev/stdout to the process\'s stdout', () => {
    const moduleUrl = new URL('../../../source/common/access-log/access-log-manager-impl.js', import.meta.url).href
    const script = `
      import pino from 'pino'
      import { AccessLogManagerImpl } from ${JSON.stringify(moduleUrl)}
      const m = new AccessLogManagerImpl(60000, pino({ level: 'silent' }))
      m.createAccessLogFile('/dev/stdout').write('to stdout\\n')
      m.createAccessLogFile('/dev/stderr').write('to stderr\\n')
      m.flush()
    `
    const cwd = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..')
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'to stdout\n')
    assert.equal(r.stderr, 'to stderr\n')
  })
})
