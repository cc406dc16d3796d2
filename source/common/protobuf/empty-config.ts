import { ConfigError } from '../errors/envoy-ts-error.js'
import { ErrorCode } from '../errors/codes.js'
import { MessageValidator } from './message-validator.js'
import { loadSchema } from './schema.js'

let validator: MessageValidator | undefined

/**
 * The config an extension gets when its entry names it without a `typed_config` (`- name:
 * envoy.filters.http.router`): the validated empty message of the factory's config type, with
 * every default filled in, as Envoy's createEmptyConfigProto gives. Required fields that an empty
 * message lacks are errors under `path`. A type the schema does not know (an out-of-tree
 * extension's) gets `{}`.
 */
export function emptyConfigOf(typeName: string, path: string): Record<string, unknown> {
  validator ??= new MessageValidator(loadSchema())
  if (validator.findType(typeName) === undefined) return {}
  const r = validator.validate<Record<string, unknown>>(typeName, {}, path)
  if (r.errors.length > 0) throw new ConfigError(ErrorCode.CONFIG_INVALID, r.errors.map((e) => `${e} (no typed_config was given)`))
  return r.value
}
