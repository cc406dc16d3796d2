import path from 'node:path'
import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { ComponentMetadata } from '../../../../common/runtime-api/component-metadata.js'
import { LocalFileSecretStore } from './local-file.js'

/**
 * Dapr's `secretstores.local.file`. Metadata: `secretsFile` (required; relative to the working
 * directory), `nestedSeparator` (default `:`), `multiValued` (default false).
 */
export const localFileSecretStoreFactory: RuntimeComponentFactory<'secretstores'> = {
  name: 'secretstores.local.file',
  configType: 'secretstores.local.file',
  kind: 'secretstores',
  type: 'local.file',
  embedded: true,
  create(_name, metadata, _ctx, p) {
    const md = new ComponentMetadata(metadata, p)
    const nestedSeparator = md.string('nestedSeparator', ':')
    return new LocalFileSecretStore({
      secretsFile: path.resolve(md.requiredString('secretsFile')),
      nestedSeparator,
      multiValued: md.bool('multiValued', false),
    })
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(localFileSecretStoreFactory)
}
