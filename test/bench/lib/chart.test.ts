import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chartSvg } from '../../../bench/lib/chart.js'
import { machineInfo } from '../../../bench/lib/machine.js'
import { defaultOptions } from '../../../bench/lib/options.js'
import type { BenchReport, RoundResult } from '../../../bench/lib/report.js'

const round = (rate: number, p99Us: number): RoundResult => ({
  round: 1, ops: rate, rate, bytesRate: 0, windowMs: 1000, connected: 1, loadGen: 'own', errors: {}, errorCount: 0,
  latency: { count: rate, meanUs: 1, p50Us: 1, p90Us: 1, p99Us, p999Us: p99Us, maxUs: p99Us },
})

describe('bench: chart', () => {
  it('draws a bar of requests/s and of p99 per target, and names the skipped ones', () => {
    const report: BenchReport = {
      version: 2, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z', elapsedMs: 60_000, announcedLimitMs: 90_000, expectedMs: 60_000,
      machine: machineInfo(), options: defaultOptions(), loadThreads: 1, pin: { enabled: false, note: 'off' }, processes: [], skipped: [], notes: [],
      cases: [{
        scenario: 'http-small', case: 'small', title: 'http-small <&>', kind: 'rate', unit: 'rq/s', showBytes: true, latency: true, mode: 'timed', roundMs: 1000, notApplicable: [],
        results: [
          { target: 'direct', kind: 'baseline', rounds: [], median: round(100_000, 500) },
          { target: 'envoy-ts', kind: 'proxy', rounds: [], median: round(30_000, 2000) },
          { target: 'nginx', kind: 'proxy', rounds: [], skipped: 'not installed' },
        ],
      }],
      targetLines: [], figureLines: [], profiles: [], profileSummaries: [],
    }
    const svg = chartSvg(report)
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    assert.match(svg, /<\/svg>\n$/)
    assert.match(svg, /http-small &lt;&amp;&gt;/)
    assert.equal((svg.match(/<rect /g) ?? []).length, 1 + 2 * 2, 'background + 2 bars for each measured target')
    assert.match(svg, />100,000</)
    assert.match(svg, />2.00</)
    assert.match(svg, /skipped: nginx/)
  })
})
