import { type Server, status } from '@grpc/grpc-js'

/**
 * The rpcs of Dapr's `dapr.proto.runtime.v1.Dapr` service (dapr/dapr dapr.proto) that envoy-ts
 * does not implement, with their kind. They are registered by path so a client gets
 * UNIMPLEMENTED with the method named, not a generic "unknown method".
 */
const UNIMPLEMENTED: ReadonlyArray<[string, 'unary' | 'clientStream' | 'serverStream' | 'bidi', string]> = [
  ['QueryStateAlpha1', 'unary', 'state queries'],
  ['RegisterActorTimer', 'unary', 'actors'],
  ['UnregisterActorTimer', 'unary', 'actors'],
  ['RegisterActorReminder', 'unary', 'actors'],
  ['UnregisterActorReminder', 'unary', 'actors'],
  ['UnregisterActorRemindersByType', 'unary', 'actors'],
  ['ListActorReminders', 'unary', 'actors'],
  ['GetActorState', 'unary', 'actors'],
  ['GetActorReminder', 'unary', 'actors'],
  ['ExecuteActorStateTransaction', 'unary', 'actors'],
  ['InvokeActor', 'unary', 'actors'],
  ['SubscribeActorEventsAlpha1', 'bidi', 'actors'],
  ['EncryptAlpha1', 'bidi', 'cryptography'],
  ['DecryptAlpha1', 'bidi', 'cryptography'],
  ['SubtleGetKeyAlpha1', 'unary', 'cryptography'],
  ['SubtleEncryptAlpha1', 'unary', 'cryptography'],
  ['SubtleDecryptAlpha1', 'unary', 'cryptography'],
  ['SubtleWrapKeyAlpha1', 'unary', 'cryptography'],
  ['SubtleUnwrapKeyAlpha1', 'unary', 'cryptography'],
  ['SubtleSignAlpha1', 'unary', 'cryptography'],
  ['SubtleVerifyAlpha1', 'unary', 'cryptography'],
  ['StartWorkflowAlpha1', 'unary', 'workflows'],
  ['GetWorkflowAlpha1', 'unary', 'workflows'],
  ['PurgeWorkflowAlpha1', 'unary', 'workflows'],
  ['TerminateWorkflowAlpha1', 'unary', 'workflows'],
  ['PauseWorkflowAlpha1', 'unary', 'workflows'],
  ['ResumeWorkflowAlpha1', 'unary', 'workflows'],
  ['RaiseEventWorkflowAlpha1', 'unary', 'workflows'],
  ['StartWorkflowBeta1', 'unary', 'workflows'],
  ['GetWorkflowBeta1', 'unary', 'workflows'],
  ['PurgeWorkflowBeta1', 'unary', 'workflows'],
  ['TerminateWorkflowBeta1', 'unary', 'workflows'],
  ['PauseWorkflowBeta1', 'unary', 'workflows'],
  ['ResumeWorkflowBeta1', 'unary', 'workflows'],
  ['RaiseEventWorkflowBeta1', 'unary', 'workflows'],
  ['ScheduleJobAlpha1', 'unary', 'jobs'],
  ['ScheduleJob', 'unary', 'jobs'],
  ['GetJobAlpha1', 'unary', 'jobs'],
  ['GetJob', 'unary', 'jobs'],
  ['DeleteJobAlpha1', 'unary', 'jobs'],
  ['DeleteJob', 'unary', 'jobs'],
  ['DeleteJobsByPrefixAlpha1', 'unary', 'jobs'],
  ['DeleteJobsByPrefix', 'unary', 'jobs'],
  ['ListJobsAlpha1', 'unary', 'jobs'],
  ['ListJobs', 'unary', 'jobs'],
  ['ConverseAlpha1', 'unary', 'conversation'],
  ['ConverseAlpha2', 'unary', 'conversation'],
]

const identity = (b: Buffer): Buffer => b

/** Registers every unimplemented Dapr rpc on `server` under `service`'s path. */
export function registerDaprUnimplemented(server: Server, service: string): void {
  for (const [method, type, area] of UNIMPLEMENTED) {
    const path = `/${service}/${method}`
    const err = { code: status.UNIMPLEMENTED, details: `${method} is not implemented by envoy-ts (Dapr ${area} API): ${path}` }
    let handler: unknown
    if (type === 'unary' || type === 'clientStream') {
      handler = (_call: unknown, callback: (e: typeof err) => void) => callback(err)
    } else {
      handler = (call: { emit(ev: 'error', e: typeof err): void }) => call.emit('error', err)
    }
    server.register(path, handler as never, identity, identity, type)
  }
}
