import type {
  Concurrency, Consistency, StateGetResult, StateItem, StateOperation, StateStore,
} from '../../../envoy/runtime-api/components.js'
import type { RuntimeApiContext } from './context.js'
import { componentError, invalid, missingComponent } from './errors.js'

/**
 * State API (Dapr and Layotto, gRPC and HTTP). Keys go to the store as given: envoy-ts has one
 * app per runtime config, so Dapr's `<app-id>||` key prefix is not applied.
 */

export function stateStore(ctx: RuntimeApiContext, name: string): StateStore {
  const s = ctx.components.get('state', name)
  if (s === undefined) throw missingComponent(ctx, 'state', name)
  return s
}

function checkKey(store: string, key: string): void {
  if (key === '') throw invalid('ERR_MALFORMED_REQUEST', `key is empty in state store ${store}`)
}

/** Proto enum values (StateOptions.StateConcurrency / StateConsistency) → component values. */
export function concurrencyOf(v: number | undefined): Concurrency | undefined {
  return v === 1 ? 'first-write' : v === 2 ? 'last-write' : undefined
}

export function consistencyOf(v: number | undefined): Consistency | undefined {
  return v === 1 ? 'eventual' : v === 2 ? 'strong' : undefined
}

export async function getState(ctx: RuntimeApiContext, store: string, key: string, metadata?: Record<string, string>): Promise<StateGetResult> {
  const s = stateStore(ctx, store)
  checkKey(store, key)
  try {
    return await s.get(key, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_STATE_GET', `fail to get ${key} from state store ${store}`)
  }
}

export async function getBulkState(ctx: RuntimeApiContext, store: string, keys: string[], metadata?: Record<string, string>): Promise<Array<StateGetResult & { key: string; error?: string }>> {
  const s = stateStore(ctx, store)
  if (keys.length === 0) return []
  try {
    return await s.bulkGet(keys, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_STATE_BULK_GET', `failed getting bulk state from state store ${store}`)
  }
}

export async function saveState(ctx: RuntimeApiContext, store: string, items: StateItem[]): Promise<void> {
  const s = stateStore(ctx, store)
  if (items.length === 0) return
  for (const i of items) checkKey(store, i.key)
  try {
    await s.set(items)
  } catch (err) {
    throw componentError(err, 'ERR_STATE_SAVE', `failed saving state in state store ${store}`)
  }
}

export async function deleteState(ctx: RuntimeApiContext, store: string, key: string, etag?: string, metadata?: Record<string, string>, concurrency?: Concurrency): Promise<void> {
  const s = stateStore(ctx, store)
  checkKey(store, key)
  try {
    await s.delete(key, etag, metadata, concurrency)
  } catch (err) {
    throw componentError(err, 'ERR_STATE_DELETE', `failed deleting state with key ${key}`)
  }
}

export async function deleteBulkState(ctx: RuntimeApiContext, store: string, items: Array<{ key: string; etag?: string; metadata?: Record<string, string> }>): Promise<void> {
  const s = stateStore(ctx, store)
  if (items.length === 0) return
  for (const i of items) checkKey(store, i.key)
  try {
    await s.bulkDelete(items)
  } catch (err) {
    throw componentError(err, 'ERR_STATE_DELETE', `failed deleting state in state store ${store}`)
  }
}

/** One operation as the APIs spell it: `operationType` "upsert" or "delete" and a state item. */
export function stateOperation(operationType: string, item: StateItem): StateOperation {
  if (operationType === 'upsert') return { op: 'upsert', item }
  if (operationType === 'delete') {
    const op: StateOperation = { op: 'delete', key: item.key }
    if (item.etag !== undefined) op.etag = item.etag
    if (item.concurrency !== undefined) op.concurrency = item.concurrency
    if (item.metadata !== undefined) op.metadata = item.metadata
    return op
  }
  throw invalid('ERR_NOT_SUPPORTED_STATE_OPERATION', `operation type ${operationType} not supported`)
}

export async function executeStateTransaction(ctx: RuntimeApiContext, store: string, ops: StateOperation[], metadata?: Record<string, string>): Promise<void> {
  const s = stateStore(ctx, store)
  for (const op of ops) checkKey(store, op.op === 'upsert' ? op.item.key : op.key)
  if (ops.length === 0) return
  try {
    await s.transaction(ops, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_STATE_TRANSACTION', 'error while executing state transaction')
  }
}
