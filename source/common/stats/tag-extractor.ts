import type { CompiledMatcher } from '../../envoy/common/regex.js'
import { compileRe2 } from '../common/regex.js'
import type { StatsConfig } from '../protobuf/generated/envoy/config/metrics/v3.js'

/** A tag pulled out of a stat name: `envoy.cluster_name="backend"`. */
export interface Tag {
  name: string
  value: string
}

export interface TaggedName {
  /** The name with every extracted part removed: `cluster.upstream_rq_total`. */
  extracted: string
  tags: Tag[]
}

/**
 * One extractor: the regex's first group is removed from the name and its second group is the
 * tag's value (Envoy's rule for `stats_tags` regexes).
 */
interface Extractor {
  name: string
  regex?: CompiledMatcher
  fixedValue?: string
}

/**
 * Envoy's default tag extractors (the names and patterns Envoy documents), most specific first.
 * Each one runs on what the earlier ones left of the name. They are RE2 patterns, like every
 * other: Envoy's `X(?=\.).*?\.` (a lookahead, which RE2 lacks) is written `X(?:\..*?)?\.`,
 * which matches the same names.
 */
const DEFAULT_EXTRACTORS: ReadonlyArray<[string, string]> = [
  ['envoy.response_code', '_rq(_(\\d{3}))$'],
  ['envoy.response_code_class', '_rq_(\\d)xx$'],
  ['envoy.http_user_agent', '^http(?:\\..*?)?\\.user_agent\\.((.*?)\\.)\\w+?$'],
  ['envoy.virtual_cluster', '^vhost(?:\\..*?)?\\.vcluster\\.((.*?)\\.)\\w+?$'],
  ['envoy.fault_downstream_cluster', '^http(?:\\..*?)?\\.fault\\.((.*?)\\.)\\w+?$'],
  ['envoy.tcp_prefix', '^tcp\\.((.*?)\\.)\\w+?$'],
  ['envoy.udp_prefix', '^udp\\.((.*?)\\.)\\w+?$'],
  ['envoy.ratelimit_prefix', '^ratelimit\\.((.*?)\\.)\\w+?$'],
  ['envoy.connection_limit_prefix', '^connection_limit\\.((.*?)\\.)\\w+?$'],
  ['envoy.local_network_ratelimit_prefix', '^local_rate_limit\\.((.*?)\\.)\\w+?$'],
  ['envoy.cluster_name', '^cluster\\.((.*?)\\.)'],
  ['envoy.http_conn_manager_prefix', '^(?:|listener(?:\\..*?)?\\.)http\\.((.*?)\\.)'],
  ['envoy.listener_address', '^listener\\.(((?:[_.\\d]*|[_\\[\\]aAbBcCdDeEfF\\d]*))\\.)'],
  ['envoy.worker_id', '^(?:listener_manager|listener|server)\\.(?:.*?\\.)??((worker_\\d+)\\.)'],
  ['envoy.virtual_host', '^vhost\\.((.*?)\\.)'],
  ['envoy.rds_route_config', '^http(?:\\..*?)?\\.rds\\.((.*?)\\.)\\w+?$'],
]

export class TagExtractor {
  private readonly extractors: Extractor[]
  private readonly cache = new Map<string, TaggedName>()

  constructor(config?: StatsConfig) {
    const custom: Extractor[] = (config?.stats_tags ?? []).map((t) => (
      t.fixed_value !== undefined ? { name: t.tag_name, fixedValue: t.fixed_value } : { name: t.tag_name, regex: compileRe2(t.regex ?? '') }
    ))
    const useDefaults = config?.use_all_default_tags ?? true
    const customNames = new Set(custom.map((c) => c.name))
    const defaults: Extractor[] = useDefaults
      ? DEFAULT_EXTRACTORS.filter(([n]) => !customNames.has(n)).map(([name, re]) => ({ name, regex: compileRe2(re) }))
      : []
    this.extractors = [...custom, ...defaults]
  }

  extract(name: string): TaggedName {
    let out = this.cache.get(name)
    if (out !== undefined) return out
    let rest = name
    const tags: Tag[] = []
    for (const e of this.extractors) {
      if (e.fixedValue !== undefined) {
        tags.push({ name: e.name, value: e.fixedValue })
        continue
      }
      const m = e.regex!.find(rest)
      const removed = m?.groups[1]
      if (removed === undefined) continue
      const value = (m!.groups[2] ?? removed).value
      rest = rest.slice(0, removed.start) + rest.slice(removed.end)
      tags.push({ name: e.name, value })
    }
    out = { extracted: rest, tags }
    this.cache.set(name, out)
    return out
  }
}
