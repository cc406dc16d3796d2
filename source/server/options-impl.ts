import os from 'node:os'
import { ErrorCode } from '../common/errors/codes.js'
import { OptionsError } from '../common/errors/envoy-ts-error.js'
import { LOGGER_IDS, toPinoLevel } from '../common/logger/levels.js'
import type { DrainStrategy, Mode, Options } from '../envoy/server/options.js'

/** What parsing the command line asks of `main`: run, or print and exit. */
export type ParsedCommandLine =
  | { kind: 'run'; options: Options }
  | { kind: 'version' }
  | { kind: 'help' }

interface OptionSpec {
  long: string
  short?: string
  arg?: string
  help: string
  flag?: boolean
}

const SPECS: readonly OptionSpec[] = [
  { long: 'config-path', short: 'c', arg: 'path', help: 'Path to the bootstrap file (.yaml, .yml or .json)' },
  { long: 'config-yaml', arg: 'yaml', help: 'Bootstrap YAML merged over the file given with -c' },
  { long: 'mode', arg: 'serve|validate|init_only', help: 'serve (default); validate: check the config and print OK or the errors; init_only: initialize then exit' },
  { long: 'concurrency', arg: 'n', help: 'Worker threads (default: available parallelism; 0 means 1)' },
  { long: 'log-level', short: 'l', arg: 'level', help: 'trace, debug, info, warning/warn, error, critical, off (default info)' },
  { long: 'component-log-level', arg: 'a:lvl,b:lvl', help: `Per-component levels; components: ${LOGGER_IDS.join(', ')}` },
  { long: 'log-path', arg: 'path', help: 'Append logs to this file instead of stderr (reopened on SIGUSR1)' },
  { long: 'log-format', arg: 'json|text', help: 'Log line format (default json)' },
  { long: 'drain-time-s', arg: 's', help: 'How long open connections may finish during a drain (default 600)' },
  { long: 'drain-strategy', arg: 'gradual|immediate', help: 'How connections are asked to close while draining (default gradual)' },
  { long: 'parent-shutdown-time-s', arg: 's', help: 'Hard limit on a graceful shutdown, after which the process exits (default 900)' },
  { long: 'service-node', arg: 'id', help: 'Sets node.id' },
  { long: 'service-cluster', arg: 'name', help: 'Sets node.cluster' },
  { long: 'service-zone', arg: 'zone', help: 'Sets node.locality.zone' },
  { long: 'admin-address-path', arg: 'path', help: 'Write the admin address to this file once bound' },
  { long: 'file-flush-interval-msec', arg: 'ms', help: 'Access log flush interval (default 10000)' },
  { long: 'allow-unknown-static-fields', flag: true, help: 'Ignore unknown bootstrap fields (counted in server.static_unknown_fields)' },
  { long: 'version', flag: true, help: 'Print the version and exit' },
  { long: 'help', short: 'h', flag: true, help: 'Print this help and exit' },
]

export function usage(): string {
  const lines = ['Usage: envoy-ts -c <bootstrap.yaml> [options]', '', 'Options:']
  for (const s of SPECS) {
    const names = `${s.short !== undefined ? `-${s.short}, ` : '    '}--${s.long}${s.arg !== undefined ? ` <${s.arg}>` : ''}`
    lines.push(`  ${names.padEnd(46)} ${s.help}`)
  }
  return `${lines.join('\n')}\n`
}

function fail(message: string): never {
  throw new OptionsError(ErrorCode.OPTIONS_INVALID, message)
}

function nonNegativeInt(name: string, v: string): number {
  if (!/^\d+$/.test(v)) fail(`--${name}: expected a non-negative integer, got "${v}"`)
  return Number(v)
}

function checkLevel(where: string, level: string): string {
  if (toPinoLevel(level) === undefined) {
    fail(`${where}: unknown log level "${level}" (trace, debug, info, warning, warn, error, critical, off)`)
  }
  return level
}

