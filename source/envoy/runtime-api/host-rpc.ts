import type { ComponentKind, DeliveryStatus } from './components.js'
import type { RuntimeApiErrorData } from './errors.js'

/**
 * The wire types of the RuntimeHost's worker → main requests (source/envoy/server/worker.ts,
 * `runtime.*`). Everything here crosses a MessagePort by structured clone: plain data only,
 * byte arrays compact (a view's whole ArrayBuffer would be copied).
 */

/**
 * A runtime API outcome: the value, or the error as `{ status, errorCode, message }` (thrown
 * errors would lose status and errorCode on the way, see RpcChannel).
 */
export type RuntimeResult<T> = { ok: true; value: T } | { ok: false; error: RuntimeApiErrorData }

/** One method call on an embedded component that lives on main. */
export interface RuntimeCallParams {
  kind: ComponentKind
  /** The component's name (unique per kind in the process; main checked that at start). */
  name: string
  /** A method of the component interface of `kind` (source/envoy/runtime-api/components.ts). */
  method: string
  args: unknown[]
}

/**
 * A streaming subscription a worker opens on main; events come back as `runtime.stream`. The
 * worker picks `id` (unique process-wide, `<worker>:<n>`) so it can route events that arrive
 * before the reply.
 */
export type RuntimeSubscribeParams =
  | { id: string; kind: 'configuration'; store: string; keys: string[] }
  | { id: string; kind: 'topic'; pubsub: string; topic: string; metadata: Record<string, string> }

/** The outcome of one topic delivery, from the worker whose stream carried it. */
export interface RuntimeAckEvent {
  subscriptionId: string
  deliveryId: string
  status: DeliveryStatus
}

/** A subscription of the application, as GetMetadata reports it. */
export interface RuntimeAppSubscription {
  pubsubName: string
  topic: string
  route: string
  metadata: Record<string, string>
}
