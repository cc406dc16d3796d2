import { type AdminEndpoint, badRequest, json } from '../admin-endpoint.js'

export function clustersEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/clusters',
      help: 'upstream cluster status',
      mutatesState: false,
      params: [{ name: 'format', help: 'text (default) or json' }],
      handler(req, server) {
        const format = req.query.get('format') ?? 'text'
        if (format === 'json') return json(server.clustersJson())
        if (format !== 'text') return badRequest(`unknown format "${format}"`)
        return { status: 200, body: server.clustersText() }
      },
    },
  ]
}
