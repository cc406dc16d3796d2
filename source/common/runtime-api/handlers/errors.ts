import { type RuntimeApiErrorData, RuntimeStatus, type RuntimeStatusCode } from '../../../envoy/runtime-api/errors.js'
import type { ComponentKind } from '../../../envoy/runtime-api/components.js'
import { isRuntimeApiErrorData, RuntimeApiError } from '../runtime-api-error.js'
import type { RuntimeApiContext } from './context.js'

/**
 * Dapr's error texts and codes (dapr/dapr pkg/messages), so clients that match on them keep
 * working. Component failures are wrapped with the operation's code and message; a component
 * error that carries a precise status (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION for an
 * etag mismatch, ...) keeps it, anything else becomes INTERNAL.
 */
export function apiError(status: RuntimeStatusCode, errorCode: string, message: string): RuntimeApiError {
  return new RuntimeApiError(status, errorCode, message)
}

export function invalid(errorCode: string, message: string): RuntimeApiError {
  return new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, errorCode, message)
}

/** A failure inside a component during `what` (Dapr: "<what>: <cause>"). */
export function componentError(err: unknown, errorCode: string, what: string): RuntimeApiError {
  const d: RuntimeApiErrorData = isRuntimeApiErrorData(err)
    ? err
    : { status: RuntimeStatus.INTERNAL, errorCode: '', message: err instanceof Error ? err.message : String(err) }
  const keep = d.status !== RuntimeStatus.INTERNAL && d.status !== RuntimeStatus.UNKNOWN && d.status !== RuntimeStatus.OK
  return new RuntimeApiError(keep ? d.status : RuntimeStatus.INTERNAL, errorCode, `${what}: ${d.message}`)
}

interface Missing {
  notConfigured: [string, string]
  notFound: [string, (name: string) => string]
}

/** Dapr's "not configured" (FAILED_PRECONDITION) and "not found" (INVALID_ARGUMENT) per kind. */
const MISSING: Record<ComponentKind, Missing> = {
  state: { notConfigured: ['ERR_STATE_STORE_NOT_CONFIGURED', 'state store is not configured'], notFound: ['ERR_STATE_STORE_NOT_FOUND', (n) => `state store ${n} is not found`] },
  pubsub: { notConfigured: ['ERR_PUBSUB_NOT_CONFIGURED', 'no pubsub is configured'], notFound: ['ERR_PUBSUB_NOT_FOUND', (n) => `pubsub ${n} not found`] },
  lock: { notConfigured: ['ERR_LOCK_STORE_NOT_CONFIGURED', 'lock store is not configured'], notFound: ['ERR_LOCK_STORE_NOT_FOUND', (n) => `lock store ${n} not found`] },
  sequencer: { notConfigured: ['ERR_SEQUENCER_STORE_NOT_CONFIGURED', 'sequencer store is not configured'], notFound: ['ERR_SEQUENCER_STORE_NOT_FOUND', (n) => `sequencer store ${n} not found`] },
  configuration: { notConfigured: ['ERR_CONFIGURATION_STORE_NOT_CONFIGURED', 'configuration stores not configured'], notFound: ['ERR_CONFIGURATION_STORE_NOT_FOUND', (n) => `configuration store ${n} not found`] },
  secretstores: { notConfigured: ['ERR_SECRET_STORES_NOT_CONFIGURED', 'secret store is not configured'], notFound: ['ERR_SECRET_STORE_NOT_FOUND', (n) => `failed finding secret store with key ${n}`] },
  file: { notConfigured: ['ERR_FILE_STORE_NOT_CONFIGURED', 'file store is not configured'], notFound: ['ERR_FILE_STORE_NOT_FOUND', (n) => `file store ${n} not found`] },
  bindings: { notConfigured: ['ERR_INVOKE_OUTPUT_BINDING', 'no output binding is configured'], notFound: ['ERR_INVOKE_OUTPUT_BINDING', (n) => `error invoking output binding ${n}: couldn't find output binding ${n}`] },
}

/** The error for a component name that resolves to nothing. */
export function missingComponent(ctx: RuntimeApiContext, kind: ComponentKind, name: string): RuntimeApiError {
  const m = MISSING[kind]
  if (!ctx.components.list().some((c) => c.kind === kind)) return apiError(RuntimeStatus.FAILED_PRECONDITION, m.notConfigured[0], m.notConfigured[1])
  return apiError(kind === 'bindings' ? RuntimeStatus.NOT_FOUND : RuntimeStatus.INVALID_ARGUMENT, m.notFound[0], m.notFound[1](name))
}

/** Metadata worth sending on: undefined for an empty map (saves a copy across threads). */
export function nonEmpty(m: Record<string, string> | undefined | null): Record<string, string> | undefined {
  if (m === undefined || m === null) return undefined
  for (const _ in m) return m
  return undefined
}
