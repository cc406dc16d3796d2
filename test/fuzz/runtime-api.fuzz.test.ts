// A bounded, seeded slice of the runtime API fuzzer (test/fuzz/runtime-api.ts): every
// Object.prototype member name through each API and operation first, then random names.
import { describe, it } from 'node:test'
import { runSlice } from './lib/slice.js'
import { runtimeApiTarget } from './runtime-api.js'

describe('fuzz: runtime API names and keys over Dapr gRPC, Layotto gRPC and Dapr HTTP (seeded slice)', () => {
  it('every answer is a gRPC status or a well-formed HTTP response; the proxy stays up', async () => {
    await runSlice(runtimeApiTarget, { cases: 600, seconds: 15 })
  })
})
