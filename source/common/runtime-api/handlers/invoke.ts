import { RuntimeStatus, type RuntimeStatusCode } from '../../../envoy/runtime-api/errors.js'
import type { InvokeRequest, InvokeResponse } from '../../../envoy/runtime-api/invoker.js'
import { isRuntimeApiErrorData } from '../runtime-api-error.js'
import type { RuntimeApiContext } from './context.js'
import { apiError, invalid } from './errors.js'

/** Verbs by Dapr's / Layotto's HTTPExtension.Verb number (NONE: POST). */
export const HTTP_VERBS = ['POST', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const

/** The gRPC status Dapr answers for an HTTP status of the invoked app (Dapr's CodeFromHTTPStatus). */
export function grpcStatusFromHttp(status: number): RuntimeStatusCode {
  if (status >= 200 && status < 300) return RuntimeStatus.OK
  switch (status) {
    case 400: return RuntimeStatus.INVALID_ARGUMENT
    case 401: return RuntimeStatus.UNAUTHENTICATED
    case 403: return RuntimeStatus.PERMISSION_DENIED
    case 404: return RuntimeStatus.NOT_FOUND
    case 408: return RuntimeStatus.DEADLINE_EXCEEDED
    case 409: return RuntimeStatus.ABORTED
    case 412: return RuntimeStatus.FAILED_PRECONDITION
    case 429: return RuntimeStatus.RESOURCE_EXHAUSTED
    case 499: return RuntimeStatus.CANCELLED
    case 501: return RuntimeStatus.UNIMPLEMENTED
    case 503: return RuntimeStatus.UNAVAILABLE
    case 504: return RuntimeStatus.DEADLINE_EXCEEDED
    default: return RuntimeStatus.UNKNOWN
  }
}

/**
 * Service invocation through the proxy: the request enters the runtime config's rpc channel
 * (an internal listener) on this worker, so its routes, retries, timeouts, stats and access logs
 * apply. FAILED_PRECONDITION when the config has no channel or the thread no invoker.
 */
export async function invokeService(ctx: RuntimeApiContext, req: InvokeRequest): Promise<InvokeResponse> {
  if (req.appId === '') throw invalid('ERR_DIRECT_INVOKE', 'failed getting app id: the target app id is empty')
  if (ctx.invokeChannel === undefined) {
    throw apiError(RuntimeStatus.FAILED_PRECONDITION, 'ERR_DIRECT_INVOKE', 'service invocation is not configured: the runtime config has no rpcs channel (an internal listener to send invocations through)')
  }
  if (ctx.invoker === undefined) {
    throw apiError(RuntimeStatus.FAILED_PRECONDITION, 'ERR_DIRECT_INVOKE', 'service invocation is not available on this thread: no service invoker')
  }
  try {
    return await ctx.invoker.invoke(ctx.invokeChannel.listener, req, ctx.invokeChannel.timeoutMs)
  } catch (err) {
    if (isRuntimeApiErrorData(err)) throw apiError(err.status, err.errorCode, `failed to invoke, id: ${req.appId}, err: ${err.message}`)
    throw apiError(RuntimeStatus.INTERNAL, 'ERR_DIRECT_INVOKE', `failed to invoke, id: ${req.appId}, err: ${(err as Error).message}`)
  }
}
