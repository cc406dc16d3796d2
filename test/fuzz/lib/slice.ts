/**
 * The bounded, seeded slice of a fuzz target that `npm test` runs: a fixed seed (FUZZ_SEED in
 * the environment overrides it), a case and time budget, replay files under fuzz-out/, and an
 * assertion that lists each failure with its seed, case number and replay command.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { ROOT } from '../../integration/helpers/envoy-process.js'
import { type FuzzTarget, runTarget } from './runner.js'

export const SLICE_SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 20261208

export async function runSlice<I>(target: FuzzTarget<I>, budget: { cases: number; seconds: number }): Promise<void> {
  const r = await runTarget(target, { seed: SLICE_SEED, maxCases: budget.cases, seconds: budget.seconds, outDir: path.join(ROOT, 'fuzz-out'), maxFailures: 3 })
  const report = r.failures.map((f) => `seed ${r.seed} case ${f.case}${f.repeats > 0 ? ` (+${f.repeats} like it)` : ''}: ${f.message.split('\n')[0]!.slice(0, 400)}\n    replay: npm run fuzz -- --replay ${path.relative(ROOT, f.replayFile)}`)
  assert.equal(report.length, 0, `${target.name}: ${r.cases} cases, ${report.length} failure(s):\n  ${report.join('\n  ')}`)
  assert.ok(r.cases > 0, `${target.name}: no case ran`)
}
