// The runtime-grpc load generator: Dapr SaveState / GetState through @grpc/grpc-js, with the
// service definition envoy-ts itself builds from api/dapr/proto (protobufjs, no proto-loader).
// One client per connection (a local subchannel pool, so each has its own HTTP/2 connection),
// one call outstanding on each.
import * as grpc from '@grpc/grpc-js'
import { serviceDefinition } from '../../source/common/runtime-api/grpc/codec.js'
import { countError, finishRun, newRun, recordDone, type Run, slotFinished } from './common.js'
import type { GrpcLoadTask, LoadResult } from './types.js'

const DAPR_SERVICE = 'dapr.proto.runtime.v1.Dapr'

interface Unary {
  path: string
  requestSerialize: (v: unknown) => Buffer
  responseDeserialize: (b: Buffer) => unknown
}

function call(client: grpc.Client, m: Unary, req: unknown): Promise<{ err: grpc.ServiceError | null; res: unknown }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, (err, res) => resolve({ err, res }))
  })
}

function grpcErrorKind(err: grpc.ServiceError): string {
  return `grpc-${grpc.status[err.code] ?? err.code}`
}

function driveSlot(run: Run, task: GrpcLoadTask, client: grpc.Client, save: Unary, get: Unary, slot: number): void {
  const key = `bench-${slot}`
  const value = Buffer.alloc(task.valueSize, 0x76)
  const saveReq = { store_name: task.store, states: [{ key, value }] }
  const getReq = { store_name: task.store, key }
  const fixed = task.requestsPerConnection
  let done = 0
  let finished = false
  const finish = (): void => {
    if (finished) return
    finished = true
    if (fixed !== undefined) slotFinished(run)
  }
  const loop = async (): Promise<void> => {
    // Connect (and, for GetState, save the value it reads) before the window.
    const ready = await new Promise<Error | undefined>((resolve) => client.waitForReady(Date.now() + 10_000, (e) => resolve(e ?? undefined)))
    if (ready !== undefined) {
      countError(run, 'connect-failed')
      finish()
      return
    }
    run.connected++
    if (task.op === 'get') {
      const r = await call(client, save, saveReq)
      if (r.err !== null) countError(run, `setup-${grpcErrorKind(r.err)}`)
    }
    if (fixed !== undefined) await new Promise((r) => setTimeout(r, Math.max(0, task.startAt - Date.now())))
    while (run.running) {
      const t0 = performance.now()
      const r = task.op === 'save' ? await call(client, save, saveReq) : await call(client, get, getReq)
      const t1 = performance.now()
      if (!run.running && fixed === undefined) break
      done++
      if (r.err !== null) countError(run, grpcErrorKind(r.err))
      else if (task.op === 'get' && (r.res as { data?: Uint8Array }).data?.length !== task.valueSize) countError(run, 'bad-value')
      else recordDone(run, t0, t1)
      if (fixed !== undefined && done >= fixed) break
    }
    finish()
  }
  void loop()
}

export async function grpcLoad(task: GrpcLoadTask): Promise<LoadResult> {
  const run = newRun(task)
  const { definition } = serviceDefinition(DAPR_SERVICE)
  const save = definition.SaveState as unknown as Unary
  const get = definition.GetState as unknown as Unary
  const clients: grpc.Client[] = []
  for (let i = 0; i < task.connections; i++) {
    const client = new grpc.Client(`${task.host}:${task.port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.enable_retries': 0,
    })
    clients.push(client)
    driveSlot(run, task, client, save, get, i)
  }
  return finishRun(run, () => { for (const c of clients) c.close() }, true)
}
