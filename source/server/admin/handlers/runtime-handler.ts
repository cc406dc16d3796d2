import { type AdminEndpoint, badRequest, json } from '../admin-endpoint.js'

export function runtimeEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/runtime',
      help: 'print runtime values',
      mutatesState: false,
      handler: (_req, server) => json(server.runtimeDump()),
    },
    {
      path: '/runtime_modify',
      help: 'Adds or modifies runtime values as passed in query parameters (needs an admin_layer)',
      mutatesState: true,
      handler(req, server) {
        const values = Object.fromEntries(req.query.entries())
        const err = server.runtimeModify(values)
        return err === undefined ? { status: 200, body: 'OK\n' } : badRequest(err)
      },
    },
  ]
}
