import type { LockStore, UnlockStatus } from '../../../../envoy/runtime-api/components.js'

interface Lease {
  owner: string
  expiresAt: number
}

/**
 * An in-memory distributed lock (Dapr `lock.in-memory`), run once on main (embedded) so it is
 * one lock for every worker. A lease is taken only if nobody holds it (not re-entrant, as
 * Redis `SET NX`); only its owner unlocks or extends it; expiry frees it.
 */
export class InMemoryLockStore implements LockStore {
  private readonly leases = new Map<string, Lease>()
  private readonly now: () => number

  constructor(now: () => number = Date.now) {
    this.now = now
  }

  // LockStore
  async tryLock(resourceId: string, owner: string, expireSeconds: number): Promise<boolean> {
    if (this.live(resourceId) !== undefined) return false
    this.leases.set(resourceId, { owner, expiresAt: this.now() + expireSeconds * 1000 })
    this.sweep()
    return true
  }

  async unlock(resourceId: string, owner: string): Promise<UnlockStatus> {
    const lease = this.live(resourceId)
    if (lease === undefined) return 'LOCK_DOES_NOT_EXIST'
    if (lease.owner !== owner) return 'LOCK_BELONGS_TO_OTHERS'
    this.leases.delete(resourceId)
    return 'SUCCESS'
  }

  async keepAlive(resourceId: string, owner: string, expireSeconds: number): Promise<boolean> {
    const lease = this.live(resourceId)
    if (lease === undefined || lease.owner !== owner) return false
    lease.expiresAt = this.now() + expireSeconds * 1000
    return true
  }

  private live(resourceId: string): Lease | undefined {
    const lease = this.leases.get(resourceId)
    if (lease !== undefined && lease.expiresAt <= this.now()) {
      this.leases.delete(resourceId)
      return undefined
    }
    return lease
  }

  /** Drops expired leases now and then, so abandoned resources do not pile up. */
  private sweep(): void {
    if (this.leases.size < 1024 || (this.leases.size & 1023) !== 0) return
    const now = this.now()
    for (const [id, lease] of this.leases) if (lease.expiresAt <= now) this.leases.delete(id)
  }
}
