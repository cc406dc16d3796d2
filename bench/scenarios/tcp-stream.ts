import type { Scenario } from './types.js'

/**
 * Bulk transfer, each direction on its own: `upload` writes as fast as the path takes it into an
 * upstream that discards; `download` reads what an upstream writes as fast as it can. MB/s.
 */
export const tcpStream: Scenario = {
  name: 'tcp-stream',
  description: 'TCP bulk stream, client → upstream (upload) and upstream → client (download): MB/s',
  services: [{ name: 'sink', protocol: 'tcp' }, { name: 'source', protocol: 'tcp' }],
  cases: [
    {
      kind: 'rate',
      name: 'upload',
      title: 'tcp-stream upload (client → upstream)',
      service: 'sink',
      unit: 'MB/s',
      showBytes: false,
      latency: false,
      fixedCount: false,
      prerollMs: 300,
      task: (s) => ({ kind: 'upload', requestSize: s.requestSize, responseSize: s.responseSize, chunkSize: s.chunkSize }),
    },
    {
      kind: 'rate',
      name: 'download',
      title: 'tcp-stream download (upstream → client)',
      service: 'source',
      unit: 'MB/s',
      showBytes: false,
      latency: false,
      fixedCount: false,
      prerollMs: 300,
      task: (s) => ({ kind: 'download', requestSize: s.requestSize, responseSize: s.responseSize, chunkSize: s.chunkSize }),
    },
  ],
}
