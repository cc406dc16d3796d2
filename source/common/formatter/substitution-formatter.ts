import type { AccessLogType, StreamInfo } from '../../envoy/stream-info/stream-info.js'
import { type FormatPart, parseSubstitutionFormat } from './substitution-format-parser.js'

/**
 * A compiled access log / local reply format (Envoy's Formatter). Built once at config time on
 * the thread that uses it; `format` runs per entry and never throws for missing data.
 */
export interface Formatter {
  /** One formatted entry; a format that wants a trailing newline includes it. */
  format(info: StreamInfo, type: AccessLogType): string
  /** `content_type` of the config, or the default for the format kind. */
  readonly contentType: string
}

/** Envoy's default access log format (docs: "Default Format String"). */
export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% ' +
  '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n'

export interface TextFormatterOptions {
  /** Print unset values as nothing instead of `-`. */
  omitEmptyValues?: boolean
  contentType?: string
}

/** A text format string (Envoy's FormatterImpl). */
export class FormatterImpl implements Formatter {
  readonly contentType: string
  private readonly parts: FormatPart[]
  private readonly emptyValue: string

  /** Throws ConfigError(CONFIG_INVALID) naming `path` for a bad format string. */
  constructor(format: string, path: string, options: TextFormatterOptions = {}) {
    this.parts = parseSubstitutionFormat(format, path)
    this.emptyValue = options.omitEmptyValues === true ? '' : '-'
    this.contentType = options.contentType === undefined || options.contentType === '' ? 'text/plain' : options.contentType
  }

  format(info: StreamInfo, type: AccessLogType): string {
    let out = ''
    for (const p of this.parts) {
      out += typeof p === 'string' ? p : (p.format(info, type) ?? this.emptyValue)
    }
    return out
  }
}
