/**
 * Errors raised on the control plane (options, bootstrap, registry, listener set-up).
 *
 * Match on `err.code`, never on `instanceof`: errors that cross a thread boundary arrive as
 * plain `{ code, message }` objects (structured clone drops classes). The catalogue of codes is
 * docs/errors.md.
 */
export class EnvoyTsError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'EnvoyTsError'
  }
}

/** A bad command line: the caller prints usage and exits 1. */
export class OptionsError extends EnvoyTsError {}

/** A bootstrap that cannot be loaded or does not validate. `errors` holds every problem found. */
export class ConfigError extends EnvoyTsError {
  readonly errors: readonly string[]

  constructor(code: string, errors: readonly string[]) {
    super(code, errors.join('\n'))
    this.errors = errors
  }
}

/** What crosses a MessagePort in place of an Error. */
export interface SerializedError {
  code: string
  message: string
}

export function serializeError(err: unknown): SerializedError {
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown }
    return {
      code: typeof e.code === 'string' ? e.code : 'ETS_ERR_INTERNAL',
      message: typeof e.message === 'string' ? e.message : String(err),
    }
  }
  return { code: 'ETS_ERR_INTERNAL', message: String(err) }
}

export function deserializeError(e: SerializedError): EnvoyTsError {
  return new EnvoyTsError(e.code, e.message)
}
