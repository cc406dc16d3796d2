// The piscina worker of the load generator: one task per load thread per round, dispatched by
// kind (see types.ts). Each thread runs its own event loop, so its connections never wait for
// another thread's.
import { grpcLoad } from './grpc-load.js'
import { httpLoad } from './http-load.js'
import { idleLoad } from './idle-load.js'
import { tcpLoad } from './tcp-load.js'
import type { IdleLoadResult, LoadResult, LoadTask } from './types.js'

export default function load(task: LoadTask): Promise<LoadResult | IdleLoadResult> {
  switch (task.kind) {
    case 'http':
      return httpLoad(task)
    case 'grpc':
      return grpcLoad(task)
    case 'idle':
      return idleLoad(task)
    default:
      return tcpLoad(task)
  }
}
