import type { Scenario } from './types.js'

/**
 * Small request/response pairs over keep-alive connections, one request outstanding per
 * connection (closed loop): requests/s and latency. The upstream answers `--response-size`
 * bytes per `--request-size` bytes (100/100 by default).
 */
export const tcpRr: Scenario = {
  name: 'tcp-rr',
  description: 'TCP request/response (100 B / 100 B by default) over keep-alive connections: requests/s and latency',
  services: [{ name: 'rr', protocol: 'tcp' }],
  cases: [
    {
      kind: 'rate',
      name: 'rr',
      title: 'tcp-rr',
      service: 'rr',
      unit: 'rq/s',
      showBytes: false,
      latency: true,
      fixedCount: true,
      prerollMs: 150,
      task: (s) => ({
        kind: 'rr',
        requestSize: s.requestSize,
        responseSize: s.responseSize,
        chunkSize: s.chunkSize,
        ...(s.requestsPerConnection !== undefined ? { requestsPerConnection: s.requestsPerConnection } : {}),
      }),
    },
  ],
}
