import { toPinoLevel } from '../../../common/logger/levels.js'
import type { Instance } from '../../../envoy/server/instance.js'
import { type AdminEndpoint, type AdminResponse, badRequest } from '../admin-endpoint.js'

function listing(server: Instance): string {
  const lines = ['active loggers:']
  for (const [name, level] of Object.entries(server.logLevels())) lines.push(`  ${name}: ${level}`)
  return `${lines.join('\n')}\n`
}

const USAGE = 'usage: /logging?<name>=<level> (change a single level)\n' +
  '       /logging?level=<level> (change all levels)\n' +
  'levels: trace, debug, info, warning, error, critical, off\n'

export function logsEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/logging',
      help: 'query/change logging levels',
      mutatesState: true,
      params: [
        { name: 'level', help: 'desired logging level for every logger' },
        { name: '<logger>', help: 'desired logging level for one logger, e.g. ?upstream=debug' },
      ],
      async handler(req, server): Promise<AdminResponse> {
        const entries = [...req.query.entries()]
        if (entries.length === 0) return { status: 200, body: listing(server) }
        const known = server.logLevels()
        for (const [k, v] of entries) {
          if (toPinoLevel(v) === undefined) return badRequest(`unknown level "${v}"\n${USAGE}`)
          if (k !== 'level' && !(k in known)) return badRequest(`unknown logger "${k}"\n${USAGE}`)
        }
        for (const [k, v] of entries) await server.setLogLevel(k === 'level' ? undefined : k, v)
        return { status: 200, body: listing(server) }
      },
    },
  ]
}
