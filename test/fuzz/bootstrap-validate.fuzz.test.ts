// A bounded, seeded slice of the bootstrap fuzzer (test/fuzz/bootstrap-validate.ts): the bases,
// the known-hard inputs (alias bombs and cycles, deep nesting, prototype names), then mutations.
import { describe, it } from 'node:test'
import { bootstrapValidateTarget } from './bootstrap-validate.js'
import { runSlice } from './lib/slice.js'

describe('fuzz: mutated bootstraps through --mode validate (seeded slice)', () => {
  it('OK or a configuration error, never an internal error or a hang', async () => {
    await runSlice(bootstrapValidateTarget, { cases: 60, seconds: 20 })
  })
})
