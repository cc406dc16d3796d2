import type { RuntimeApiContext } from './context.js'
import { componentError, invalid, missingComponent } from './errors.js'

/** Layotto's GetNextId: ids of one key strictly increase (the component guarantees it). */
export async function getNextId(ctx: RuntimeApiContext, store: string, key: string, increment: 'WEAK' | 'STRONG', metadata?: Record<string, string>): Promise<bigint> {
  const s = ctx.components.get('sequencer', store)
  if (s === undefined) throw missingComponent(ctx, 'sequencer', store)
  if (key === '') throw invalid('ERR_SEQUENCER_KEY_EMPTY', `key is empty in sequencer store ${store}`)
  if (key.includes('||')) throw invalid('ERR_SEQUENCER_KEY_ILLEGAL', `key ${key} can't contain '||' in sequencer store ${store}`)
  try {
    return await s.nextId(key, metadata === undefined ? { increment } : { increment, metadata })
  } catch (err) {
    throw componentError(err, 'ERR_SEQUENCER_GET_NEXT_ID', `failed getting next id of key ${key} from sequencer store ${store}`)
  }
}
