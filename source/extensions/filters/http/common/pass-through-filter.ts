import type { BufferInstance } from '../../../../envoy/buffer/buffer.js'
import {
  FilterDataStatus, type FilterDataStatusValue, FilterHeadersStatus, type FilterHeadersStatusValue, FilterTrailersStatus,
  type FilterTrailersStatusValue, type StreamDecoderFilter, type StreamDecoderFilterCallbacks, type StreamEncoderFilter,
  type StreamEncoderFilterCallbacks,
} from '../../../../envoy/http/filter.js'
import type { HeaderMap } from '../../../../envoy/http/header-map.js'

// Envoy's Http::PassThroughDecoderFilter / PassThroughEncoderFilter / PassThroughFilter: every
// callback continues, so a filter overrides only what it acts on (and the callbacks it keeps).

export class PassThroughDecoderFilter implements StreamDecoderFilter {
  setDecoderFilterCallbacks(_callbacks: StreamDecoderFilterCallbacks): void {}

  decodeHeaders(_headers: HeaderMap, _endStream: boolean): FilterHeadersStatusValue {
    return FilterHeadersStatus.Continue
  }

  decodeData(_data: BufferInstance, _endStream: boolean): FilterDataStatusValue {
    return FilterDataStatus.Continue
  }

  decodeTrailers(_trailers: HeaderMap): FilterTrailersStatusValue {
    return FilterTrailersStatus.Continue
  }
}

export class PassThroughFilter extends PassThroughDecoderFilter implements StreamEncoderFilter {
  setEncoderFilterCallbacks(_callbacks: StreamEncoderFilterCallbacks): void {}

  encodeHeaders(_headers: HeaderMap, _endStream: boolean): FilterHeadersStatusValue {
    return FilterHeadersStatus.Continue
  }

  encodeData(_data: BufferInstance, _endStream: boolean): FilterDataStatusValue {
    return FilterDataStatus.Continue
  }

  encodeTrailers(_trailers: HeaderMap): FilterTrailersStatusValue {
    return FilterTrailersStatus.Continue
  }
}
