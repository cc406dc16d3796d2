import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { ConfigError } from '../errors/envoy-ts-error.js'
import { ErrorCode } from '../errors/codes.js'

/** The `api/` folder at the package root (this file is at dist/source/common/protobuf/). */
export const API_ROOT = fileURLToPath(new URL('../../../../api/', import.meta.url))

function listProtos(dir: string): string[] {
  const out: string[] = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listProtos(p))
    else if (entry.name.endsWith('.proto')) out.push(p)
  }
  return out.sort()
}

let cached: protobuf.Root | undefined

/**
 * Every message envoy-ts knows, loaded once per thread from `api/**.proto` with the proto field
 * names kept (`keepCase`). Imports resolve against `api/` first, then protobufjs's bundled
 * google/protobuf well-known types.
 */
export function loadSchema(apiRoot: string = API_ROOT): protobuf.Root {
  if (cached !== undefined && apiRoot === API_ROOT) return cached
  const root = new protobuf.Root()
  const defaultResolve = root.resolvePath.bind(root)
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target
    const local = path.join(apiRoot, target)
    return fs.existsSync(local) ? local : defaultResolve(origin, target)
  }
  try {
    root.loadSync(listProtos(apiRoot), { keepCase: true })
    root.resolveAll()
  } catch (err) {
    throw new ConfigError(ErrorCode.SCHEMA_LOAD, [`cannot load the config schema from ${apiRoot}: ${(err as Error).message}`])
  }
  if (apiRoot === API_ROOT) cached = root
  return root
}

/** `type.googleapis.com/envoy.x.v3.Y` → `envoy.x.v3.Y` (anything up to the last slash goes). */
export function typeNameFromUrl(url: string): string {
  const slash = url.lastIndexOf('/')
  return slash >= 0 ? url.slice(slash + 1) : url
}

export function typeUrlFor(typeName: string): string {
  return `type.googleapis.com/${typeName}`
}
