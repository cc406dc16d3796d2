import type { ServerDuplexStream, ServerReadableStream, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js'
import type { ConfigurationItem } from '../../../envoy/runtime-api/components.js'
import type { RuntimeApiContext } from '../handlers/context.js'
import {
  deleteConfiguration, getConfiguration, saveConfiguration, subscribeConfiguration,
} from '../handlers/configuration.js'
import { nonEmpty } from '../handlers/errors.js'
import { delFile, getFile, getFileMeta, listFiles, putFile } from '../handlers/file.js'
import { keepAlive, tryLock, unlock } from '../handlers/lock.js'
import { getNextId } from '../handlers/sequencer.js'
import { type ApiTokenCheck, bidiStream, clientStream, grpcError, readAll, serverStream, unary } from './calls.js'
import { sharedMethods } from './common-methods.js'
import { EMPTY, type PAny, type StringMap } from './messages.js'
import { topicEventsStream } from './topic-stream.js'
import { setOwn } from '../../common/own-keys.js'

/** Layotto's service (api/spec/proto/runtime/v1/runtime.proto). */
export const LAYOTTO_SERVICE = 'spec.proto.runtime.v1.Runtime'

/** GetFile chunk size. */
const FILE_CHUNK = 64 * 1024

/** Unlock / LockKeepAlive status numbers (Layotto's names, Dapr's numbers). */
const UNLOCK_STATUS = { SUCCESS: 0, LOCK_DOES_NOT_EXIST: 1, LOCK_BELONGS_TO_OTHERS: 2, INTERNAL_ERROR: 3 } as const

interface PConfigurationItem { key: string; content: string; group: string; label: string; tags: StringMap; metadata: StringMap }
interface PConfigurationQuery { store_name: string; app_id: string; group: string; label: string; keys: string[]; metadata: StringMap }
interface PFileRequest { store_name: string; name: string; metadata: StringMap }

function layottoItem(i: ConfigurationItem): PConfigurationItem {
  return { key: i.key, content: i.value, group: i.group ?? '', label: i.label ?? '', tags: i.tags ?? EMPTY, metadata: i.metadata ?? EMPTY }
}

function groupLabel(r: { group: string; label: string }): { group?: string; label?: string } {
  const o: { group?: string; label?: string } = {}
  if (r.group !== '') o.group = r.group
  if (r.label !== '') o.label = r.label
  return o
}

function fileRequest(r: { request: PFileRequest | null }): PFileRequest {
  return r.request ?? { store_name: '', name: '', metadata: EMPTY }
}

/** Every rpc of Layotto's Runtime service, as grpc-js handlers. */
export function layottoService(ctx: RuntimeApiContext, auth: ApiTokenCheck): UntypedServiceImplementation {
  return {
    ...sharedMethods(ctx, auth),
    SayHello: unary(auth, async (r: { service_name: string; name: string; data: PAny | null }) => ({
      hello: r.name === '' ? 'greeting' : `hello, ${r.name}`,
      ...(r.data !== null ? { data: { type_url: r.data.type_url, value: r.data.value } } : {}),
    })),

    GetConfiguration: unary(auth, async (r: PConfigurationQuery) => {
      const items = await getConfiguration(ctx, r.store_name, r.keys, { ...groupLabel(r), ...(nonEmpty(r.metadata) !== undefined ? { metadata: r.metadata } : {}) })
      return { items: items.map(layottoItem) }
    }),
    SaveConfiguration: unary(auth, async (r: { store_name: string; items: PConfigurationItem[]; metadata: StringMap }) => {
      await saveConfiguration(ctx, r.store_name, r.items.map((i) => {
        const item: ConfigurationItem = { key: i.key, value: i.content, version: '', ...groupLabel(i) }
        if (nonEmpty(i.tags) !== undefined) item.tags = { ...i.tags }
        if (nonEmpty(i.metadata) !== undefined) item.metadata = { ...i.metadata }
        return item
      }), nonEmpty(r.metadata))
      return EMPTY
    }),
    DeleteConfiguration: unary(auth, async (r: PConfigurationQuery) => {
      await deleteConfiguration(ctx, r.store_name, r.keys, groupLabel(r))
      return EMPTY
    }),
    SubscribeConfiguration: bidiStream(auth, (call: ServerDuplexStream<PConfigurationQuery, unknown>) => {
      const subs: Array<Promise<{ stop(): Promise<void> } | undefined>> = []
      const stopAll = (): void => { for (const s of subs) void s.then((x) => x?.stop()) }
      call.on('cancelled', stopAll)
      return readAll(call, (r) => {
        const store = r.store_name
        subs.push(subscribeConfiguration(ctx, store, r.keys, (items) => {
          if (!call.writableEnded) call.write({ store_name: store, app_id: r.app_id, items: items.map(layottoItem) })
        }).catch((err: unknown) => {
          if (!call.writableEnded) call.emit('error', grpcError(err))
          return undefined
        }))
      }).then(() => {
        stopAll()
        call.end()
      }, (err: unknown) => {
        stopAll()
        throw err
      })
    }),

    TryLock: unary(auth, async (r: { store_name: string; resource_id: string; lock_owner: string; expire: number }) => ({
      success: await tryLock(ctx, r.store_name, r.resource_id, r.lock_owner, r.expire),
    })),
    Unlock: unary(auth, async (r: { store_name: string; resource_id: string; lock_owner: string }) => ({
      status: UNLOCK_STATUS[await unlock(ctx, r.store_name, r.resource_id, r.lock_owner)],
    })),
    LockKeepAlive: unary(auth, async (r: { store_name: string; resource_id: string; lock_owner: string; expire: number }) => ({
      status: (await keepAlive(ctx, r.store_name, r.resource_id, r.lock_owner, r.expire)) ? UNLOCK_STATUS.SUCCESS : UNLOCK_STATUS.LOCK_DOES_NOT_EXIST,
    })),

    GetNextId: unary(auth, async (r: { store_name: string; key: string; options: { increment: number } | null; metadata: StringMap }) => {
      const id = await getNextId(ctx, r.store_name, r.key, r.options?.increment === 1 ? 'STRONG' : 'WEAK', nonEmpty(r.metadata))
      return { next_id: id.toString() }
    }),

    SubscribeTopicEvents: topicEventsStream(ctx, auth, 'layotto'),

    GetFile: serverStream(auth, async (call: ServerWritableStream<{ store_name: string; name: string; metadata: StringMap }, unknown>) => {
      const r = call.request
      const data = await getFile(ctx, r.store_name, r.name, nonEmpty(r.metadata))
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      for (let off = 0; off < buf.length && !call.cancelled; off += FILE_CHUNK) {
        if (!call.write({ data: buf.subarray(off, off + FILE_CHUNK) })) await new Promise((resolve) => call.once('drain', resolve))
      }
      call.end()
    }),
    PutFile: clientStream(auth, async (call: ServerReadableStream<{ store_name: string; name: string; data: Buffer; metadata: StringMap }, unknown>) => {
      let first: { store_name: string; name: string; metadata: StringMap } | undefined
      const chunks: Buffer[] = []
      await readAll(call, (m) => {
        first ??= { store_name: m.store_name, name: m.name, metadata: m.metadata }
        if (m.data.length > 0) chunks.push(m.data)
      })
      if (first === undefined) return EMPTY // an empty stream puts nothing
      await putFile(ctx, first.store_name, first.name, Buffer.concat(chunks), nonEmpty(first.metadata))
      return EMPTY
    }),
    ListFile: unary(auth, async (r: { request: PFileRequest | null; page_size: number; marker: string }) => {
      const q = fileRequest(r)
      const page = await listFiles(ctx, q.store_name, q.name, r.page_size, r.marker, nonEmpty(q.metadata))
      return {
        files: page.files.map((f) => ({ file_name: f.name, size: f.size, last_modified: f.lastModified, metadata: f.metadata ?? EMPTY })),
        marker: page.marker,
        is_truncated: page.truncated,
      }
    }),
    DelFile: unary(auth, async (r: { request: PFileRequest | null }) => {
      const q = fileRequest(r)
      await delFile(ctx, q.store_name, q.name, nonEmpty(q.metadata))
      return EMPTY
    }),
    GetFileMeta: unary(auth, async (r: { request: PFileRequest | null }) => {
      const q = fileRequest(r)
      const info = await getFileMeta(ctx, q.store_name, q.name, nonEmpty(q.metadata))
      const metadata: Record<string, { value: string[] }> = {}
      for (const [k, v] of Object.entries(info.metadata ?? {})) setOwn(metadata, k, { value: [v] })
      return { size: info.size, last_modified: info.lastModified, response: { metadata } }
    }),
  }
}
