// A bounded, seeded slice of the HTTP/1 codec fuzzer (test/fuzz/http1-codec.ts); run it long with
// `npm run fuzz -- --target http1-codec --seconds N`.
import { describe, it } from 'node:test'
import { http1CodecTarget } from './http1-codec.js'
import { runSlice } from './lib/slice.js'

describe('fuzz: HTTP/1 codec through the HCM of the real binary (seeded slice)', () => {
  it('mutated requests get well-formed answers; the proxy stays up, no worker restarts, RSS bounded', async () => {
    await runSlice(http1CodecTarget, { cases: 250, seconds: 8 })
  })
})
