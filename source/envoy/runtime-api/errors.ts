/** gRPC status codes the runtime API answers with (the subset Dapr uses). */
export const RuntimeStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const
export type RuntimeStatusCode = (typeof RuntimeStatus)[keyof typeof RuntimeStatus]

/**
 * A runtime API failure with a gRPC status and, for the HTTP API, Dapr's error code
 * (`ERR_STATE_STORE_NOT_FOUND`, ...). Crosses threads as `{ status, errorCode, message }`.
 */
export interface RuntimeApiErrorData {
  status: RuntimeStatusCode
  /** Dapr's error code for the HTTP API, e.g. ERR_STATE_SAVE. */
  errorCode: string
  message: string
}
