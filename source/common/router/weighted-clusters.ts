import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { WeightedCluster } from '../protobuf/generated/envoy/config/route/v3.js'
import type { ConfigErrors } from './config-utility.js'
import { HeaderParser } from './header-parser.js'
import type { RouteTableParent, TypedConfigMap } from './route-parents.js'

/**
 * `weighted_clusters` of a route action (Envoy's WeightedClusterEntry list and
 * pickWeightedCluster): one pre-built entry per cluster, picked by where a value in
 * [0, total weight) falls among the cumulative weights.
 */

/** What a weighted cluster adds to its route. */
export interface WeightedClusterData {
  /** Lower-cased; when set, the cluster's name comes from this request header. */
  readonly clusterHeader: string
  /** The cluster's own header mutations (none or one parser, kept as a list for evaluation). */
  readonly requestParsers: readonly HeaderParser[]
  readonly responseParsers: readonly HeaderParser[]
  readonly hostRewriteLiteral: string
  readonly perFilterConfigs: TypedConfigMap
}

const UINT_RE = /^\d+$/

export class WeightedClusters<E> {
  private readonly entries: E[] = []
  /** Cumulative upper bounds: entry i covers [ends[i-1], ends[i]). */
  private readonly ends: number[] = []
  private readonly total: number
  private readonly headerName: string

  constructor(c: WeightedCluster, path: string, errors: ConfigErrors, table: RouteTableParent, make: (name: string, data: WeightedClusterData) => E) {
    let total = 0
    c.clusters.forEach((w, i) => {
      const p = `${path}.clusters[${i}]`
      if (w.name !== '' && w.cluster_header !== '') errors.add(p, 'Only one of name or cluster_header can be specified')
      else if (w.name === '' && w.cluster_header === '') errors.add(p, 'At least one of name or cluster_header need to be specified')
      if (w.weight === undefined) errors.add(`${p}.weight`, 'value is required')
      if (w.metadata_match !== undefined) errors.notSupported(`${p}.metadata_match`, 'subset load balancing is not supported yet')
      if (w.name !== '' && table.validateCluster !== undefined && !table.validateCluster(w.name)) {
        errors.add(`${p}.name`, `route: unknown weighted cluster '${w.name}'`)
      }
      const req = new HeaderParser(w.request_headers_to_add, w.request_headers_to_remove, p, errors, 'request')
      const resp = new HeaderParser(w.response_headers_to_add, w.response_headers_to_remove, p, errors, 'response')
      const data: WeightedClusterData = {
        clusterHeader: w.cluster_header.toLowerCase(),
        requestParsers: req.empty ? [] : [req],
        responseParsers: resp.empty ? [] : [resp],
        hostRewriteLiteral: w.host_rewrite_literal ?? '',
        perFilterConfigs: table.buildPerFilterConfigs(w.typed_per_filter_config, `${p}.typed_per_filter_config`),
      }
      total += w.weight ?? 0
      this.entries.push(make(w.name, data))
      this.ends.push(total)
    })
    if (c.clusters.length > 0 && total === 0) errors.add(path, 'Sum of weights in the weighted_cluster must be greater than 0.')
    if (c.total_weight !== undefined && c.total_weight !== total) {
      errors.add(`${path}.total_weight`, `Sum of weights in the weighted_cluster should add up to ${c.total_weight}`)
    }
    if (c.runtime_key_prefix !== '') errors.notSupported(`${path}.runtime_key_prefix`, 'runtime cluster weights are not supported yet')
    this.total = total
    this.headerName = (c.header_name ?? '').toLowerCase()
  }

  /**
   * The entry for `random` in [0, 1), or for the integer in `header_name` when the request
   * carries exactly one such value (Envoy treats anything else as absent).
   */
  pick(headers: HeaderMap, random: number): E {
    let selected = -1
    if (this.headerName !== '') {
      const values = headers.getAll(this.headerName)
      if (values.length === 1 && UINT_RE.test(values[0]!)) {
        const v = values[0]!
        selected = v.length <= 15 ? Number(v) % this.total : Number(BigInt(v) % BigInt(this.total))
      }
    }
    if (selected === -1) selected = Math.floor(random * this.total)
    const ends = this.ends
    for (let i = 0; i < ends.length; i++) if (selected < ends[i]!) return this.entries[i]!
    return this.entries[this.entries.length - 1]!
  }
}
