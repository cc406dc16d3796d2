import { compileAccessLogFilter, type CompiledAccessLogFilter } from '../access-log/access-log-filter.js'
import { createFormatter } from '../formatter/json-formatter.js'
import { LOCAL_REPLY_BODY_KEY } from '../formatter/stream-info-formatter.js'
import type { Formatter } from '../formatter/substitution-formatter.js'
import type { LocalReplyConfig } from '../protobuf/generated/envoy/extensions/filters/network/http_connection_manager/v3.js'
import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { StreamInfo } from '../../envoy/stream-info/stream-info.js'
import type { RuntimeSnapshot } from '../../envoy/runtime/runtime.js'
import { HeaderParser } from '../router/header-parser.js'

interface Mapper {
  filter: CompiledAccessLogFilter
  statusCode: number | undefined
  body: string | undefined
  bodyFormat: Formatter | undefined
  headers: HeaderParser | undefined
}

/** The reply being built: what mappers may change. */
export interface LocalReplyData {
  code: number
  body: string
  contentType: string
}

/**
 * `local_reply_config` (Envoy's LocalReply): mappers matched against the request and reply in
 * order (the first match rewrites status, body and headers), then `body_format` renders the body.
 */
export class LocalReply {
  private readonly mappers: Mapper[]
  private readonly bodyFormat: Formatter | undefined

  constructor(config: LocalReplyConfig | undefined, path: string, runtime: () => RuntimeSnapshot) {
    this.mappers = (config?.mappers ?? []).map((m, i) => {
      const p = `${path}.mappers[${i}]`
      return {
        filter: compileAccessLogFilter(m.filter!, `${p}.filter`, { runtime }),
        statusCode: m.status_code,
        body: m.body?.inline_string ?? (m.body?.inline_bytes !== undefined ? Buffer.from(m.body.inline_bytes, 'base64').toString() : undefined),
        bodyFormat: m.body_format_override === undefined ? undefined : createFormatter(m.body_format_override, `${p}.body_format_override`),
        headers: m.headers_to_add.length === 0 ? undefined : new HeaderParser(m.headers_to_add, [], `${p}.headers_to_add`),
      }
    })
    this.bodyFormat = config?.body_format === undefined ? undefined : createFormatter(config.body_format, `${path}.body_format`)
  }

  /**
   * Applies the mappers and the body format. `info` must already carry the response code and
   * details; `headers` are the local reply's response headers.
   */
  rewrite(info: StreamInfo, headers: HeaderMap, reply: LocalReplyData): void {
    let format = this.bodyFormat
    for (const m of this.mappers) {
      if (!m.filter(info, 'DownstreamEnd')) continue
      if (m.statusCode !== undefined) {
        reply.code = m.statusCode
        info.responseCode = m.statusCode
        headers.set(':status', String(m.statusCode))
      }
      if (m.body !== undefined) reply.body = m.body
      if (m.bodyFormat !== undefined) format = m.bodyFormat
      m.headers?.evaluate(headers, info)
      break
    }
    if (format !== undefined) {
      // %LOCAL_REPLY_BODY% inside the format refers to the body as it stands now.
      info.filterState.set(LOCAL_REPLY_BODY_KEY, reply.body)
      reply.body = format.format(info, 'DownstreamEnd')
      reply.contentType = format.contentType
    }
  }
}

