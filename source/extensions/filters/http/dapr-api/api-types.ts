import type { HeaderMap } from '../../../../envoy/http/header-map.js'

// The Dapr HTTP API's request, response and route shapes, shared by the filter and the API.

/** One request as the API handlers see it, body complete. */
export interface ApiRequest {
  readonly method: string
  /** The path as received, without the query string. */
  readonly path: string
  /** The query string as received, without `?`. */
  readonly rawQuery: string
  readonly query: URLSearchParams
  readonly headers: HeaderMap
  readonly body: Buffer
}

/** A handler's answer; the filter adds `content-length` and encodes it. */
export interface ApiResponse {
  readonly status: number
  readonly headers?: ReadonlyArray<readonly [string, string]>
  readonly contentType?: string
  readonly body?: Buffer
}

/** The building blocks, for stats (`dapr_api.<stat_prefix>.<api>.rq_total`). */
export const API_NAMES = [
  'state', 'publish', 'invoke', 'bindings', 'secrets', 'configuration', 'lock', 'metadata', 'healthz', 'shutdown', 'unimplemented', 'unknown',
] as const
export type ApiName = (typeof API_NAMES)[number]

/** A matched request: which API, whether it needs the api token, and what answers it. */
export interface ApiRoute {
  readonly api: ApiName
  /** Dapr's always-allowed endpoints (health checks) need no `dapr-api-token`. */
  readonly public: boolean
  run(req: ApiRequest): Promise<ApiResponse>
}
