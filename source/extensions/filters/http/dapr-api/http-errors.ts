import { RuntimeStatus, type RuntimeStatusCode } from '../../../../envoy/runtime-api/errors.js'
import { isRuntimeApiErrorData, RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'
import { own } from '../../../../common/common/own-keys.js'

/** A Dapr HTTP API error: the status and Dapr's `{ "errorCode", "message" }` body. */
export interface DaprHttpError {
  readonly status: number
  readonly errorCode: string
  readonly message: string
}

/**
 * The HTTP status Dapr answers per error code (dapr/dapr pkg/messages/predefined.go,
 * pkg/api/errors/*.go, pkg/http/api*.go). Codes whose status depends on the cause (state
 * writes: etag mismatch / invalid etag; invocation: permission denied) are in `byCause`.
 */
const BY_CODE: Readonly<Record<string, number>> = {
  // Generic.
  ERR_MALFORMED_REQUEST: 400,
  ERR_MALFORMED_REQUEST_DATA: 500,
  ERR_BODY_READ: 400,
  ERR_BAD_REQUEST: 400,
  ERR_API_UNIMPLEMENTED: 501,
  // State.
  ERR_STATE_STORE_NOT_CONFIGURED: 500,
  ERR_STATE_STORE_NOT_FOUND: 400,
  ERR_STATE_STORE_NOT_SUPPORTED: 500,
  ERR_STATE_GET: 500,
  ERR_STATE_BULK_GET: 500,
  ERR_STATE_TRANSACTION: 500,
  ERR_NOT_SUPPORTED_STATE_OPERATION: 400,
  // Pub/sub.
  ERR_PUBSUB_NOT_CONFIGURED: 400,
  ERR_PUBSUB_NOT_FOUND: 404,
  ERR_PUBSUB_EMPTY: 404,
  ERR_TOPIC_EMPTY: 404,
  ERR_TOPIC_NAME_EMPTY: 404,
  ERR_PUBSUB_PUBLISH_MESSAGE: 500,
  ERR_PUBSUB_EVENTS_SER: 400,
  ERR_PUBSUB_REQUEST_METADATA: 400,
  ERR_PUBSUB_CLOUD_EVENTS_SER: 500,
  ERR_PUBSUB_FORBIDDEN: 403,
  // Bindings.
  ERR_INVOKE_OUTPUT_BINDING: 500,
  // Secrets (a missing store really is 401 in Dapr).
  ERR_SECRET_STORES_NOT_CONFIGURED: 500,
  ERR_SECRET_STORE_NOT_FOUND: 401,
  ERR_SECRET_GET: 500,
  ERR_PERMISSION_DENIED: 403,
  // Configuration.
  ERR_CONFIGURATION_STORE_NOT_CONFIGURED: 500,
  ERR_CONFIGURATION_STORE_NOT_FOUND: 400,
  ERR_CONFIGURATION_GET: 500,
  ERR_CONFIGURATION_SUBSCRIBE: 500,
  ERR_CONFIGURATION_UNSUBSCRIBE: 500,
  ERR_APP_CHANNEL_NIL: 500,
  // Lock.
  ERR_LOCK_STORE_NOT_CONFIGURED: 500,
  ERR_LOCK_STORE_NOT_FOUND: 400,
  ERR_TRY_LOCK: 500,
  ERR_UNLOCK: 500,
  // Metadata, health.
  ERR_METADATA_GET: 500,
  ERR_HEALTH_NOT_READY: 500,
  ERR_HEALTH_APPID_NOT_MATCH: 500,
}

/** For codes Dapr does not list: the HTTP status of the gRPC status (Dapr's HTTPStatusFromCode). */
function fromGrpc(status: RuntimeStatusCode): number {
  switch (status) {
    case RuntimeStatus.OK: return 200
    case RuntimeStatus.CANCELLED: return 499
    case RuntimeStatus.INVALID_ARGUMENT: return 400
    case RuntimeStatus.DEADLINE_EXCEEDED: return 504
    case RuntimeStatus.NOT_FOUND: return 404
    case RuntimeStatus.ALREADY_EXISTS: return 409
    case RuntimeStatus.PERMISSION_DENIED: return 403
    case RuntimeStatus.RESOURCE_EXHAUSTED: return 429
    case RuntimeStatus.FAILED_PRECONDITION: return 400
    case RuntimeStatus.ABORTED: return 409
    case RuntimeStatus.UNIMPLEMENTED: return 501
    case RuntimeStatus.UNAVAILABLE: return 503
    case RuntimeStatus.UNAUTHENTICATED: return 401
    default: return 500
  }
}

function byCause(errorCode: string, status: RuntimeStatusCode): number | undefined {
  switch (errorCode) {
    // Dapr's stateErrorResponse: ETagMismatch 409, ETagInvalid 400, anything else 500. The
    // components report a mismatch as FAILED_PRECONDITION (what Dapr's gRPC API answers).
    // A store past its limits (state.in-memory) answers RESOURCE_EXHAUSTED: 429, as Dapr's
    // HTTPStatusFromCode maps it.
    case 'ERR_STATE_SAVE':
    case 'ERR_STATE_DELETE':
      if (status === RuntimeStatus.FAILED_PRECONDITION || status === RuntimeStatus.ABORTED) return 409
      if (status === RuntimeStatus.INVALID_ARGUMENT) return 400
      if (status === RuntimeStatus.RESOURCE_EXHAUSTED) return 429
      return 500
    case 'ERR_STATE_TRANSACTION':
      return status === RuntimeStatus.RESOURCE_EXHAUSTED ? 429 : undefined
    // Dapr's onDirectMessage: callee-side PermissionDenied keeps 403, every other failure is 500.
    case 'ERR_DIRECT_INVOKE':
      if (status === RuntimeStatus.PERMISSION_DENIED) return 403
      if (status === RuntimeStatus.NOT_FOUND) return 404
      return 500
    default:
      return undefined
  }
}

/** The HTTP answer for a handler's failure (a RuntimeApiError or its cloned form; anything else is a 500). */
export function httpErrorOf(err: unknown): DaprHttpError {
  if (!isRuntimeApiErrorData(err)) {
    return { status: 500, errorCode: 'ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) }
  }
  const status = byCause(err.errorCode, err.status) ?? own(BY_CODE, err.errorCode) ?? fromGrpc(err.status)
  return { status, errorCode: err.errorCode === '' ? 'ERR_INTERNAL' : err.errorCode, message: err.message }
}

/** Dapr's `ERR_MALFORMED_REQUEST` for a body that does not decode. */
export function malformed(detail: string): RuntimeApiError {
  return new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_MALFORMED_REQUEST', `failed deserializing HTTP body: ${detail}`)
}

/** An error with an explicit Dapr code (status from BY_CODE, else from `status`). */
export function daprError(errorCode: string, message: string, status: RuntimeStatusCode = RuntimeStatus.INTERNAL): RuntimeApiError {
  return new RuntimeApiError(status, errorCode, message)
}
