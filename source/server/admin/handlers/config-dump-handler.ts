import type { CompiledMatcher } from '../../../envoy/common/regex.js'
import { compileRe2 } from '../../../common/common/regex.js'
import { typeUrlFor } from '../../../common/protobuf/schema.js'
import { type AdminEndpoint, type AdminResponse, badRequest, json } from '../admin-endpoint.js'

type Json = Record<string, unknown>

/** Keeps only the dotted field paths in `paths` (a FieldMask); `@type` always stays. */
export function applyFieldMask(obj: Json, paths: readonly string[]): Json {
  const out: Json = {}
  if ('@type' in obj) out['@type'] = obj['@type']
  for (const p of paths) {
    const [head, ...rest] = p.split('.')
    if (head === undefined || !(head in obj)) continue
    const v = obj[head]
    if (rest.length === 0) {
      out[head] = v
    } else if (Array.isArray(v)) {
      const prev = Array.isArray(out[head]) ? out[head] as Json[] : []
      out[head] = v.map((item, i) => ({ ...(prev[i] ?? {}), ...applyFieldMask(item as Json, [rest.join('.')]) }))
    } else if (v !== null && typeof v === 'object') {
      const prev = (out[head] ?? {}) as Json
      out[head] = { ...prev, ...applyFieldMask(v as Json, [rest.join('.')]) }
    }
  }
  return out
}

export function configDumpEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/config_dump',
      help: 'dump current Envoy configs',
      mutatesState: false,
      params: [
        { name: 'resource', help: 'The resource to dump, e.g. static_listeners, static_clusters, static_route_configs' },
        { name: 'mask', help: 'Comma-separated field mask applied to each config (or each resource with ?resource)' },
        { name: 'name_regex', help: 'Dump only resources whose name matches this RE2 regular expression (anywhere in the name)' },
      ],
      handler(req, server): AdminResponse {
        const mask = req.query.get('mask')
        const paths = mask === null || mask === '' ? undefined : mask.split(',').map((s) => s.trim()).filter((s) => s !== '')
        let nameRe: CompiledMatcher | undefined
        const nr = req.query.get('name_regex')
        if (nr !== null && nr !== '') {
          try {
            nameRe = compileRe2(nr)
          } catch (err) {
            return badRequest(`invalid name_regex: ${(err as Error).message}`)
          }
        }
        const sections = server.configDump()
        const resource = req.query.get('resource')
        if (resource !== null && resource !== '') {
          const section = sections.find((s) => resource in s.resources)
          if (section === undefined) return { status: 404, body: `unknown resource "${resource}"\n` }
          const r = section.resources[resource]!
          const configs = r.items
            .filter((i) => nameRe === undefined || nameRe.search(i.name))
            .map((i) => {
              const c = { '@type': typeUrlFor(r.type), ...i.item }
              return paths === undefined ? c : applyFieldMask(c, paths)
            })
          return json({ configs })
        }
        const configs = sections.map((s) => {
          const dump: Json = { '@type': typeUrlFor(s.type), ...s.dump }
          return paths === undefined ? dump : applyFieldMask(dump, paths)
        })
        return json({ configs })
      },
    },
  ]
}
