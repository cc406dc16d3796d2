import { type SerializedError, deserializeError, serializeError } from '../errors/envoy-ts-error.js'
import { ErrorCode } from '../errors/codes.js'
import { EnvoyTsError } from '../errors/envoy-ts-error.js'
import { startTimer } from '../event/timer-impl.js'
import type { Timer } from '../../envoy/event/timer.js'

/** The port-like end of a thread: `parentPort` in a worker, the `Worker` object on main. */
export interface PortLike {
  postMessage(value: unknown, transferList?: readonly (ArrayBuffer | import('node:worker_threads').MessagePort)[]): void
  on(event: 'message', listener: (value: unknown) => void): unknown
  off(event: 'message', listener: (value: unknown) => void): unknown
}

/** A method table: method name → [params, result]. */
export type MethodTable = Record<string, { params: unknown; result: unknown }>
/** An event table: event name → payload. */
export type EventTable = Record<string, unknown>

type Envelope =
  | { rpc: 'req'; id: number; method: string; params: unknown }
  | { rpc: 'res'; id: number; result?: unknown; error?: SerializedError }
  | { rpc: 'evt'; name: string; data: unknown }

interface Pending {
  resolve(v: unknown): void
  reject(e: Error): void
  timer: Timer | undefined
}

function isEnvelope(v: unknown): v is Envelope {
  return v !== null && typeof v === 'object' && 'rpc' in v
}

/**
 * Typed requests, replies and events over one port. `Out` are the methods this side calls on
 * the other, `In` the ones it serves; errors come back as `{ code, message }` and are rethrown
 * as EnvoyTsError. Messages that are not envelopes are ignored (they belong to someone else).
 */
export class RpcChannel<Out extends MethodTable, In extends MethodTable, OutEvents extends EventTable, InEvents extends EventTable> {
  private readonly port: PortLike
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly handlers = new Map<string, (params: unknown) => unknown>()
  private readonly listeners = new Map<string, Array<(data: unknown) => void>>()
  private readonly onMessage = (m: unknown): void => this.dispatch(m)
  private readonly onError: (err: unknown, where: string) => void

  /**
   * `onError` hears about an event listener that threw (the event is otherwise dropped); by
   * default it becomes a process warning. Nothing that happens while dispatching a message
   * escapes as an uncaught exception.
   */
  constructor(port: PortLike, onError?: (err: unknown, where: string) => void) {
    this.port = port
    this.onError = onError ?? ((err, where) => process.emitWarning(`${where}: ${err instanceof Error ? err.message : String(err)}`, 'RpcChannelWarning'))
    port.on('message', this.onMessage)
  }

  call<M extends keyof Out & string>(method: M, params: Out[M]['params'], timeoutMs = 0): Promise<Out[M]['result']> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0
        ? startTimer(timeoutMs, () => {
          this.pending.delete(id)
          reject(new EnvoyTsError(ErrorCode.WORKER_RPC_TIMEOUT, `${method}: no reply within ${timeoutMs} ms`))
        })
        : undefined
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
      try {
        this.port.postMessage({ rpc: 'req', id, method, params } satisfies Envelope)
      } catch (err) {
        // Parameters that cannot be structured-cloned (a function, a symbol): fail this call only.
        this.pending.delete(id)
        timer?.disableTimer()
        reject(new EnvoyTsError(ErrorCode.INTERNAL, `${method}: cannot send the request: ${(err as Error).message}`))
      }
    })
  }

  handle<M extends keyof In & string>(method: M, fn: (params: In[M]['params']) => In[M]['result'] | Promise<In[M]['result']>): void {
    this.handlers.set(method, fn as (params: unknown) => unknown)
  }

  emit<E extends keyof OutEvents & string>(name: E, data: OutEvents[E]): void {
    this.port.postMessage({ rpc: 'evt', name, data } satisfies Envelope)
  }

  on<E extends keyof InEvents & string>(name: E, fn: (data: InEvents[E]) => void): void {
    const list = this.listeners.get(name) ?? []
    list.push(fn as (data: unknown) => void)
    this.listeners.set(name, list)
  }

  /** Fails every call still waiting (the other side is gone). */
  close(reason: string): void {
    this.port.off('message', this.onMessage)
    for (const [id, p] of this.pending) {
      p.timer?.disableTimer()
      p.reject(new EnvoyTsError(ErrorCode.WORKER_GONE, reason))
      this.pending.delete(id)
    }
  }

  private dispatch(m: unknown): void {
    if (!isEnvelope(m)) return
    if (m.rpc === 'res') {
      const p = this.pending.get(m.id)
      if (p === undefined) return
      this.pending.delete(m.id)
      p.timer?.disableTimer()
      if (m.error !== undefined) p.reject(deserializeError(m.error))
      else p.resolve(m.result)
    } else if (m.rpc === 'req') {
      void this.serve(m.id, m.method, m.params)
    } else {
      for (const fn of this.listeners.get(m.name) ?? []) {
        try {
          fn(m.data)
        } catch (err) {
          this.onError(err, `listener of ${m.name}`)
        }
      }
    }
  }

  /**
   * Runs a handler and always answers: its result, or `{ code, message }` when it throws,
   * rejects, or returns something structured clone cannot copy. Nothing a handler does (or a
   * request's content makes it do) escapes as an unhandled rejection.
   */
  private async serve(id: number, method: string, params: unknown): Promise<void> {
    const fn = this.handlers.get(method)
    let reply: Envelope
    try {
      if (fn === undefined) throw new EnvoyTsError(ErrorCode.INTERNAL, `no handler for ${method}`)
      reply = { rpc: 'res', id, result: await fn(params) }
    } catch (err) {
      reply = { rpc: 'res', id, error: safeError(err) }
    }
    try {
      this.port.postMessage(reply)
    } catch (err) {
      const message = `${method}: the reply cannot be sent: ${(err as Error).message}`
      try {
        this.port.postMessage({ rpc: 'res', id, error: { code: ErrorCode.INTERNAL, message } } satisfies Envelope)
      } catch {
        // The port is closed: the caller's side is gone and fails its own calls.
      }
    }
  }
}

/** serializeError, falling back to a plain INTERNAL error when the thrown value is odd. */
function safeError(err: unknown): SerializedError {
  try {
    return serializeError(err)
  } catch {
    return { code: ErrorCode.INTERNAL, message: 'handler failed with a value that is not an Error' }
  }
}
