import { ErrorCode } from '../../../../common/errors/codes.js'
import { ConfigError } from '../../../../common/errors/envoy-ts-error.js'
import type { Buffer as BufferConfig, BufferPerRoute } from '../../../../common/protobuf/generated/envoy/extensions/filters/http/buffer/v3.js'
import { HTTP_FILTERS, type NamedHttpFilterConfigFactory } from '../../../../envoy/http/filter.js'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { BUFFER_FILTER_NAME, BufferFilter, type BufferSettings, makeBufferSettings } from './buffer.js'

function invalid(path: string, field: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.CONFIG_INVALID, [`${path}.${field}: ${message}`])
}

/** Validates a `Buffer` message (`field` is where it sits, for errors). */
function maxRequestBytes(c: BufferConfig | undefined, path: string, field: string): number {
  const v = c?.max_request_bytes
  if (v === undefined) throw invalid(path, `${field}max_request_bytes`, 'value is required')
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n <= 0 || n > 0xffff_ffff) throw invalid(path, `${field}max_request_bytes`, 'value must be greater than 0')
  return n
}

export function createBufferSettings(c: BufferConfig, path: string): BufferSettings {
  return makeBufferSettings({ disabled: false, maxRequestBytes: maxRequestBytes(c, path, '') })
}

/** `BufferPerRoute`: exactly one of `disabled: true` or `buffer`. */
export function createBufferPerRoute(c: BufferPerRoute, path: string): BufferSettings {
  if (c.buffer !== undefined && c.disabled !== undefined) throw invalid(path, 'override', 'only one of disabled or buffer may be set')
  if (c.buffer !== undefined) return makeBufferSettings({ disabled: false, maxRequestBytes: maxRequestBytes(c.buffer, path, 'buffer.') })
  if (c.disabled === undefined) throw invalid(path, 'override', 'one of disabled or buffer is required')
  if (c.disabled !== true) throw invalid(path, 'disabled', 'value must equal true')
  return makeBufferSettings({ disabled: true, maxRequestBytes: 0 })
}

export const bufferFilterFactory: NamedHttpFilterConfigFactory = {
  name: BUFFER_FILTER_NAME,
  configType: 'envoy.extensions.filters.http.buffer.v3.Buffer',
  isTerminalFilter: false,
  perRouteConfigType: 'envoy.extensions.filters.http.buffer.v3.BufferPerRoute',
  createFilterFactory(config, ctx, path) {
    void ctx
    const settings = createBufferSettings(config as BufferConfig, path)
    return (cb) => cb.addStreamDecoderFilter(new BufferFilter(settings))
  },
  createRouteSpecificFilterConfig(config, ctx, path) {
    void ctx
    return createBufferPerRoute(config as BufferPerRoute, path)
  },
}

export function setup(r: Registry): void {
  r.category<NamedHttpFilterConfigFactory>(HTTP_FILTERS).register(bufferFilterFactory)
}
