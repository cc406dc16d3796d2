import { Redis } from 'ioredis'
import pino from 'pino'
import type { RuntimeComponentContext } from '../../../../source/envoy/runtime-api/component-factory.js'
import type { RedisServer } from '../../../helpers/redis-server.js'

export function testContext(appId = 'app1'): RuntimeComponentContext {
  return { log: pino({ level: 'silent' }), appId }
}

/** A plain client to look at (and poke) what the components store. */
export function rawClient(server: RedisServer): Redis {
  return new Redis({ host: server.host, port: server.port, lazyConnect: false, maxRetriesPerRequest: 1 })
}

/** Polls `check` until it returns true; fails after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b))
