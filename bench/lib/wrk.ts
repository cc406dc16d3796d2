// `--load wrk`: the HTTP cases driven by wrk (C, epoll) instead of the bench's own Node load
// generator, so that the generator's own cost can be checked. wrk prints its usual report
// (`--latency` adds the latency distribution), which is parsed; a small Lua script sets the
// request (method, headers, body) and, in `done`, prints the exact counts and p99.9 as JSON.
import type { WrkRequest } from '../scenarios/types.js'

export interface WrkOutput {
  requestsPerSec: number
  /** Bytes read per second (wrk's Transfer/sec). */
  transferPerSec: number
  /** µs, from the `--latency` distribution. */
  latency: { p50: number; p75: number; p90: number; p99: number }
  requests: number
  durationSec: number
  errors: Record<string, number>
  /** From the script's `done`: exact counts and p99.9 (µs). */
  exact?: {
    requests: number
    durationUs: number
    bytes: number
    p50: number
    p90: number
    p99: number
    p999: number
    max: number
    mean: number
    errors: { connect: number; read: number; write: number; status: number; timeout: number }
  }
}

const luaString = (s: string): string => JSON.stringify(s)

/** The Lua script: request shape, and a JSON line with exact counts when wrk is done. */
export function wrkScript(req: WrkRequest): string {
  const lines = [`wrk.method = ${luaString(req.method)}`]
  for (const [k, v] of Object.entries(req.headers)) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`)
  if (req.close) lines.push('wrk.headers["Connection"] = "close"')
  // wrk.format adds Content-Length for a body.
  if (req.bodySize !== undefined && req.bodySize > 0) lines.push(`wrk.body = string.rep("b", ${req.bodySize})`)
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK_JSON {"requests":%.0f,"durationUs":%.0f,"bytes":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f,"max":%.0f,"mean":%.1f,' +
      '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}}\\n\',',
    '    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90), latency:percentile(99),',
    '    latency:percentile(99.9), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))',
    'end',
  )
  return `${lines.join('\n')}\n`
}

const TIME_UNITS: Record<string, number> = { us: 1, ms: 1000, s: 1e6, m: 60e6, h: 3600e6 }
// wrk's byte units are binary.
const BYTE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }

function timeUs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(v.trim())
  if (m === null) throw new Error(`wrk: cannot read the time "${v}"`)
  return Number(m[1]) * TIME_UNITS[m[2]!]!
}

function bytes(v: string): number {
  const m = /^([\d.]+)(B|KB|MB|GB|TB)?$/.exec(v.trim())
  if (m === null) throw new Error(`wrk: cannot read the size "${v}"`)
  return Number(m[1]) * BYTE_UNITS[m[2] ?? 'B']!
}

/** Parses wrk's report (run with `--latency`); throws when it is not one. */
export function parseWrkOutput(out: string): WrkOutput {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out)
  const tps = /^Transfer\/sec:\s+(\S+)/m.exec(out)
  if (rps === null || tps === null) throw new Error(`wrk: no "Requests/sec" / "Transfer/sec" in its output:\n${out.slice(-1500)}`)
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)
    if (m === null) throw new Error(`wrk: no ${p}% line in the latency distribution (run with --latency)`)
    return timeUs(m[1]!)
  }
  const total = /^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h)/m.exec(out)
  const errors: Record<string, number> = {}
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  if (sock !== null) {
    const [, c, r, w, t] = sock
    if (Number(c) > 0) errors['connect'] = Number(c)
    if (Number(r) > 0) errors['read'] = Number(r)
    if (Number(w) > 0) errors['write'] = Number(w)
    if (Number(t) > 0) errors['timeout'] = Number(t)
  }
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  if (non2xx !== null) errors['non-2xx'] = Number(non2xx[1])
  const result: WrkOutput = {
    requestsPerSec: Number(rps[1]),
    transferPerSec: bytes(tps[1]!),
    latency: { p50: pct('50'), p75: pct('75'), p90: pct('90'), p99: pct('99') },
    requests: total !== null ? Number(total[1]) : 0,
    durationSec: total !== null ? timeUs(`${total[2]}${total[3]}`) / 1e6 : 0,
    errors,
  }
  const json = /^WRK_JSON (.+)$/m.exec(out)
  if (json !== null) result.exact = JSON.parse(json[1]!) as WrkOutput['exact']
  return result
}
