import type { Scenario } from './types.js'

// The runtime API scenarios: Dapr's state API with the in-memory store named `statestore`.
// envoy-ts serves them itself (runtime_api network filter, dapr_api HTTP filter); `direct` is a
// bare Node server answering the same calls from a Map (upstream/runtime-baseline.ts). The
// proxies have no runtime API and are not applicable.

const VALUE = 100

export const runtimeGrpc: Scenario = {
  name: 'runtime-grpc',
  description: 'Dapr gRPC SaveState / GetState (in-memory statestore) via @grpc/grpc-js: calls/s and latency',
  services: [{ name: 'dapr-grpc', protocol: 'dapr-grpc' }],
  cases: (['save', 'get'] as const).map((op) => ({
    kind: 'rate' as const,
    name: op,
    title: `runtime-grpc ${op === 'save' ? 'SaveState' : 'GetState'} (Dapr gRPC, 100 B values)`,
    service: 'dapr-grpc',
    unit: 'rq/s' as const,
    showBytes: false,
    latency: true,
    fixedCount: true,
    prerollMs: 300,
    task: () => ({ kind: 'grpc' as const, op, store: 'statestore', valueSize: VALUE }),
  })),
}

const value = 'v'.repeat(VALUE - 2)
const saveBody = `[{"key":"bench-{conn}","value":"${value}"}]`

export const runtimeHttp: Scenario = {
  name: 'runtime-http',
  description: 'Dapr HTTP state API: POST /v1.0/state/statestore, GET /v1.0/state/statestore/<key>: calls/s and latency',
  services: [{ name: 'dapr-http', protocol: 'dapr-http' }],
  cases: [
    {
      kind: 'rate',
      name: 'save',
      title: 'runtime-http save (POST /v1.0/state/statestore)',
      service: 'dapr-http',
      unit: 'rq/s',
      showBytes: false,
      latency: true,
      fixedCount: true,
      prerollMs: 200,
      task: () => ({
        kind: 'http',
        request: { method: 'POST', path: '/v1.0/state/statestore', headers: { 'Content-Type': 'application/json' }, body: saveBody },
        keepAlive: true,
      }),
    },
    {
      kind: 'rate',
      name: 'get',
      title: 'runtime-http get (GET /v1.0/state/statestore/<key>)',
      service: 'dapr-http',
      unit: 'rq/s',
      showBytes: false,
      latency: true,
      fixedCount: true,
      prerollMs: 200,
      task: () => ({
        kind: 'http',
        request: { method: 'GET', path: '/v1.0/state/statestore/bench-{conn}', headers: {} },
        keepAlive: true,
        // JSON of the saved string: the value and its two quotes.
        expectBodyBytes: VALUE,
        setup: { method: 'POST', path: '/v1.0/state/statestore', headers: { 'Content-Type': 'application/json' }, body: saveBody },
      }),
    },
  ],
}
