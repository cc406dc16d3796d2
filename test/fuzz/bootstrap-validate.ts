/**
 * The bootstrap fuzz target (Envoy's config_fuzz_test): mutated bootstraps through
 * `--mode validate`. Bases are the YAMLs under bootstrap/ and test/fuzz/corpus/bootstrap/; each
 * case drops, duplicates (by alias, too) or retypes fields, adds fields named after
 * `Object.prototype` members, puts odd scalars and deep nesting in, and sometimes splices in an
 * alias bomb, an alias cycle or a merge-key bomb. Cases 0..n-1 of every seed are the bases
 * unmodified and the known-hard inputs (bombs, cycles, deep nesting, prototype names).
 *
 * Most cases run the binary's validation entry in-process (a worker thread, terminated on a
 * hang); the first base, the first mutated case and every BINARY_EVERY-th case go through the
 * real binary.
 * Checks: the verdict is OK or a configuration error (exit 0 or 1, no signal), no internal error
 * text (TypeError, "Cannot read properties", "Maximum call stack", "is not a function", ...),
 * and an answer within the time limit.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import * as yaml from 'js-yaml'
import { BIN, ROOT } from '../integration/helpers/envoy-process.js'
import { internalErrorLine, ODD_STRINGS, PROTOTYPE_NAMES } from './lib/mutate.js'
import type { Prng } from './lib/prng.js'
import type { FuzzHarness, FuzzTarget } from './lib/runner.js'
import type { ValidateReply } from './lib/validate-worker.js'

export interface BootstrapInput {
  /** What the case is (the base file and the mutations applied). */
  what: string
  yaml: string
  via: 'binary' | 'in-process'
}

/** A validation slower than this is a hang (the issue's alias bomb ran past 15 s). */
const TIMEOUT_MS = 10_000
const BINARY_EVERY = 25

function corpus(): Array<{ name: string; text: string }> {
  const dirs = [path.join(ROOT, 'bootstrap'), path.join(ROOT, 'test/fuzz/corpus/bootstrap')]
  const out: Array<{ name: string; text: string }> = []
  for (const d of dirs) {
    if (!fs.existsSync(d)) continue
    for (const f of fs.readdirSync(d).sort()) if (/\.ya?ml$/.test(f)) out.push({ name: path.relative(ROOT, path.join(d, f)), text: fs.readFileSync(path.join(d, f), 'utf8') })
  }
  return out
}

let cachedCorpus: Array<{ name: string; text: string; tree: unknown }> | undefined
function bases(): Array<{ name: string; text: string; tree: unknown }> {
  cachedCorpus ??= corpus().map((c) => ({ ...c, tree: yaml.load(c.text, { schema: new yaml.Schema([...yaml.CORE_SCHEMA.tags, yaml.mergeTag]) }) }))
  return cachedCorpus
}

const ADMIN = 'admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }\n'

/** Billion laughs: `levels` levels of `fanout` aliases inside an access-log and_filter. */
function aliasBomb(levels: number, fanout: number): string {
  let node = '&l0 { status_code_filter: { comparison: { op: GE, value: { default_value: 400, runtime_key: k } } } }'
  for (let k = 1; k <= levels; k++) node = `&l${k} { and_filter: { filters: [${node}${`, *l${k - 1}`.repeat(fanout - 1)}] } }`
  return `${ADMIN}  access_log:\n  - name: envoy.access_loggers.stdout\n    filter: ${node}\n    typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog }\n`
}

