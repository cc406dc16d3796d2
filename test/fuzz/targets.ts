/**
 * Every fuzz target, in the order `npm run fuzz` runs them.
 *
 * HTTP/2: when an HTTP/2 codec exists, its frame mutator goes here as `http2-frame` (Envoy's
 * h2 codec_impl_fuzz_test): mutated frame sequences (SETTINGS, HEADERS with HPACK, CONTINUATION,
 * DATA, WINDOW_UPDATE, RST_STREAM, PING, GOAWAY, PRIORITY) over a prior-knowledge connection,
 * checking the process stays alive and every answer is a well-formed frame sequence or GOAWAY.
 */
import { bootstrapValidateTarget } from './bootstrap-validate.js'
import { http1CodecTarget } from './http1-codec.js'
import type { FuzzTarget } from './lib/runner.js'
import { runtimeApiTarget } from './runtime-api.js'

export const TARGETS: ReadonlyArray<FuzzTarget<never>> = [
  http1CodecTarget as FuzzTarget<never>,
  runtimeApiTarget as FuzzTarget<never>,
  bootstrapValidateTarget as FuzzTarget<never>,
]
