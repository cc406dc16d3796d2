import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import type { ProxyProtocol } from '../../../../common/protobuf/generated/envoy/extensions/filters/listener/proxy_protocol/v3.js'
import {
  LISTENER_FILTERS, type ListenerFilterFactoryContext, type NamedListenerFilterConfigFactory,
} from '../../../../envoy/network/listener-filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import type { Scope } from '../../../../envoy/stats/stats.js'
import {
  PROXY_PROTOCOL_METADATA_NAMESPACE, ProxyProtocolFilter, proxyProtocolStats, type ProxyProtocolConfig,
} from './proxy-protocol.js'

function invalid(path: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}: ${message}`])
}

/** Envoy roots `proxy_proto.*` at the server's root scope. */
function statsScope(ctx: ListenerFilterFactoryContext): Scope {
  return ctx.scope
}

export function createProxyProtocolConfig(c: ProxyProtocol, ctx: ListenerFilterFactoryContext, path: string): ProxyProtocolConfig {
  const disallowed = new Set(c.disallowed_versions ?? [])
  if (disallowed.has('V1') && disallowed.has('V2')) {
    throw invalid(`${path}.disallowed_versions`, 'Proxy Protocol filter is misconfigured: all proxy protocol versions are disallowed.')
  }
  const rules = new Map<number, { namespace: string; key: string }>()
  for (const [i, rule] of (c.rules ?? []).entries()) {
    const type = Number(rule.tlv_type)
    if (!Number.isInteger(type) || type < 0 || type > 255) throw invalid(`${path}.rules[${i}].tlv_type`, 'value must be less than 256')
    const kv = rule.on_tlv_present
    if (kv === undefined || typeof kv.key !== 'string' || kv.key === '') {
      throw invalid(`${path}.rules[${i}].on_tlv_present.key`, 'value must not be empty')
    }
    rules.set(type, { namespace: kv.metadata_namespace || PROXY_PROTOCOL_METADATA_NAMESPACE, key: kv.key })
  }
  let passThrough: ProxyProtocolConfig['passThrough']
  const p = c.pass_through_tlvs
  if (p !== undefined) {
    if ((p.match_type ?? 'INCLUDE_ALL') === 'INCLUDE_ALL') {
      passThrough = 'all'
    } else {
      const types = (p.tlv_type ?? []).map(Number)
      if (types.some((t) => !Number.isInteger(t) || t < 0 || t > 255)) {
        throw invalid(`${path}.pass_through_tlvs.tlv_type`, 'value must be less than 256')
      }
      passThrough = new Set(types)
    }
  }
  return {
    stats: proxyProtocolStats(statsScope(ctx), c.stat_prefix ?? ''),
    parse: {
      allowV1: !disallowed.has('V1'),
      allowV2: !disallowed.has('V2'),
      allowRequestsWithoutProxyProtocol: c.allow_requests_without_proxy_protocol === true,
    },
    rules,
    passThrough,
  }
}

export const proxyProtocolFilterFactory: NamedListenerFilterConfigFactory = {
  name: 'envoy.filters.listener.proxy_protocol',
  configType: 'envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol',
  createListenerFilterFactory(config, ctx, path) {
    const shared = createProxyProtocolConfig(config as ProxyProtocol, ctx, path)
    return () => new ProxyProtocolFilter(shared)
  },
}

export function setup(r: Registry): void {
  r.category<NamedListenerFilterConfigFactory>(LISTENER_FILTERS).register(proxyProtocolFilterFactory)
}
