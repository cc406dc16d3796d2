import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { VirtualHost } from '../../envoy/router/router.js'
import type { RetryPolicy } from '../../envoy/router/router.js'
import type { RouteAction, RouteAction_RequestMirrorPolicy } from '../protobuf/generated/envoy/config/route/v3.js'
import { type ConfigErrors, denominatorOf } from './config-utility.js'
import type { HeaderParser } from './header-parser.js'
import type { RuntimeSource } from './route-match.js'

/**
 * What routes read from the levels above them (Envoy's VirtualHostImpl and ConfigImpl as seen
 * from a RouteEntryImplBase), and small builders shared by every level.
 */

/** One element of RouteEntry.requestMirrorPolicies. */
export interface MirrorPolicy {
  cluster: string
  clusterHeader: string
  runtimeFraction: { numerator: number; denominator: number } | undefined
}

/** Built `typed_per_filter_config` values by filter name. */
export type TypedConfigMap = ReadonlyMap<string, unknown>

/** `typed_per_filter_config` as it appears in the validated config. */
export type TypedPerFilterConfig = Record<string, { '@type': string; [field: string]: unknown }>

export interface RouteTableParent {
  readonly requestHeaderParser: HeaderParser
  readonly responseHeaderParser: HeaderParser
  readonly mostSpecificHeaderMutationsWins: boolean
  readonly maxDirectResponseBodySizeBytes: number
  readonly runtime: RuntimeSource | undefined
  /** Cluster existence check when `validate_clusters` applies. */
  readonly validateCluster: ((name: string) => boolean) | undefined
  /** Builds a level's per-filter configs through the HCM's factory lookup. */
  buildPerFilterConfigs(configs: TypedPerFilterConfig, path: string): TypedConfigMap
}

export interface VirtualHostParent extends VirtualHost {
  /** The virtual host's retry policy, used by routes without their own. */
  readonly retryPolicy: RetryPolicy | undefined
  /** The virtual host's mirror policies, or the route table's when it has none. */
  readonly mirrorPolicies: readonly MirrorPolicy[]
  readonly includeAttemptCountInRequest: boolean
  readonly includeAttemptCountInResponse: boolean
  readonly requestHeaderParser: HeaderParser
  readonly responseHeaderParser: HeaderParser
  virtualClusterName(headers: HeaderMap): string | undefined
}

/** `request_mirror_policies` of any level (Envoy's ShadowPolicyImpl). */
export function buildMirrorPolicies(
  list: readonly RouteAction_RequestMirrorPolicy[], path: string, errors: ConfigErrors, validateCluster: ((name: string) => boolean) | undefined,
): MirrorPolicy[] {
  const out: MirrorPolicy[] = []
  list.forEach((m, i) => {
    const p = `${path}[${i}]`
    if (m.cluster !== '' && m.cluster_header !== '') {
      errors.add(p, `Only one of cluster '${m.cluster}' or cluster_header '${m.cluster_header}' in request mirror policy can be specified`)
      return
    }
    if (m.cluster === '' && m.cluster_header === '') {
      errors.add(p, 'Exactly one of cluster or cluster_header in request mirror policy need to be specified')
      return
    }
    if (m.disable_shadow_host_suffix_append) {
      errors.notSupported(`${p}.disable_shadow_host_suffix_append`, 'the mirror policy contract has no such flag yet')
    }
    if (m.cluster !== '' && validateCluster !== undefined && !validateCluster(m.cluster)) {
      errors.add(`${p}.cluster`, `route: unknown shadow cluster '${m.cluster}'`)
    }
    const d = m.runtime_fraction?.default_value
    out.push({
      cluster: m.cluster,
      clusterHeader: m.cluster_header.toLowerCase(),
      // No runtime_fraction means every request is mirrored (Envoy's 100% default).
      runtimeFraction: m.runtime_fraction === undefined
        ? undefined
        : { numerator: d?.numerator ?? 0, denominator: denominatorOf(d?.denominator ?? 'HUNDRED') },
    })
  })
  return out
}

/** Rejects RouteAction fields that envoy-ts parses but does not act on. */
export function checkRouteActionSupported(a: RouteAction, path: string, errors: ConfigErrors): void {
  const no = (field: string, reason: string): void => errors.notSupported(`${path}.${field}`, reason)
  if (a.cluster_specifier_plugin !== undefined) no('cluster_specifier_plugin', 'cluster specifier plugins are not supported yet')
  if (a.inline_cluster_specifier_plugin !== undefined) no('inline_cluster_specifier_plugin', 'cluster specifier plugins are not supported yet')
  if (a.metadata_match !== undefined) no('metadata_match', 'subset load balancing is not supported yet')
  if (a.path_rewrite_policy !== undefined) no('path_rewrite_policy', 'path rewrite extensions are not supported yet')
  if (a.early_data_policy !== undefined) no('early_data_policy', 'early data policies are not supported yet')
  if (a.retry_policy_typed_config !== undefined) no('retry_policy_typed_config', 'typed retry policies are not supported yet')
  if (a.rate_limits.length > 0) no('rate_limits', 'route rate limits are not supported yet')
  if (a.include_vh_rate_limits !== undefined) no('include_vh_rate_limits', 'route rate limits are not supported yet')
  if (a.cors !== undefined) no('cors', 'route-level CORS is not supported; use typed_per_filter_config of the CORS filter')
  if (a.max_grpc_timeout !== undefined) no('max_grpc_timeout', 'gRPC timeouts are not supported yet')
  if (a.grpc_timeout_offset !== undefined) no('grpc_timeout_offset', 'gRPC timeouts are not supported yet')
  if (a.internal_redirect_policy !== undefined) no('internal_redirect_policy', 'internal redirects are not supported yet')
  if (a.internal_redirect_action === 'HANDLE_INTERNAL_REDIRECT') no('internal_redirect_action', 'internal redirects are not supported yet')
  if (a.max_internal_redirects !== undefined) no('max_internal_redirects', 'internal redirects are not supported yet')
  if (a.hedge_policy !== undefined) no('hedge_policy', 'request hedging is not supported yet')
  const msd = a.max_stream_duration
  if (msd?.grpc_timeout_header_max !== undefined) no('max_stream_duration.grpc_timeout_header_max', 'gRPC timeouts are not supported yet')
  if (msd?.grpc_timeout_header_offset !== undefined) no('max_stream_duration.grpc_timeout_header_offset', 'gRPC timeouts are not supported yet')
}