function parseComponentLevels(v: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of v.split(',')) {
    const [name, level, ...rest] = part.split(':')
    if (name === undefined || name === '' || level === undefined || rest.length > 0) {
      fail(`--component-log-level: expected component:level pairs separated by commas, got "${part}"`)
    }
    if (!(LOGGER_IDS as readonly string[]).includes(name)) {
      fail(`--component-log-level: unknown component "${name}" (known: ${LOGGER_IDS.join(', ')})`)
    }
    out[name] = checkLevel('--component-log-level', level)
  }
  return out
}

/** Parses argv (without node and the script). Throws OptionsError on anything wrong. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const given = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    let spec: OptionSpec | undefined
    let value: string | undefined
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2)
      if (eq >= 0) value = arg.slice(eq + 1)
      spec = SPECS.find((s) => s.long === name)
      if (spec === undefined) fail(`unknown option "--${name}"`)
    } else if (arg.startsWith('-') && arg.length > 1) {
      spec = SPECS.find((s) => s.short === arg.slice(1, 2))
      if (spec === undefined) fail(`unknown option "${arg}"`)
      if (arg.length > 2) value = arg.slice(2)
    } else {
      fail(`unexpected argument "${arg}"`)
    }
    if (spec.flag === true) {
      if (value !== undefined) fail(`--${spec.long} takes no value`)
      given.set(spec.long, true)
      continue
    }
    if (value === undefined) {
      value = argv[++i]
      if (value === undefined) fail(`--${spec.long} needs a value (<${spec.arg ?? 'value'}>)`)
    }
    given.set(spec.long, value)
  }
  if (given.has('help')) return { kind: 'help' }
  if (given.has('version')) return { kind: 'version' }

  const str = (k: string): string | undefined => {
    const v = given.get(k)
    return typeof v === 'string' ? v : undefined
  }
  const mode = str('mode') ?? 'serve'
  if (mode !== 'serve' && mode !== 'validate' && mode !== 'init_only') fail(`--mode: expected serve, validate or init_only, got "${mode}"`)
  const logFormat = str('log-format') ?? 'json'
  if (logFormat !== 'json' && logFormat !== 'text') fail(`--log-format: expected json or text, got "${logFormat}"`)
  const drainStrategy = str('drain-strategy') ?? 'gradual'
  if (drainStrategy !== 'gradual' && drainStrategy !== 'immediate') fail(`--drain-strategy: expected gradual or immediate, got "${drainStrategy}"`)
  const configPath = str('config-path')
  const configYaml = str('config-yaml')
  if (configPath === undefined && configYaml === undefined) {
    fail('a bootstrap is required: give -c/--config-path <file> or --config-yaml <yaml>')
  }
  const concurrencyArg = str('concurrency')
  const concurrency = concurrencyArg === undefined
    ? Math.max(1, os.availableParallelism())
    : Math.max(1, nonNegativeInt('concurrency', concurrencyArg))

  const raw: Record<string, unknown> = {}
  for (const [k, v] of given) raw[k] = v
  const options: Options = {
    configPath,
    configYaml,
    mode: mode as Mode,
    concurrency,
    logLevel: checkLevel('--log-level', str('log-level') ?? 'info'),
    componentLogLevels: str('component-log-level') === undefined ? {} : parseComponentLevels(str('component-log-level')!),
    logPath: str('log-path'),
    logFormat,
    drainTimeS: nonNegativeInt('drain-time-s', str('drain-time-s') ?? '600'),
    drainStrategy: drainStrategy as DrainStrategy,
    parentShutdownTimeS: nonNegativeInt('parent-shutdown-time-s', str('parent-shutdown-time-s') ?? '900'),
    serviceNode: str('service-node'),
    serviceCluster: str('service-cluster'),
    serviceZone: str('service-zone'),
    adminAddressPath: str('admin-address-path'),
    fileFlushIntervalMsec: nonNegativeInt('file-flush-interval-msec', str('file-flush-interval-msec') ?? '10000'),
    allowUnknownStaticFields: given.has('allow-unknown-static-fields'),
    raw,
  }
  return { kind: 'run', options }
}
