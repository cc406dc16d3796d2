/**
 * Pub/sub end to end through the real binary: an @dapr/dapr DaprClient publishes over gRPC to
 * envoy-ts's runtime API listener (a worker), the in-memory pub/sub on main holds the message,
 * and the SubscriptionManager delivers it to an @dapr/dapr DaprServer (the app) that subscribed
 * through /dapr/subscribe (HTTP app) or ListTopicSubscriptions (gRPC app).
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import { CommunicationProtocolEnum, DaprClient, DaprPubSubStatusEnum, DaprServer, LogLevel } from '@dapr/dapr'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function bootstrap(grpcPort: number, app: { id: string; port: number; protocol: 'HTTP' | 'GRPC' }): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: dapr_grpc
    address: { socket_address: { address: 127.0.0.1, port_value: ${grpcPort} } }
    filter_chains:
    - filters:
      - name: envoy_ts.filters.network.runtime_api
        typed_config:
          "@type": type.googleapis.com/envoy_ts.extensions.filters.network.runtime_api.v1.RuntimeApi
          stat_prefix: dapr
          pub_subs:
            pubsub: { type: in-memory }
          app:
            app_id: ${app.id}
            app_host: 127.0.0.1
            app_port: ${app.port}
            app_protocol: ${app.protocol}
            max_delivery_attempts: 3
            delivery_backoff: 0.1s
`
}

async function stat(envoy: EnvoyProcess, name: string): Promise<number> {
  const text = await fetch(`${envoy.adminUrl}/stats?filter=${encodeURIComponent(`^${name.replaceAll('.', '\\.')}$`)}`).then((r) => r.text())
  const m = new RegExp(`^${name.replaceAll('.', '\\.')}: (\\d+)$`, 'm').exec(text)
  return m === null ? 0 : Number(m[1])
}

const quiet = { level: LogLevel.Error }

describe('pub/sub through envoy-ts to a DaprServer subscriber', () => {
  // Stopped in this order: the clients, envoy-ts (its connections to the app end with it; the
  // DaprServer's own client keeps a connection open, hence --drain-time-s 1), then the apps (a
  // DaprServer in gRPC mode waits for open HTTP/2 sessions before it stops).
  const clients: DaprClient[] = []
  const envoys: EnvoyProcess[] = []
  const servers: DaprServer[] = []
  after(async () => {
    for (const c of clients) await c.stop().catch(() => {})
    for (const e of envoys) await e.stop().catch(() => {})
    for (const s of servers) await s.stop().catch(() => {})
  })

  for (const protocol of ['HTTP', 'GRPC'] as const) {
    it(`publish over gRPC is received by a DaprServer in ${protocol} mode, RETRY redelivers`, async () => {
      const grpcPort = await freePort()
      const appPort = await freePort()
      const appId = `orders-${protocol.toLowerCase()}`
      const envoy = await startEnvoy({ config: bootstrap(grpcPort, { id: appId, port: appPort, protocol }), args: ['--concurrency', '2', '--drain-time-s', '1'] })
      envoys.push(envoy)

      const received: unknown[] = []
      let calls = 0
      const server = new DaprServer({
        serverHost: '127.0.0.1',
        serverPort: String(appPort),
        communicationProtocol: protocol === 'HTTP' ? CommunicationProtocolEnum.HTTP : CommunicationProtocolEnum.GRPC,
        clientOptions: { daprHost: '127.0.0.1', daprPort: String(grpcPort), communicationProtocol: CommunicationProtocolEnum.GRPC, logger: quiet },
        logger: quiet,
      })
      await server.pubsub.subscribe('pubsub', 'orders', async (data: unknown) => {
        calls++
        // The first delivery asks for a retry; the redelivery is accepted.
        if (calls === 1) return DaprPubSubStatusEnum.RETRY
        received.push(data)
        return DaprPubSubStatusEnum.SUCCESS
      })
      await server.start()
      servers.push(server)

      // envoy-ts discovers the app in the background (the app may start after it).
      await until(async () => await stat(envoy, `runtime_api.${appId}.pubsub.subscriptions`) === 1, 15_000, 'the subscription')

      const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(grpcPort), communicationProtocol: CommunicationProtocolEnum.GRPC, logger: quiet })
      clients.push(client)
      const res = await client.pubsub.publish('pubsub', 'orders', { orderId: 42, item: 'widget' })
      assert.equal(res.error, undefined)

      await until(() => received.length === 1, 10_000, 'the delivery')
      assert.deepEqual(received[0], { orderId: 42, item: 'widget' })
      assert.equal(calls, 2)
      await until(async () => await stat(envoy, `runtime_api.${appId}.pubsub.delivered`) === 1, 5_000, 'the delivered stat')
      assert.equal(await stat(envoy, `runtime_api.${appId}.pubsub.retried`), 1)
      assert.equal(await stat(envoy, `runtime_api.${appId}.pubsub.dropped`), 0)
    })
  }
})