const CYCLE = `${ADMIN}  access_log:\n  - name: envoy.access_loggers.stdout\n    filter: &c { and_filter: { filters: [*c] } }\n    typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog }\n`
const LIST_CYCLE = `static_resources:\n  clusters: &l\n  - { name: a, connect_timeout: 1s }\n  - *l\n`
const MERGE_BOMB = `a0: &a0 { x: 1, y: 2 }\n${Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} { <<: [${Array.from({ length: 10 }, () => `*a${i}`).join(', ')}] }`).join('\n')}\n${ADMIN}`
const deep = (n: number, open: string, close: string): string => `${ADMIN}node: { metadata: { x: ${open.repeat(n)}1${close.repeat(n)} } }\n`
const protoKeys = (where: string): string => PROTOTYPE_NAMES.slice(0, 12).map((n) => `${where}${JSON.stringify(n)}: {}`).join('\n')

/** The known-hard inputs every seed starts with (after the unmodified bases). */
const HARD: ReadonlyArray<{ what: string; yaml: string }> = [
  { what: 'alias bomb, 9 levels of 10 in an and_filter', yaml: aliasBomb(9, 10) },
  { what: 'alias cycle through and_filter', yaml: CYCLE },
  { what: 'a list that contains itself', yaml: LIST_CYCLE },
  { what: 'merge-key bomb, 9 levels of 10', yaml: MERGE_BOMB },
  { what: 'nesting 10000 flow lists deep', yaml: deep(10_000, '[', ']') },
  { what: 'nesting 10000 flow maps deep', yaml: deep(10_000, '{a: ', '}') },
  { what: 'prototype names as top-level fields', yaml: `${ADMIN}${protoKeys('')}\n` },
  { what: 'prototype names inside admin', yaml: `admin:\n${protoKeys('  ')}\n` },
  { what: 'prototype names as @type', yaml: `static_resources:\n  listeners:\n  - name: l\n    address: { socket_address: { address: 127.0.0.1, port_value: 1 } }\n    filter_chains: [{ filters: [{ name: constructor, typed_config: { "@type": "type.googleapis.com/constructor" } }, { name: __proto__, typed_config: { "@type": "toString" } }] }]\n` },
  { what: 'prototype names as cluster names and lb_policy', yaml: `static_resources:\n  clusters:\n  - { name: __proto__, connect_timeout: 1s, lb_policy: toString }\n  - { name: constructor, connect_timeout: 1s, type: valueOf }\n` },
  { what: 'prototype names as runtime component types', yaml: `${ADMIN}static_resources:\n  listeners:\n  - name: g\n    address: { socket_address: { address: 127.0.0.1, port_value: 1 } }\n    filter_chains:\n    - filters:\n      - name: envoy_ts.filters.network.runtime_api\n        typed_config:\n          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi\n          stat_prefix: g\n          state: { constructor: { type: constructor }, toString: { type: in-memory } }\n          secret_store: { s: { type: __proto__ } }\n` },
]

type Tree = unknown
type Container = Record<string, unknown> | unknown[]

function isContainer(v: unknown): v is Container {
  return v !== null && typeof v === 'object'
}

/** Every container in `t` with its path, depth-first (bounded). */
function containers(t: Tree, out: Array<{ node: Container; path: string }> = [], p = '', seen = new Set<unknown>()): Array<{ node: Container; path: string }> {
  if (!isContainer(t) || seen.has(t) || out.length > 2000) return out
  seen.add(t)
  out.push({ node: t, path: p })
  for (const [k, v] of Object.entries(t)) containers(v, out, `${p}.${k}`, seen)
  return out
}

/** A deep copy, or undefined for a tree too deep to copy (earlier "nest" mutations stack up). */
function clone(t: Tree): Tree | undefined {
  try {
    return structuredClone(t)
  } catch {
    return undefined
  }
}

const ODD_SCALARS: readonly unknown[] = [null, true, false, 0, -1, 1.5, -0, 1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 64, 65536, 4294967296, '', ' ', '0', '-1s', '1e9s', '999999999999s', '0.000000001s', 'NaN', '.inf', 'yes', 'on', '~', '0x10', '0o17', '1_000',
  '2592000s', '315576000001s', '*', 'type.googleapis.com/', '::', '256.256.256.256', '127.0.0.1:0', 'a'.repeat(5000), [], {}, [[]], [{}], { '': '' }, ...ODD_STRINGS]

function oddValue(rng: Prng): unknown {
  if (rng.chance(0.15)) return rng.pick(PROTOTYPE_NAMES)
  // A copy: later mutations of the tree (a cycle through it) must not change the shared list.
  const v = rng.pick(ODD_SCALARS)
  return typeof v === 'object' && v !== null ? structuredClone(v) : v
}

/** Applies one structural mutation to `tree` in place; returns its description. */
function mutateTree(rng: Prng, tree: Tree): string {
  const all = containers(tree)
  if (all.length === 0) return 'nothing to mutate'
  const { node, path: p } = rng.pick(all)
  const keys = Array.isArray(node) ? node.map((_, i) => String(i)) : Object.keys(node)
  const set = (k: string, v: unknown): void => {
    if (Array.isArray(node)) node[Number(k)] = v
    else Object.defineProperty(node, k, { value: v, enumerable: true, writable: true, configurable: true })
  }
  const get = (k: string): unknown => (node as Record<string, unknown>)[k]
  switch (rng.int(8)) {
    case 0: {
      if (keys.length === 0) return 'skip'
      const k = rng.pick(keys)
      if (Array.isArray(node)) node.splice(Number(k), 1)
      else delete node[k]
      return `drop ${p}.${k}`
    }
    case 1: {
      if (keys.length === 0) return 'skip'
      const k = rng.pick(keys)
      const v = get(k)
      // By reference: the dump writes an anchor and an alias.
      if (Array.isArray(node)) node.push(v)
      else set(`${k}${rng.pick(['', '_', 's'])}`, v)
      if (Array.isArray(node) && rng.chance(0.3)) for (let i = 0; i < 8; i++) node.push(v)
      return `duplicate ${p}.${k}`
    }
    case 2: {
      if (keys.length === 0) return 'skip'
      const k = rng.pick(keys)
      const v = oddValue(rng)
      set(k, v)
      return `retype ${p}.${k} = ${JSON.stringify(v)?.slice(0, 40)}`
    }
    case 3: {
      const k = Array.isArray(node) ? String(node.length) : rng.pick(PROTOTYPE_NAMES)
      set(k, rng.chance(0.5) ? oddValue(rng) : clone(rng.pick(all).node) ?? {})
      return `add ${p}.${k}`
    }
    case 4: {
      if (keys.length === 0) return 'skip'
      const k = rng.pick(keys)
      let v: unknown = get(k)
      const depth = rng.pick([10, 100, 1000])
      for (let i = 0; i < depth; i++) v = rng.chance(0.5) ? [v] : { [k]: v }
      set(k, v)
      return `nest ${p}.${k} ${depth} deep`
    }
    case 5: {
      // A subtree moved to another place: right shape, wrong field.
      if (keys.length === 0) return 'skip'
      const k = rng.pick(keys)
      const other = rng.pick(all)
      if (!Array.isArray(other.node) && Object.keys(other.node).length > 0) {
        const ok = rng.pick(Object.keys(other.node))
        set(k, other.node[ok])
        return `${p}.${k} = ${other.path}.${ok}`
      }
      return 'skip'
    }
    case 6: {
      if (keys.length === 0 || Array.isArray(node)) return 'skip'
      const k = rng.pick(keys)
      const v = get(k)
      delete node[k]
      const nk = rng.pick([`${k}x`, k.toUpperCase(), k.replace(/_/g, ''), `${k} `, `@${k}`, k.slice(1)])
      set(nk, v)
      return `rename ${p}.${k} -> ${nk}`
    }
    default: {
      // A self-reference: the dump writes an alias cycle.
      if (keys.length === 0) return 'skip'
      const k = rng.pick(keys)
      set(k, Array.isArray(node) ? [node] : { [k]: node })
      return `cycle at ${p}.${k}`
    }
  }
}

/** Text-level mutations on the dumped YAML. */
function mutateText(rng: Prng, text: string): { text: string; what: string } {
  const lines = text.split('\n')
  switch (rng.int(5)) {
    case 0: {
      const i = rng.int(lines.length)
      lines.splice(i, 0, lines[i]!)
      return { text: lines.join('\n'), what: `duplicate line ${i + 1}` }
    }
    case 1: {
      const at = rng.int(text.length)
      return { text: text.slice(0, at), what: `truncate at ${at}` }
    }
    case 2: {
      const at = rng.int(text.length)
      const ins = rng.pick(['&a ', '*a', '*nope', '<<: *a\n', '!!binary AAAA', '!!js/function x', '!custom ', '? ', '- ', '\t', '\0', '{', ']', '"', "'", '|', '>', '%YAML 1.1\n', '---\n', '...\n', '\ufeff', '#'])
      return { text: text.slice(0, at) + ins + text.slice(at), what: `insert ${JSON.stringify(ins)} at ${at}` }
    }
    case 3: return { text: `${text}\n${rng.pick(['---\nadmin: {}\n', 'x: &x [*x]\n', `bomb: ${aliasBomb(4, 6).replace(/\n/g, ' ')}\n`])}`, what: 'append a document' }
    default: {
      const i = rng.int(lines.length)
      lines[i] = `${lines[i]} ${rng.pick(['#', '&anchor', '!!str', ': x', '- y', '*ref_0', '!!int'])}`
      return { text: lines.join('\n'), what: `decorate line ${i + 1}` }
    }
  }
}

function generate(rng: Prng, index: number): BootstrapInput {
  const all = bases()
  // The first base through the binary, the others in-process (a binary run costs about 1 s).
  if (index < all.length) return { what: `${all[index]!.name} unmodified`, yaml: all[index]!.text, via: index === 0 ? 'binary' : 'in-process' }
  if (index < all.length + HARD.length) return { ...HARD[index - all.length]!, via: 'in-process' }
  const base = rng.pick(all)
  const tree = clone(base.tree) ?? {}
  const what: string[] = [base.name]
  const n = rng.range(1, 4)
  for (let i = 0; i < n; i++) what.push(mutateTree(rng, tree))
  let text: string
  try {
    text = yaml.dump(tree, { noRefs: false, lineWidth: -1, flowLevel: rng.chance(0.3) ? rng.range(1, 6) : -1 })
  } catch (err) {
    text = base.text
    what.push(`(dump failed: ${(err as Error).message.slice(0, 60)})`)
  }
  if (rng.chance(0.25)) {
    const m = mutateText(rng, text)
    text = m.text
    what.push(m.what)
  }
  return { what: what.filter((w) => w !== 'skip').join('; '), yaml: text, via: index % BINARY_EVERY === 0 || index === all.length + HARD.length ? 'binary' : 'in-process' }
}

/** Runs the real binary's `--mode validate`; a failure description or undefined. */
function viaBinary(text: string): Promise<string | undefined> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-fuzz-bin-'))
  const file = path.join(dir, 'bootstrap.yaml')
  fs.writeFileSync(file, text)
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '--mode', 'validate', '-c', file, '--log-level', 'error'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
    let hung = false
    const timer = setTimeout(() => { hung = true; child.kill('SIGKILL') }, TIMEOUT_MS)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      fs.rmSync(dir, { recursive: true, force: true })
      if (hung) return resolve(`--mode validate did not finish within ${TIMEOUT_MS} ms`)
      if (signal !== null || (code !== 0 && code !== 1)) return resolve(`--mode validate ended with code ${code} signal ${signal}: ${out.slice(-300)}`)
      const internal = internalErrorLine(out)
      if (internal !== undefined) return resolve(`internal error text from --mode validate (exit ${code}): ${internal}`)
      resolve(undefined)
    })
  })
}

/** The in-process validator: one worker thread, replaced after a hang. */
class InProcess {
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-ts-fuzz-validate-'))
  private worker: Worker | undefined
  private next = 1
  private pending: { id: number; worker: Worker; resolve: (r: ValidateReply | string) => void } | undefined

  private spawn(): Worker {
    const w = new Worker(new URL('./lib/validate-worker.js', import.meta.url), { workerData: { dir: this.dir }, stdout: true, stderr: true, resourceLimits: { maxOldGenerationSizeMb: 1024 } })
    w.stdout.resume()
    w.stderr.resume()
    // Only the pending case of this very thread: a terminated one still reports its exit.
    const settle = (r: ValidateReply | string): void => {
      if (this.pending?.worker !== w) return
      const p = this.pending
      this.pending = undefined
      p.resolve(r)
    }
    w.on('message', (r: ValidateReply) => { if (this.pending?.id === r.id) settle(r) })
    w.on('error', (err) => {
      settle(`the validator thread failed: ${err.stack ?? err.message}`)
      if (this.worker === w) this.worker = undefined
    })
    w.on('exit', (code) => {
      settle(`the validator thread exited (code ${code})`)
      if (this.worker === w) this.worker = undefined
    })
    return w
  }

  async validate(text: string): Promise<string | undefined> {
    this.worker ??= this.spawn()
    const w = this.worker
    const id = this.next++
    let timer: NodeJS.Timeout | undefined
    const reply = await new Promise<ValidateReply | string>((resolve) => {
      this.pending = { id, worker: w, resolve }
      timer = setTimeout(() => {
        this.pending = undefined
        this.worker = undefined
        void w.terminate()
        resolve(`validation did not finish within ${TIMEOUT_MS} ms`)
      }, TIMEOUT_MS)
      w.postMessage({ id, yaml: text })
    })
    clearTimeout(timer)
    if (typeof reply === 'string') return reply
    if (reply.ok) return undefined
    const text2 = reply.lines.join('\n')
    const internal = internalErrorLine(text2)
    if (internal !== undefined) return `internal error text from validation: ${internal}`
    if (reply.code === undefined && reply.errorName !== undefined && reply.errorName !== 'Error' && reply.errorName !== 'ConfigError' && reply.errorName !== 'YAMLException') {
      return `validation threw a ${reply.errorName} without an error code: ${text2.slice(0, 300)}`
    }
    return undefined
  }

  async stop(): Promise<void> {
    await this.worker?.terminate()
    this.worker = undefined
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

async function start(): Promise<FuzzHarness<BootstrapInput>> {
  const inProcess = new InProcess()
  return {
    run: (input) => (input.via === 'binary' ? viaBinary(input.yaml) : inProcess.validate(input.yaml)),
    check: async () => undefined,
    broken: () => false,
    peakRssBytes: () => undefined,
    stop: () => inProcess.stop(),
  }
}

export const bootstrapValidateTarget: FuzzTarget<BootstrapInput> = {
  name: 'bootstrap-validate',
  about: 'mutated bootstrap YAMLs (bootstrap/, test/fuzz/corpus/) through --mode validate, in-process and through the binary',
  generate,
  start,
}
