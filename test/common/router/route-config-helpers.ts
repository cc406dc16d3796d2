import assert from 'node:assert/strict'
import { HeaderMapImpl } from '../../../source/common/http/header-map-impl.js'
import { MessageValidator } from '../../../source/common/protobuf/message-validator.js'
import { loadSchema } from '../../../source/common/protobuf/schema.js'
import type { RouteConfiguration } from '../../../source/common/protobuf/generated/envoy/config/route/v3.js'
import { type RouteConfigOptions, RouteConfigImpl } from '../../../source/common/router/config-impl.js'
import { StreamInfoImpl } from '../../../source/common/stream-info/stream-info-impl.js'
import type { HeaderMap } from '../../../source/envoy/http/header-map.js'
import type { Route, RouteEntry } from '../../../source/envoy/router/router.js'

/** Shared by the router tests: YAML-shaped input → validated RouteConfiguration → RouteConfigImpl. */

const validator = new MessageValidator(loadSchema())

export function validated(input: unknown): RouteConfiguration {
  const r = validator.validate<RouteConfiguration>('envoy.config.route.v3.RouteConfiguration', input, 'route_config')
  assert.deepEqual(r.errors, [], 'test config must validate')
  return r.value
}

/** Per-filter configs are built as `<filter name>@<max_request_bytes>` strings. */
export const perFilterConfig: RouteConfigOptions['perFilterConfig'] = (name, any) => `${name}@${String(any['max_request_bytes'])}`

export function build(input: unknown, opts: Partial<RouteConfigOptions> = {}): RouteConfigImpl {
  return new RouteConfigImpl(validated(input), 'route_config', { perFilterConfig, ...opts })
}

/** The ConfigError messages a config fails with (it must fail). */
export function buildErrors(input: unknown, opts: Partial<RouteConfigOptions> = {}): string[] {
  try {
    build(input, opts)
  } catch (err) {
    const e = err as { code?: string; errors?: string[] }
    assert.equal(e.code, 'ETS_ERR_CONFIG_INVALID')
    return e.errors ?? []
  }
  assert.fail('config should have been rejected')
}

/** A route table with one `*` virtual host holding `routes`. */
export function oneHost(routes: unknown[], vhost: Record<string, unknown> = {}, top: Record<string, unknown> = {}): unknown {
  return { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes, ...vhost }], ...top }
}

export function req(path: string, extra: Record<string, string | string[]> = {}, authority = 'example.com'): HeaderMap {
  return new HeaderMapImpl({ ':method': 'GET', ':scheme': 'http', ':authority': authority, ':path': path, ...extra })
}

export function info(): StreamInfoImpl {
  return new StreamInfoImpl({ downstreamLocalAddress: '10.0.0.1:8080', downstreamRemoteAddress: '192.168.1.7:51234', connectionId: 1 })
}

export function route(rc: RouteConfigImpl, headers: HeaderMap, random = 0): Route | undefined {
  return rc.route(headers, info(), random)
}

/** The RouteEntry of a request that must hit a `route` action. */
export function entry(rc: RouteConfigImpl, headers: HeaderMap, random = 0): RouteEntry {
  const r = route(rc, headers, random)
  assert.ok(r?.routeEntry, `a route entry for ${headers.get(':path')}`)
  return r.routeEntry
}

export function clusterOf(rc: RouteConfigImpl, headers: HeaderMap, random = 0): string | undefined {
  return route(rc, headers, random)?.routeEntry?.clusterName()
}
