import { type AdminEndpoint, ok } from '../admin-endpoint.js'

export function serverCmdEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/quitquitquit',
      help: 'exit the server',
      mutatesState: true,
      handler(_req, server) {
        return { ...ok(), after: () => server.shutdown('/quitquitquit') }
      },
    },
    {
      path: '/healthcheck/fail',
      help: 'cause the server to fail health checks',
      mutatesState: true,
      handler(_req, server) {
        server.setHealthCheckFailed(true)
        return ok()
      },
    },
    {
      path: '/healthcheck/ok',
      help: 'cause the server to pass health checks',
      mutatesState: true,
      handler(_req, server) {
        server.setHealthCheckFailed(false)
        return ok()
      },
    },
    {
      path: '/drain_listeners',
      help: 'drain listeners',
      mutatesState: true,
      params: [
        { name: 'graceful', help: 'Let open connections finish within --drain-time-s before closing them' },
        { name: 'inboundonly', help: 'Drain only inbound listeners (traffic_direction != OUTBOUND)' },
      ],
      async handler(req, server) {
        await server.drainListeners({ graceful: req.query.has('graceful'), inboundOnly: req.query.has('inboundonly') })
        return ok()
      },
    },
  ]
}
