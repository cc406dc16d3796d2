import { timingSafeEqual } from 'node:crypto'
import {
  type handleBidiStreamingCall, type handleClientStreamingCall, type handleServerStreamingCall, type handleUnaryCall,
  type Metadata, type ServerDuplexStream, type ServerErrorResponse, type ServerReadableStream,
  type ServerUnaryCall, type ServerWritableStream,
} from '@grpc/grpc-js'
import { RuntimeStatus } from '../../../envoy/runtime-api/errors.js'
import { effectiveApiToken } from '../api-token.js'
import { isRuntimeApiErrorData, RuntimeApiError } from '../runtime-api-error.js'

/** A failure as grpc-js sends it: status code and message. */
export function grpcError(err: unknown): Partial<ServerErrorResponse> & { code: number; details: string } {
  if (isRuntimeApiErrorData(err)) return { code: err.status, details: err.message, message: err.message }
  const message = err instanceof Error ? err.message : String(err)
  return { code: RuntimeStatus.INTERNAL, details: message, message }
}

/**
 * Dapr's API token check (`api_token` in the config, else the `DAPR_API_TOKEN` environment
 * variable): every call carries exactly one `dapr-api-token: <token>` metadata value or answers
 * UNAUTHENTICATED (a second value, even after a right one, is refused). '' disables the check.
 */
export class ApiTokenCheck {
  private readonly token: Buffer | undefined

  constructor(token: string) {
    const effective = effectiveApiToken(token)
    this.token = effective === '' ? undefined : Buffer.from(effective)
  }

  /** The error to answer, or undefined when the call may go on. */
  check(metadata: Metadata): RuntimeApiError | undefined {
    if (this.token === undefined) return undefined
    const values = metadata.get('dapr-api-token')
    if (values.length > 1) return new RuntimeApiError(RuntimeStatus.UNAUTHENTICATED, 'ERR_UNAUTHENTICATED', 'authentication error: more than one dapr-api-token metadata value')
    const got = values[0]
    if (got === undefined) return new RuntimeApiError(RuntimeStatus.UNAUTHENTICATED, 'ERR_UNAUTHENTICATED', 'authentication error: missing dapr-api-token metadata')
    const b = typeof got === 'string' ? Buffer.from(got) : got
    if (b.length !== this.token.length || !timingSafeEqual(b, this.token)) {
      return new RuntimeApiError(RuntimeStatus.UNAUTHENTICATED, 'ERR_UNAUTHENTICATED', 'authentication error: api token mismatch')
    }
    return undefined
  }
}

/** A unary rpc from `fn(request, call)`: its result is the response, its throw the status. */
export function unary<Req, Res>(auth: ApiTokenCheck, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const denied = auth.check(call.metadata)
    if (denied !== undefined) {
      callback(grpcError(denied))
      return
    }
    let p: Promise<Res>
    try {
      p = fn(call.request, call)
    } catch (err) {
      callback(grpcError(err))
      return
    }
    p.then((res) => callback(null, res), (err: unknown) => callback(grpcError(err)))
  }
}

/**
 * A stream rpc run by `fn(call)`; a throw (or rejection) ends the call with that status. `fn`
 * ends successful streams itself.
 */
export function serverStream<Req, Res>(auth: ApiTokenCheck, fn: (call: ServerWritableStream<Req, Res>) => Promise<void>): handleServerStreamingCall<Req, Res> {
  return (call) => runStream(auth, call, () => fn(call))
}

export function bidiStream<Req, Res>(auth: ApiTokenCheck, fn: (call: ServerDuplexStream<Req, Res>) => Promise<void>): handleBidiStreamingCall<Req, Res> {
  return (call) => runStream(auth, call, () => fn(call))
}

export function clientStream<Req, Res>(auth: ApiTokenCheck, fn: (call: ServerReadableStream<Req, Res>) => Promise<Res>): handleClientStreamingCall<Req, Res> {
  return (call, callback) => {
    const denied = auth.check(call.metadata)
    if (denied !== undefined) {
      callback(grpcError(denied))
      return
    }
    fn(call).then((res) => callback(null, res), (err: unknown) => callback(grpcError(err)))
  }
}

function runStream(auth: ApiTokenCheck, call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>, fn: () => Promise<void>): void {
  const fail = (err: unknown): void => {
    if (!call.writableEnded && !call.destroyed) call.emit('error', grpcError(err))
  }
  const denied = auth.check(call.metadata)
  if (denied !== undefined) {
    fail(denied)
    return
  }
  try {
    fn().catch(fail)
  } catch (err) {
    fail(err)
  }
}

/** Reads a client stream to its end (or failure). */
export function readAll<T>(call: ServerReadableStream<T, unknown> | ServerDuplexStream<T, unknown>, onMessage: (m: T) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    call.on('data', (m: T) => {
      try {
        onMessage(m)
      } catch (err) {
        reject(err)
      }
    })
    call.on('end', () => resolve())
    call.on('error', (err: unknown) => reject(err))
    call.on('cancelled', () => reject(new RuntimeApiError(RuntimeStatus.CANCELLED, 'ERR_CANCELLED', 'the call was cancelled')))
  })
}
