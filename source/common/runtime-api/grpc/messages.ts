/**
 * The decoded request messages the services read (protobufjs instances, see codec.ts): only
 * the fields used. Layotto's and Dapr's messages share these shapes where their wire formats
 * are identical (state, pub/sub, bindings, secrets, invoke).
 */
export type StringMap = Record<string, string>

export interface PEtag { value: string }
export interface PStateOptions { concurrency: number; consistency: number }
export interface PStateItem {
  key: string
  value: Buffer
  etag: PEtag | null
  metadata: StringMap
  options: PStateOptions | null
}

export interface PGetStateRequest { store_name: string; key: string; consistency: number; metadata: StringMap }
export interface PGetBulkStateRequest { store_name: string; keys: string[]; parallelism: number; metadata: StringMap }
export interface PSaveStateRequest { store_name: string; states: PStateItem[] }
export interface PDeleteStateRequest { store_name: string; key: string; etag: PEtag | null; options: PStateOptions | null; metadata: StringMap }
export interface PDeleteBulkStateRequest { store_name: string; states: PStateItem[] }
export interface PExecuteStateTransactionRequest {
  storeName: string
  operations: Array<{ operationType: string; request: PStateItem | null }>
  metadata: StringMap
}

export interface PPublishEventRequest { pubsub_name: string; topic: string; data: Buffer; data_content_type: string; metadata: StringMap }
export interface PBulkPublishRequest {
  pubsub_name: string
  topic: string
  entries: Array<{ entry_id: string; event: Buffer; content_type: string; metadata: StringMap }>
  metadata: StringMap
}

export interface PInvokeBindingRequest { name: string; data: Buffer; metadata: StringMap; operation: string }
export interface PGetSecretRequest { store_name: string; key: string; metadata: StringMap }
export interface PGetBulkSecretRequest { store_name: string; metadata: StringMap }

export interface PAny { type_url: string; value: Buffer }
export interface PInvokeServiceRequest {
  id: string
  message: {
    method: string
    data: PAny | null
    content_type: string
    http_extension: { verb: number; querystring: string } | null
  } | null
}

/** The topic stream requests of Layotto (SubscribeTopicEvents) and Dapr (…Alpha1). */
export interface PSubscribeTopicEventsRequest {
  initial_request?: { pubsub_name: string; topic: string; metadata: StringMap; dead_letter_topic?: string } | null
  event_processed?: { id: string; status: { status: number } | null } | null
}

export const EMPTY = {}
