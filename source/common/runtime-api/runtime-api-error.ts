import type { RuntimeApiErrorData, RuntimeStatusCode } from '../../envoy/runtime-api/errors.js'

/**
 * A runtime API failure (source/envoy/runtime-api/errors.ts): a gRPC status for the gRPC
 * services and Dapr's error code for the HTTP API. Components throw it; handlers map it.
 *
 * Match on `status` / `errorCode`, not `instanceof`: across threads it travels as
 * `{ status, errorCode, message }` (toRuntimeApiErrorData / fromRuntimeApiErrorData).
 */
export class RuntimeApiError extends Error {
  readonly status: RuntimeStatusCode
  readonly errorCode: string

  constructor(status: RuntimeStatusCode, errorCode: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.status = status
    this.errorCode = errorCode
    this.name = 'RuntimeApiError'
  }

  toData(): RuntimeApiErrorData {
    return { status: this.status, errorCode: this.errorCode, message: this.message }
  }
}

/** True for a RuntimeApiError or its structured-clone form. */
export function isRuntimeApiErrorData(err: unknown): err is RuntimeApiErrorData {
  if (err === null || typeof err !== 'object') return false
  const e = err as Partial<RuntimeApiErrorData>
  return typeof e.status === 'number' && typeof e.errorCode === 'string' && typeof e.message === 'string'
}

export function fromRuntimeApiErrorData(d: RuntimeApiErrorData): RuntimeApiError {
  return new RuntimeApiError(d.status, d.errorCode, d.message)
}
