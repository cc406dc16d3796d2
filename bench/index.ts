#!/usr/bin/env node
// The benchmark harness entry: `npm run bench -- [options]` (see --help and bench/README.md).
import { killAllSync, stopAll } from './lib/child.js'
import { helpText, parseBenchArgs, UsageError } from './lib/options.js'
import { textReport } from './lib/report.js'
import { runBench } from './lib/runner.js'

export { runBench } from './lib/runner.js'
export type { BenchReport } from './lib/report.js'

class Interrupted extends Error {}

async function main(argv: readonly string[]): Promise<number> {
  let parsed
  try {
    parsed = parseBenchArgs(argv)
  } catch (err) {
    if ((err as { code?: string }).code === 'BENCH_USAGE') {
      process.stderr.write(`bench: ${(err as Error).message}\n`)
      return 2
    }
    throw err
  }
  if (parsed.kind === 'help') {
    process.stdout.write(helpText())
    return 0
  }
  // Ctrl-C: abort the run, which stops the children and removes its temp files; a second one
  // leaves at once (the exit hook kills anything still running).
  const interrupt = new AbortController()
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) {
      void stopAll(500).finally(() => process.exit(130))
      return
    }
    process.stderr.write(`\nbench: ${sig}, stopping everything it started\n`)
    interrupt.abort(new Interrupted(sig))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', killAllSync)

  const log = (l: string): void => { process.stdout.write(`${l}\n`) }
  try {
    const report = await runBench({ options: parsed.options, log, signal: interrupt.signal })
    log(textReport(report))
    log('')
    if (report.outDir !== undefined) log(`results: ${report.outDir}/results.{json,md}, chart: ${report.outDir}/chart.svg`)
    for (const p of report.profiles) log(`profile: ${p}`)
    log(`run time ${(report.elapsedMs / 1000).toFixed(1)} s (limit ${Math.round(report.announcedLimitMs / 1000)} s)`)
    return report.truncated !== undefined ? 3 : 0
  } catch (err) {
    if (interrupt.signal.aborted) return 130
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n`)
      return 2
    }
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
