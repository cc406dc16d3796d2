import type { ListenerStatus } from '../../../envoy/server/instance.js'
import { type AdminEndpoint, badRequest, json } from '../admin-endpoint.js'

function addressText(l: ListenerStatus): string {
  const a = l.localAddress
  if ('pipe' in a) return a.pipe
  if ('internal' in a) return `envoy://${a.internal}`
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
}

function addressJson(l: ListenerStatus): unknown {
  const a = l.localAddress
  if ('pipe' in a) return { pipe: { path: a.pipe } }
  if ('internal' in a) return { envoy_internal_address: { server_listener_name: a.internal } }
  return { socket_address: { address: a.address, port_value: a.port } }
}

export function listenersEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/listeners',
      help: 'print listener info',
      mutatesState: false,
      params: [{ name: 'format', help: 'text (default) or json' }],
      handler(req, server) {
        const format = req.query.get('format') ?? 'text'
        const listeners = server.listenerStatuses()
        if (format === 'json') {
          return json({ listener_statuses: listeners.map((l) => ({ name: l.name, local_address: addressJson(l) })) })
        }
        if (format !== 'text') return badRequest(`unknown format "${format}"`)
        return { status: 200, body: listeners.map((l) => `${l.name}::${addressText(l)}\n`).join('') }
      },
    },
  ]
}
