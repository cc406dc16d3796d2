import type { FileInfo, FileStore } from '../../../envoy/runtime-api/components.js'
import type { RuntimeApiContext } from './context.js'
import { componentError, invalid, missingComponent } from './errors.js'

/** Layotto's file API. Stores confine names to themselves; the handlers only check presence. */

function fileStore(ctx: RuntimeApiContext, store: string, name: string, what: string): FileStore {
  const s = ctx.components.get('file', store)
  if (s === undefined) throw missingComponent(ctx, 'file', store)
  if (name === '' && what !== 'list') throw invalid('ERR_FILE_NAME_EMPTY', `file name is empty in file store ${store}`)
  return s
}

export async function getFile(ctx: RuntimeApiContext, store: string, name: string, metadata?: Record<string, string>): Promise<Uint8Array> {
  const s = fileStore(ctx, store, name, 'get')
  try {
    return await s.get(name, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_FILE_GET', `failed getting file ${name} from file store ${store}`)
  }
}

export async function putFile(ctx: RuntimeApiContext, store: string, name: string, data: Uint8Array, metadata?: Record<string, string>): Promise<void> {
  const s = fileStore(ctx, store, name, 'put')
  try {
    await s.put(name, data, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_FILE_PUT', `failed putting file ${name} into file store ${store}`)
  }
}

export async function listFiles(ctx: RuntimeApiContext, store: string, prefix: string, pageSize: number, marker: string, metadata?: Record<string, string>): Promise<{ files: FileInfo[]; marker: string; truncated: boolean }> {
  const s = fileStore(ctx, store, prefix, 'list')
  if (pageSize < 0) throw invalid('ERR_MALFORMED_REQUEST', `page size is negative in file store ${store}`)
  try {
    return await s.list(prefix, metadata === undefined ? { pageSize, marker } : { pageSize, marker, metadata })
  } catch (err) {
    throw componentError(err, 'ERR_FILE_LIST', `failed listing ${prefix} in file store ${store}`)
  }
}

export async function delFile(ctx: RuntimeApiContext, store: string, name: string, metadata?: Record<string, string>): Promise<void> {
  const s = fileStore(ctx, store, name, 'del')
  try {
    await s.del(name, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_FILE_DEL', `failed deleting file ${name} from file store ${store}`)
  }
}

export async function getFileMeta(ctx: RuntimeApiContext, store: string, name: string, metadata?: Record<string, string>): Promise<FileInfo> {
  const s = fileStore(ctx, store, name, 'stat')
  try {
    return await s.stat(name, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_FILE_META', `failed getting the meta of file ${name} from file store ${store}`)
  }
}
