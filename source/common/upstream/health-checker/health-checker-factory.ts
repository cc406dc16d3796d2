/**
 * Config checks for `health_checks` and the factory for the checker types envoy-ts runs (HTTP/1.1
 * and TCP). The schema already rejects gRPC and custom checkers, TLS options and event sinks.
 */
import net from 'node:net'
import type { Cluster } from '../../protobuf/generated/envoy/config/cluster/v3.js'
import type { HealthCheck } from '../../protobuf/generated/envoy/config/core/v3.js'
import type { HealthCheckerContext, HealthCheckerImplBase } from './health-checker-base.js'
import { HttpHealthCheckerImpl } from './http-health-checker.js'
import { loadPayloadBytes } from './payload.js'
import { TcpHealthCheckerImpl } from './tcp-health-checker.js'

/** A header value with a substitution operator (`%UPSTREAM_REMOTE_ADDRESS%`); `%%` is a literal `%`. */
const FORMAT_OPERATOR = /%[A-Z_]+(?:\(|%)/

function checkRanges(ranges: ReadonlyArray<{ start: number; end: number }>, kind: string, path: string, errors: string[]): void {
  ranges.forEach((r, i) => {
    const p = `${path}[${i}]`
    if (r.start >= r.end) errors.push(`${p}: Invalid http ${kind} status range: expecting start < end, but found start=${r.start} and end=${r.end}`)
    else if (r.start < 100) errors.push(`${p}: Invalid http ${kind} status range: expecting start >= 100, but found start=${r.start}`)
    else if (r.end > 600) errors.push(`${p}: Invalid http ${kind} status range: expecting end <= 600, but found end=${r.end}`)
  })
}

function checkOne(hc: HealthCheck, path: string, errors: string[]): void {
  const payloadErrors = (list: Parameters<typeof loadPayloadBytes>[0], p: string): Buffer[] => {
    const r = loadPayloadBytes(list)
    for (const e of r.errors) errors.push(`${p}${e}`)
    return r.bytes
  }
  const h = hc.http_health_check
  if (h !== undefined) {
    const p = `${path}.http_health_check`
    if (h.codec_client_type === 'HTTP2' || h.codec_client_type === 'HTTP3') {
      errors.push(`${p}.codec_client_type: ${h.codec_client_type} health checks are not supported (HTTP1 only)`)
    }
    checkRanges(h.expected_statuses, 'expected', `${p}.expected_statuses`, errors)
    checkRanges(h.retriable_statuses, 'retriable', `${p}.retriable_statuses`, errors)
    const receive = payloadErrors(h.receive, `${p}.receive`)
    const total = receive.reduce((n, b) => n + b.length, 0)
    const size = h.response_buffer_size ?? 1024
    if (size !== 0 && total > size) {
      errors.push(`${p}.receive: The expected response length '${total}' is over than http health response buffer size '${size}'`)
    }
    h.request_headers_to_add.forEach((o, i) => {
      if (FORMAT_OPERATOR.test(o.header?.value ?? '')) {
        errors.push(`${p}.request_headers_to_add[${i}].header.value: substitution operators are not supported in health check headers`)
      }
    })
  }
  const t = hc.tcp_health_check
  if (t !== undefined) {
    const p = `${path}.tcp_health_check`
    if (t.send !== undefined) payloadErrors([t.send], `${p}.send`)
    payloadErrors(t.receive, `${p}.receive`)
    if (t.proxy_protocol_config !== undefined) errors.push(`${p}.proxy_protocol_config: PROXY protocol health checks are not supported yet`)
  }
}

/** Every problem with a cluster's `health_checks` and endpoints' `health_check_config`. */
export function checkHealthChecks(config: Cluster, path: string): string[] {
  const errors: string[] = []
  if (config.health_checks.length > 1) {
    errors.push(`${path}.health_checks: only one health check per cluster is supported (got ${config.health_checks.length})`)
  }
  config.health_checks.forEach((hc, i) => checkOne(hc, `${path}.health_checks[${i}]`, errors))
  config.load_assignment?.endpoints.forEach((group, g) => {
    group.lb_endpoints.forEach((lb, e) => {
      const a = lb.endpoint?.health_check_config?.address
      if (a === undefined) return
      const p = `${path}.load_assignment.endpoints[${g}].lb_endpoints[${e}].endpoint.health_check_config.address`
      if (a.socket_address !== undefined) {
        if (net.isIP(a.socket_address.address) === 0) errors.push(`${p}.socket_address.address: must be an IP address (got '${a.socket_address.address}')`)
      } else if (a.pipe === undefined) {
        errors.push(`${p}: one of socket_address or pipe is required`)
      }
    })
  })
  return errors
}

export function createHealthChecker(config: HealthCheck, ctx: HealthCheckerContext): HealthCheckerImplBase {
  if (config.http_health_check !== undefined) return new HttpHealthCheckerImpl(config, ctx)
  return new TcpHealthCheckerImpl(config, ctx)
}
