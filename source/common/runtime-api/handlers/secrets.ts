import type { SecretStore } from '../../../envoy/runtime-api/components.js'
import type { RuntimeApiContext } from './context.js'
import { componentError, invalid, missingComponent } from './errors.js'

/** Secrets API (Dapr and Layotto GetSecret / GetBulkSecret). */

function secretStore(ctx: RuntimeApiContext, store: string): SecretStore {
  const s = ctx.components.get('secretstores', store)
  if (s === undefined) throw missingComponent(ctx, 'secretstores', store)
  return s
}

export async function getSecret(ctx: RuntimeApiContext, store: string, key: string, metadata?: Record<string, string>): Promise<Record<string, string>> {
  const s = secretStore(ctx, store)
  if (key === '') throw invalid('ERR_MALFORMED_REQUEST', `secret key is empty in secret store ${store}`)
  try {
    return await s.get(key, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_SECRET_GET', `failed getting secret with key ${key} from secret store ${store}`)
  }
}

export async function getBulkSecret(ctx: RuntimeApiContext, store: string, metadata?: Record<string, string>): Promise<Record<string, Record<string, string>>> {
  const s = secretStore(ctx, store)
  try {
    return await s.bulkGet(metadata)
  } catch (err) {
    throw componentError(err, 'ERR_SECRET_GET', `failed getting secrets from secret store ${store}`)
  }
}
