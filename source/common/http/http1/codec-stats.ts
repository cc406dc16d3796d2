import type { Counter, Scope } from '../../../envoy/stats/stats.js'

/**
 * Envoy's HTTP/1 codec statistics ("HTTP/1.1 codec statistics"), rooted at `http1.` in the scope
 * given (Envoy uses the listener's root scope, so the names are `http1.<stat>`). One set per
 * scope is enough: create it once per HCM config and share it among connections.
 */
export interface Http1CodecStats {
  /** `http1.dropped_headers_with_underscores`: headers dropped by `headers_with_underscores_action: DROP_HEADER`. */
  droppedHeadersWithUnderscores: Counter
  /**
   * `http1.metadata_not_supported_error`: metadata that HTTP/1 cannot carry was dropped.
   * TODO: bumped once the codec interfaces carry metadata (HTTP/2 work); nothing produces it yet.
   */
  metadataNotSupportedError: Counter
  /** `http1.requests_rejected_with_underscores_in_headers`: requests rejected by REJECT_REQUEST. */
  requestsRejectedWithUnderscoresInHeaders: Counter
  /**
   * `http1.response_flood`: connections closed because too many responses were queued.
   * TODO: the server codec parses the next request only after the previous response is done, so
   * at most one response is ever queued by the codec; a flood check on the socket's unsent
   * responses can come with the HCM's overload work.
   */
  responseFlood: Counter
  /** `http1.protocol_error`: messages rejected as malformed (any codec error). */
  protocolError: Counter
}

export function http1CodecStats(scope: Scope): Http1CodecStats {
  const s = scope.createScope('http1')
  return {
    droppedHeadersWithUnderscores: s.counter('dropped_headers_with_underscores'),
    metadataNotSupportedError: s.counter('metadata_not_supported_error'),
    requestsRejectedWithUnderscoresInHeaders: s.counter('requests_rejected_with_underscores_in_headers'),
    responseFlood: s.counter('response_flood'),
    protocolError: s.counter('protocol_error'),
  }
}

/** Response code details the HTTP/1 codec reports (Envoy's Http1ResponseCodeDetails and a few of StreamInfo's). */
export const Http1ResponseCodeDetails = {
  TooManyHeaders: 'http1.too_many_headers',
  HeadersTooLarge: 'http1.headers_too_large',
  HttpCodecError: 'http1.codec_error',
  InvalidCharacters: 'http1.invalid_characters',
  ConnectionHeaderSanitization: 'http1.connection_header_rejected',
  InvalidUrl: 'http1.invalid_url',
  InvalidTransferEncoding: 'http1.invalid_transfer_encoding',
  BodyDisallowed: 'http1.body_disallowed',
  TransferEncodingNotAllowed: 'http1.transfer_encoding_not_allowed',
  ContentLengthNotAllowed: 'http1.content_length_not_allowed',
  InvalidUnderscore: 'http1.unexpected_underscore',
  ChunkedContentLength: 'http1.content_length_and_chunked_not_allowed',
  InvalidScheme: 'http1.invalid_scheme',
  /** StreamInfo::ResponseCodeDetails::LowVersion: HTTP/1.0 (or 0.9) while `accept_http_10` is off. */
  LowVersion: 'low_version',
  /** StreamInfo::ResponseCodeDetails::MissingHost. */
  MissingHost: 'missing_host_header',
} as const
