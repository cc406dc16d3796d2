import type { Bootstrap } from '../protobuf/generated/envoy/config/bootstrap/v3.js'
import type { Address } from '../protobuf/generated/envoy/config/core/v3.js'
import type { HttpConnectionManager } from '../protobuf/generated/envoy/extensions/filters/network/http_connection_manager/v3.js'
import type { RouteConfiguration } from '../protobuf/generated/envoy/config/route/v3.js'
import { typeNameFromUrl } from '../protobuf/schema.js'
import { addressFromConfig } from '../network/address-impl.js'

const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'

/** A printable key for a bound address, or undefined when it does not bind (port 0, internal). */
export function addressKey(a: Address | undefined): string | undefined {
  if (a?.socket_address !== undefined) {
    const port = a.socket_address.port_value ?? 0
    return port === 0 ? undefined : `${a.socket_address.address}:${port}`
  }
  if (a?.pipe !== undefined) return `pipe:${a.pipe.path}`
  return undefined
}

function duplicates(names: string[], what: string, pathOf: (i: number) => string): string[] {
  const seen = new Map<string, number>()
  const out: string[] = []
  names.forEach((n, i) => {
    const first = seen.get(n)
    if (first !== undefined) out.push(`${pathOf(i)}: duplicate ${what} "${n}" (also at ${pathOf(first)})`)
    else seen.set(n, i)
  })
  return out
}

/** Envoy's `validate_clusters`: every cluster a static route names must exist. */
function checkRouteClusters(rc: RouteConfiguration, path: string, clusters: Set<string>): string[] {
  if (rc.validate_clusters === false) return []
  const out: string[] = []
  const need = (name: string | undefined, p: string): void => {
    if (name !== undefined && name !== '' && !clusters.has(name)) out.push(`${p}: unknown cluster "${name}"`)
  }
  rc.request_mirror_policies.forEach((m, i) => need(m.cluster, `${path}.request_mirror_policies[${i}].cluster`))
  rc.virtual_hosts.forEach((vh, v) => {
    const vp = `${path}.virtual_hosts[${v}]`
    vh.request_mirror_policies.forEach((m, i) => need(m.cluster, `${vp}.request_mirror_policies[${i}].cluster`))
    vh.routes.forEach((r, ri) => {
      const rp = `${vp}.routes[${ri}].route`
      const action = r.route
      if (action === undefined) return
      need(action.cluster, `${rp}.cluster`)
      action.weighted_clusters?.clusters.forEach((c, ci) => need(c.name, `${rp}.weighted_clusters.clusters[${ci}].name`))
      action.request_mirror_policies.forEach((m, i) => need(m.cluster, `${rp}.request_mirror_policies[${i}].cluster`))
    })
  })
  return out
}

/** The admin endpoint binds its address: an IP (as for a listener, Envoy resolves no names there) or a pipe. */
function checkAdminAddress(a: Address | undefined): string[] {
  if (a === undefined || a.pipe !== undefined) return []
  if (a.socket_address === undefined) return ['admin.address: the admin endpoint needs a socket_address or a pipe']
  const r = addressFromConfig(a)
  if (typeof r !== 'string') return []
  return [`admin.address.socket_address${r.startsWith('malformed IP address') ? '.address' : ''}: ${r}`]
}

/**
 * Checks that span more than one message and so cannot live in the schema: unique names and
 * addresses, listeners that can accept, routes that name real clusters. Returns every problem.
 */
export function checkBootstrap(b: Bootstrap): string[] {
  const errors: string[] = []
  const listeners = b.static_resources?.listeners ?? []
  const clusters = b.static_resources?.clusters ?? []
  errors.push(...duplicates(listeners.map((l) => l.name), 'listener name', (i) => `static_resources.listeners[${i}].name`))
  errors.push(...duplicates(clusters.map((c) => c.name), 'cluster name', (i) => `static_resources.clusters[${i}].name`))
  const bound = listeners.map((l) => addressKey(l.address) ?? `unbound#${l.name}`)
  errors.push(...duplicates(bound, 'listener address', (i) => `static_resources.listeners[${i}].address`))
  errors.push(...checkAdminAddress(b.admin?.address))
  const clusterNames = new Set(clusters.map((c) => c.name))
  listeners.forEach((l, i) => {
    const lp = `static_resources.listeners[${i}]`
    if (l.address === undefined && l.internal_listener === undefined) {
      errors.push(`${lp}.address: value is required (or set internal_listener for an in-process listener)`)
    }
    if (l.filter_chains.length === 0 && l.default_filter_chain === undefined) {
      errors.push(`${lp}.filter_chains: no filter chains specified (give filter_chains or default_filter_chain)`)
    }
    const chains = [...l.filter_chains.map((fc, ci) => ({ fc, p: `${lp}.filter_chains[${ci}]` }))]
    if (l.default_filter_chain !== undefined) chains.push({ fc: l.default_filter_chain, p: `${lp}.default_filter_chain` })
    for (const { fc, p } of chains) {
      fc.filters.forEach((f, fi) => {
        const tc = f.typed_config
        if (tc === undefined || typeNameFromUrl(tc['@type']) !== HCM_TYPE) return
        const hcm = tc as unknown as HttpConnectionManager
        if (hcm.route_config !== undefined) {
          errors.push(...checkRouteClusters(hcm.route_config, `${p}.filters[${fi}].typed_config.route_config`, clusterNames))
        }
      })
    }
  })
  return errors
}
