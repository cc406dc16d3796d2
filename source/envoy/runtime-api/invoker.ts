/** One service invocation (Dapr/Layotto InvokeService and Dapr's `/v1.0/invoke/{app}/method/{m}`). */
export interface InvokeRequest {
  /** The target app id (Dapr `id`); goes upstream as the `dapr-app-id` header. */
  appId: string
  /** The method, used as the path (`/<method>`). */
  method: string
  data: Uint8Array
  contentType: string
  /** HTTP verb (Dapr http_extension.verb; default POST) and query string. */
  verb: string
  querystring: string
  /** Extra request headers (gRPC metadata or HTTP headers of the caller, filtered). */
  headers: Record<string, string>
}

export interface InvokeResponse {
  status: number
  data: Uint8Array
  contentType: string
  /** Response headers in order, repeated names kept (`set-cookie`). */
  headers: ReadonlyArray<readonly [string, string]>
}

/**
 * Sends an invocation through the proxy: an HTTP/1.1 request into an internal listener (Envoy's
 * `internal_listener`, an in-process connection) whose route table, retries, timeouts, stats and
 * access logs then apply. One per worker.
 */
export interface ServiceInvoker {
  invoke(listener: string, req: InvokeRequest, timeoutMs: number): Promise<InvokeResponse>
}
