import type { LockStore, UnlockStatus } from '../../../envoy/runtime-api/components.js'
import type { RuntimeApiContext } from './context.js'
import { componentError, invalid, missingComponent } from './errors.js'

/** Distributed lock API (Dapr TryLockAlpha1/UnlockAlpha1, Layotto TryLock/Unlock/LockKeepAlive). */

function lockStore(ctx: RuntimeApiContext, store: string, resourceId: string, owner: string): LockStore {
  const s = ctx.components.get('lock', store)
  if (s === undefined) throw missingComponent(ctx, 'lock', store)
  if (resourceId === '') throw invalid('ERR_MALFORMED_REQUEST', `ResourceId is empty in lock store ${store}`)
  if (owner === '') throw invalid('ERR_MALFORMED_REQUEST', `LockOwner is empty in lock store ${store}`)
  return s
}

export async function tryLock(ctx: RuntimeApiContext, store: string, resourceId: string, owner: string, expirySeconds: number): Promise<boolean> {
  const s = lockStore(ctx, store, resourceId, owner)
  if (!(expirySeconds > 0)) throw invalid('ERR_MALFORMED_REQUEST', `ExpiryInSeconds is not positive in lock store ${store}`)
  try {
    return await s.tryLock(resourceId, owner, expirySeconds)
  } catch (err) {
    throw componentError(err, 'ERR_TRY_LOCK', 'failed to try acquiring lock')
  }
}

export async function unlock(ctx: RuntimeApiContext, store: string, resourceId: string, owner: string): Promise<UnlockStatus> {
  const s = lockStore(ctx, store, resourceId, owner)
  try {
    return await s.unlock(resourceId, owner)
  } catch (err) {
    throw componentError(err, 'ERR_UNLOCK', 'failed to release lock')
  }
}

/** Layotto's LockKeepAlive: true when the owner's lease was extended. */
export async function keepAlive(ctx: RuntimeApiContext, store: string, resourceId: string, owner: string, expirySeconds: number): Promise<boolean> {
  const s = lockStore(ctx, store, resourceId, owner)
  if (!(expirySeconds > 0)) throw invalid('ERR_MALFORMED_REQUEST', `Expire is not positive in lock store ${store}`)
  if (s.keepAlive === undefined) return false
  try {
    return await s.keepAlive(resourceId, owner, expirySeconds)
  } catch (err) {
    throw componentError(err, 'ERR_LOCK_KEEP_ALIVE', 'failed to renew lock')
  }
}
