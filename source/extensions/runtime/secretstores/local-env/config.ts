import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { ComponentMetadata } from '../../../../common/runtime-api/component-metadata.js'
import { LocalEnvSecretStore } from './local-env.js'

/** Dapr's `secretstores.local.env`. Metadata: optional `prefix`. */
export const localEnvSecretStoreFactory: RuntimeComponentFactory<'secretstores'> = {
  name: 'secretstores.local.env',
  configType: 'secretstores.local.env',
  kind: 'secretstores',
  type: 'local.env',
  embedded: true,
  create(_name, metadata, _ctx, path) {
    return new LocalEnvSecretStore(new ComponentMetadata(metadata, path).string('prefix', ''))
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(localEnvSecretStoreFactory)
}
