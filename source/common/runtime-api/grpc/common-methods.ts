import type { Metadata, UntypedServiceImplementation } from '@grpc/grpc-js'
import type { DeliveryStatus, StateItem } from '../../../envoy/runtime-api/components.js'
import type { RuntimeApiContext } from '../handlers/context.js'
import { apiError, nonEmpty } from '../handlers/errors.js'
import { grpcStatusFromHttp, HTTP_VERBS, invokeService } from '../handlers/invoke.js'
import { bulkPublishEvent, publishEvent } from '../handlers/pubsub.js'
import { getBulkSecret, getSecret } from '../handlers/secrets.js'
import { invokeBinding } from '../handlers/bindings.js'
import {
  concurrencyOf, consistencyOf, deleteBulkState, deleteState, executeStateTransaction, getBulkState, getState, saveState, stateOperation,
} from '../handlers/state.js'
import { type ApiTokenCheck, unary } from './calls.js'
import {
  EMPTY, type PBulkPublishRequest, type PDeleteBulkStateRequest, type PDeleteStateRequest, type PExecuteStateTransactionRequest,
  type PGetBulkSecretRequest, type PGetBulkStateRequest, type PGetSecretRequest, type PGetStateRequest, type PInvokeBindingRequest,
  type PInvokeServiceRequest, type PPublishEventRequest, type PSaveStateRequest, type PStateItem,
} from './messages.js'
import { setOwn } from '../../common/own-keys.js'

const NO_BYTES = Buffer.alloc(0)

export function stateItem(p: PStateItem): StateItem {
  const item: StateItem = { key: p.key, value: p.value }
  const etag = p.etag?.value
  if (etag !== undefined && etag !== '') item.etag = etag
  const md = nonEmpty(p.metadata)
  if (md !== undefined) {
    item.metadata = md
    const ct = md['contentType']
    if (ct !== undefined && ct !== '') item.contentType = ct
  }
  const concurrency = concurrencyOf(p.options?.concurrency)
  if (concurrency !== undefined) item.concurrency = concurrency
  const consistency = consistencyOf(p.options?.consistency)
  if (consistency !== undefined) item.consistency = consistency
  return item
}

/** Status names by TopicEventResponse.TopicEventResponseStatus number. */
export const DELIVERY_STATUS: readonly DeliveryStatus[] = ['SUCCESS', 'RETRY', 'DROP']

/** Caller metadata that goes to the invoked app as headers (not gRPC's own, not the token). */
function forwardedHeaders(md: Metadata): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(md.getMap())) {
    if (typeof v !== 'string' || k.startsWith(':') || k.startsWith('grpc-') || k.endsWith('-bin')) continue
    if (k === 'content-type' || k === 'te' || k === 'user-agent' || k === 'dapr-api-token' || k === 'host') continue
    setOwn(out, k, v)
  }
  return out
}

/**
 * The rpcs whose messages Layotto and Dapr share byte for byte (state, publish, bindings,
 * secrets, InvokeService), as grpc-js handlers keyed by method name.
 */
