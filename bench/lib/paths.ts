import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package root. This file runs from dist/bench/lib/. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** The compiled bench tree (dist/bench/), where child-process scripts and the load worker live. */
export const BENCH_DIST = fileURLToPath(new URL('../', import.meta.url))

/** A compiled bench script, e.g. `benchScript('upstream/tcp-upstream.js')`. */
export function benchScript(rel: string): string {
  return path.join(BENCH_DIST, rel)
}

/** The envoy-ts command. */
export const ENVOY_TS_BIN = path.join(ROOT, 'bin/envoy-ts.js')

/** Default parent of result directories (gitignored). */
export const RESULTS_DIR = path.join(ROOT, 'bench/results')
