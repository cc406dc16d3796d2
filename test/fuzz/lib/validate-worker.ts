/**
 * A worker thread that runs the same validation as `envoy-ts --mode validate` (the server's
 * init stage: YAML load, schema validation, building every listener, cluster and filter on
 * main) in-process, one bootstrap per message, so the bootstrap fuzzer need not start a process
 * per case. The parent terminates the thread when a case hangs.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import { LogContext } from '../../../source/common/logger/logger.js'
import { InstanceImpl } from '../../../source/server/instance-impl.js'
import { parseCommandLine } from '../../../source/server/options-impl.js'

export interface ValidateRequest {
  id: number
  yaml: string
}

export interface ValidateReply {
  id: number
  ok: boolean
  /** The error lines, as the binary prints them. */
  lines: string[]
  /** The error's code (ETS_ERR_...) if it has one. */
  code?: string
  /** The error's constructor name (Error, TypeError, RangeError, ...). */
  errorName?: string
}

// The parent owns the directory (and removes it): a terminated thread runs no clean-up.
const file = path.join((workerData as { dir: string }).dir, 'bootstrap.yaml')

async function validate(req: ValidateRequest): Promise<ValidateReply> {
  fs.writeFileSync(file, req.yaml)
  const parsed = parseCommandLine(['--mode', 'validate', '-c', file, '--log-level', 'off'])
  if (parsed.kind !== 'run') throw new Error('unexpected command line')
  const logs = new LogContext({ level: 'off', componentLevels: {}, format: 'json' })
  try {
    await new InstanceImpl(parsed.options, logs).run()
    return { id: req.id, ok: true, lines: [] }
  } catch (err) {
    const e = err as { errors?: unknown; message?: unknown; code?: unknown; constructor?: { name?: string } }
    const lines = Array.isArray(e.errors) ? e.errors.map(String) : [typeof e.message === 'string' ? e.message : String(err)]
    return { id: req.id, ok: false, lines, ...(typeof e.code === 'string' ? { code: e.code } : {}), errorName: e.constructor?.name ?? typeof err }
  }
}

parentPort!.on('message', (req: ValidateRequest) => {
  validate(req).then((r) => parentPort!.postMessage(r), (err: Error) => parentPort!.postMessage({ id: req.id, ok: false, lines: [String(err.stack ?? err)], errorName: 'harness' }))
})
