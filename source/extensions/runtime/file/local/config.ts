import type { Registry } from '../../../../envoy/registry/registry.js'
import { RUNTIME_COMPONENTS, type RuntimeComponentFactory } from '../../../../envoy/runtime-api/component-factory.js'
import { ComponentMetadata } from '../../../../common/runtime-api/component-metadata.js'
import { LocalFileStore } from './local.js'

/** Layotto's `file.local`. Metadata: `root` (required), the directory every name is confined to. */
export const localFileStoreFactory: RuntimeComponentFactory<'file'> = {
  name: 'file.local',
  configType: 'file.local',
  kind: 'file',
  type: 'local',
  embedded: true,
  create(name, metadata, _ctx, path) {
    return new LocalFileStore(name, new ComponentMetadata(metadata, path).requiredString('root'))
  },
}

export function setup(r: Registry): void {
  r.category<RuntimeComponentFactory>(RUNTIME_COMPONENTS).register(localFileStoreFactory)
}