export function sharedMethods(ctx: RuntimeApiContext, auth: ApiTokenCheck): UntypedServiceImplementation {
  return {
    GetState: unary(auth, async (r: PGetStateRequest) => {
      const got = await getState(ctx, r.store_name, r.key, nonEmpty(r.metadata))
      if (got.value === undefined) return EMPTY
      return { data: got.value, etag: got.etag ?? '', metadata: got.metadata ?? EMPTY }
    }),
    GetBulkState: unary(auth, async (r: PGetBulkStateRequest) => {
      const items = await getBulkState(ctx, r.store_name, r.keys, nonEmpty(r.metadata))
      return {
        items: items.map((i) => ({ key: i.key, data: i.value ?? NO_BYTES, etag: i.etag ?? '', error: i.error ?? '', metadata: i.metadata ?? EMPTY })),
      }
    }),
    SaveState: unary(auth, async (r: PSaveStateRequest) => {
      await saveState(ctx, r.store_name, r.states.map(stateItem))
      return EMPTY
    }),
    DeleteState: unary(auth, async (r: PDeleteStateRequest) => {
      const etag = r.etag?.value
      await deleteState(ctx, r.store_name, r.key, etag === '' ? undefined : etag, nonEmpty(r.metadata), concurrencyOf(r.options?.concurrency))
      return EMPTY
    }),
    DeleteBulkState: unary(auth, async (r: PDeleteBulkStateRequest) => {
      await deleteBulkState(ctx, r.store_name, r.states.map((s) => {
        const i = stateItem(s)
        const out: { key: string; etag?: string; metadata?: Record<string, string> } = { key: i.key }
        if (i.etag !== undefined) out.etag = i.etag
        if (i.metadata !== undefined) out.metadata = i.metadata
        return out
      }))
      return EMPTY
    }),
    ExecuteStateTransaction: unary(auth, async (r: PExecuteStateTransactionRequest) => {
      const ops = r.operations.map((o) => stateOperation(o.operationType, stateItem(o.request ?? { key: '', value: NO_BYTES, etag: null, metadata: EMPTY, options: null })))
      await executeStateTransaction(ctx, r.storeName, ops, nonEmpty(r.metadata))
      return EMPTY
    }),
    PublishEvent: unary(auth, async (r: PPublishEventRequest) => {
      await publishEvent(ctx, r.pubsub_name, r.topic, r.data, r.data_content_type, nonEmpty(r.metadata))
      return EMPTY
    }),
    InvokeBinding: unary(auth, async (r: PInvokeBindingRequest) => {
      const res = await invokeBinding(ctx, r.name, r.operation, r.data, r.metadata ?? {})
      return { data: res.data, metadata: res.metadata }
    }),
    GetSecret: unary(auth, async (r: PGetSecretRequest) => ({ data: await getSecret(ctx, r.store_name, r.key, nonEmpty(r.metadata)) })),
    GetBulkSecret: unary(auth, async (r: PGetBulkSecretRequest) => {
      const all = await getBulkSecret(ctx, r.store_name, nonEmpty(r.metadata))
      const data: Record<string, { secrets: Record<string, string> }> = {}
      for (const [k, secrets] of Object.entries(all)) setOwn(data, k, { secrets })
      return { data }
    }),
    InvokeService: unary(auth, async (r: PInvokeServiceRequest, call) => {
      const m = r.message
      const res = await invokeService(ctx, {
        appId: r.id,
        method: m?.method ?? '',
        data: m?.data?.value ?? NO_BYTES,
        contentType: m?.content_type ?? '',
        verb: HTTP_VERBS[m?.http_extension?.verb ?? 0] ?? 'POST',
        querystring: m?.http_extension?.querystring ?? '',
        headers: forwardedHeaders(call.metadata),
      })
      const status = grpcStatusFromHttp(res.status)
      if (status !== 0) {
        const body = Buffer.from(res.data.buffer, res.data.byteOffset, Math.min(res.data.byteLength, 1024)).toString('utf8')
        throw apiError(status, 'ERR_DIRECT_INVOKE', `the invoked app ${r.id} answered HTTP ${res.status}${body === '' ? '' : `: ${body}`}`)
      }
      return { data: { type_url: '', value: res.data }, content_type: res.contentType }
    }),
  }
}

/** Dapr's BulkPublishEvent (and its Alpha1 name). */
export function bulkPublishMethod(ctx: RuntimeApiContext, auth: ApiTokenCheck): UntypedServiceImplementation[string] {
  return unary(auth, async (r: PBulkPublishRequest) => {
    const failed = await bulkPublishEvent(ctx, r.pubsub_name, r.topic, r.entries.map((e) => ({
      entryId: e.entry_id, event: e.event, contentType: e.content_type, metadata: nonEmpty(e.metadata),
    })), nonEmpty(r.metadata))
    return { failedEntries: failed.map((f) => ({ entry_id: f.entryId, error: f.error })) }
  })
}
