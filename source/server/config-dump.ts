import type protobuf from 'protobufjs'
import { withoutDefaults } from '../common/protobuf/dump-json.js'
import { typeNameFromUrl, typeUrlFor } from '../common/protobuf/schema.js'
import type { Bootstrap } from '../common/protobuf/generated/envoy/config/bootstrap/v3.js'
import type { RouteConfiguration } from '../common/protobuf/generated/envoy/config/route/v3.js'
import type { ConfigDumpSection } from '../envoy/server/instance.js'

const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'

type Json = Record<string, unknown>

/** Inline route configurations of every HCM in the static listeners. */
function staticRouteConfigs(b: Bootstrap): RouteConfiguration[] {
  const out: RouteConfiguration[] = []
  for (const l of b.static_resources?.listeners ?? []) {
    const chains = [...l.filter_chains, ...(l.default_filter_chain !== undefined ? [l.default_filter_chain] : [])]
    for (const fc of chains) {
      for (const f of fc.filters) {
        if (f.typed_config === undefined || typeNameFromUrl(f.typed_config['@type']) !== HCM_TYPE) continue
        const rc = (f.typed_config as { route_config?: RouteConfiguration }).route_config
        if (rc !== undefined) out.push(rc)
      }
    }
  }
  return out
}

/**
 * `/config_dump` for a static config: the bootstrap, then clusters, listeners, routes and
 * secrets in Envoy's order, each resource with its `@type` and `last_updated`.
 */
export function buildConfigDump(root: protobuf.Root, bootstrap: Bootstrap, loadedAt: Date): ConfigDumpSection[] {
  const lastUpdated = loadedAt.toISOString()
  const dump = (typeName: string, v: unknown): Json => withoutDefaults(root, typeName, v) as Json
  const typed = (typeName: string, v: unknown): Json => ({ '@type': typeUrlFor(typeName), ...dump(typeName, v) })

  const clusters = (bootstrap.static_resources?.clusters ?? []).map((c) => ({
    name: c.name,
    item: { cluster: typed('envoy.config.cluster.v3.Cluster', c), last_updated: lastUpdated },
  }))
  const listeners = (bootstrap.static_resources?.listeners ?? []).map((l) => ({
    name: l.name,
    item: { listener: typed('envoy.config.listener.v3.Listener', l), last_updated: lastUpdated },
  }))
  const routes = staticRouteConfigs(bootstrap).map((rc) => ({
    name: rc.name,
    item: { route_config: typed('envoy.config.route.v3.RouteConfiguration', rc), last_updated: lastUpdated },
  }))
  return [
    {
      type: 'envoy.admin.v3.BootstrapConfigDump',
      dump: { bootstrap: dump('envoy.config.bootstrap.v3.Bootstrap', bootstrap), last_updated: lastUpdated },
      resources: {},
    },
    {
      type: 'envoy.admin.v3.ClustersConfigDump',
      dump: { static_clusters: clusters.map((c) => c.item) },
      resources: { static_clusters: { type: 'envoy.admin.v3.ClustersConfigDump.StaticCluster', items: clusters } },
    },
    {
      type: 'envoy.admin.v3.ListenersConfigDump',
      dump: { static_listeners: listeners.map((l) => l.item) },
      resources: { static_listeners: { type: 'envoy.admin.v3.ListenersConfigDump.StaticListener', items: listeners } },
    },
    {
      type: 'envoy.admin.v3.RoutesConfigDump',
      dump: { static_route_configs: routes.map((r) => r.item) },
      resources: { static_route_configs: { type: 'envoy.admin.v3.RoutesConfigDump.StaticRouteConfig', items: routes } },
    },
    { type: 'envoy.admin.v3.SecretsConfigDump', dump: {}, resources: {} },
  ]
}
