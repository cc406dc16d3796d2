import assert from 'node:assert/strict'
import os from 'node:os'
import { describe, it } from 'node:test'
import { parseCommandLine, usage } from '../../source/server/options-impl.js'
import type { Options } from '../../source/envoy/server/options.js'

function run(args: string[]): Options {
  const r = parseCommandLine(args)
  assert.equal(r.kind, 'run')
  return (r as { options: Options }).options
}

function fails(args: string[], pattern: RegExp): void {
  assert.throws(() => parseCommandLine(args), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ETS_ERR_OPTIONS_INVALID')
    assert.match(err.message, pattern)
    return true
  })
}

describe('parseCommandLine', () => {
  it('applies Envoy defaults', () => {
    const o = run(['-c', 'x.yaml'])
    assert.equal(o.configPath, 'x.yaml')
    assert.equal(o.mode, 'serve')
    assert.equal(o.concurrency, Math.max(1, os.availableParallelism()))
    assert.equal(o.logLevel, 'info')
    assert.equal(o.logFormat, 'json')
    assert.equal(o.drainTimeS, 600)
    assert.equal(o.drainStrategy, 'gradual')
    assert.equal(o.parentShutdownTimeS, 900)
    assert.equal(o.fileFlushIntervalMsec, 10000)
    assert.equal(o.allowUnknownStaticFields, false)
  })

  it('reads every option in long, short and --name=value forms', () => {
    const o = run([
      '--config-path=a.yaml', '--config-yaml', 'admin: {}', '--mode', 'validate', '--concurrency', '4',
      '-l', 'debug', '--component-log-level', 'upstream:trace,admin:warning', '--log-path', '/tmp/x.log',
      '--log-format', 'text', '--drain-time-s', '5', '--drain-strategy', 'immediate', '--parent-shutdown-time-s', '9',
      '--service-node', 'n1', '--service-cluster', 'c1', '--service-zone', 'z1', '--admin-address-path', '/tmp/a',
      '--file-flush-interval-msec', '250', '--allow-unknown-static-fields',
    ])
    assert.equal(o.configPath, 'a.yaml')
    assert.equal(o.configYaml, 'admin: {}')
    assert.equal(o.mode, 'validate')
    assert.equal(o.concurrency, 4)
    assert.equal(o.logLevel, 'debug')
    assert.deepEqual(o.componentLogLevels, { upstream: 'trace', admin: 'warning' })
    assert.equal(o.logPath, '/tmp/x.log')
    assert.equal(o.logFormat, 'text')
    assert.equal(o.drainTimeS, 5)
    assert.equal(o.drainStrategy, 'immediate')
    assert.equal(o.parentShutdownTimeS, 9)
    assert.equal(o.serviceNode, 'n1')
    assert.equal(o.serviceCluster, 'c1')
    assert.equal(o.serviceZone, 'z1')
    assert.equal(o.adminAddressPath, '/tmp/a')
    assert.equal(o.fileFlushIntervalMsec, 250)
    assert.equal(o.allowUnknownStaticFields, true)
    assert.equal(run(['-cfile.yaml']).configPath, 'file.yaml')
  })

  it('treats --concurrency 0 as 1, as Envoy does', () => {
    assert.equal(run(['-c', 'x', '--concurrency', '0']).concurrency, 1)
  })

  it('accepts every Envoy level name', () => {
    for (const l of ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'critical', 'off']) {
      assert.equal(run(['-c', 'x', '-l', l]).logLevel, l)
    }
  })

  it('answers --help and --version without a config', () => {
    assert.deepEqual(parseCommandLine(['--help']), { kind: 'help' })
    assert.deepEqual(parseCommandLine(['-h']), { kind: 'help' })
    assert.deepEqual(parseCommandLine(['--version']), { kind: 'version' })
    assert.match(usage(), /--config-path/)
    assert.match(usage(), /--component-log-level/)
  })

  it('rejects bad options and values with a clear reason', () => {
    fails(['--nope'], /unknown option "--nope"/)
    fails(['-x'], /unknown option "-x"/)
    fails(['-c'], /--config-path needs a value/)
    fails([], /a bootstrap is required/)
    fails(['-c', 'x', '--mode', 'run'], /--mode: expected serve, validate or init_only/)
    fails(['-c', 'x', '--concurrency', '-1'], /--concurrency: expected a non-negative integer/)
    fails(['-c', 'x', '--concurrency', 'two'], /--concurrency/)
    fails(['-c', 'x', '-l', 'loud'], /unknown log level "loud"/)
    fails(['-c', 'x', '--component-log-level', 'upstream'], /component:level/)
    fails(['-c', 'x', '--component-log-level', 'nosuch:debug'], /unknown component "nosuch"/)
    fails(['-c', 'x', '--log-format', 'xml'], /--log-format: expected json or text/)
    fails(['-c', 'x', '--drain-strategy', 'slow'], /--drain-strategy/)
    fails(['-c', 'x', '--drain-time-s', '1.5'], /--drain-time-s/)
    fails(['-c', 'x', '--allow-unknown-static-fields=yes'], /takes no value/)
    fails(['-c', 'x', 'extra'], /unexpected argument "extra"/)
  })
})
