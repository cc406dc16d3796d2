import type { RunningTarget, Target, TargetContext } from './types.js'

/** No proxy: the load generator talks to the upstream. The ceiling for every other row. */
export const direct: Target = {
  name: 'direct',
  description: 'client → upstream, no proxy (the limit of this machine and load generator); runtime scenarios: a bare Node server with a Map',
  kind: 'baseline',
  protocols: ['tcp', 'http', 'dapr-grpc', 'dapr-http'],
  async start(ctx: TargetContext): Promise<RunningTarget> {
    const ports: Record<string, number> = {}
    for (const s of ctx.services) ports[s.name] = s.upstreamPort
    return { ports, host: ctx.services[0]?.upstreamHost ?? '127.0.0.1', async stop() {} }
  },
}
