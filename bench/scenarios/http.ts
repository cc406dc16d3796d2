import type { RateCase, Scenario } from './types.js'

// The HTTP scenarios. One upstream service, `http` (upstream/http-responder.ts), serves every
// path; each target fronts it with one HTTP listener (envoy-ts: an HCM with a catch-all route).

const SMALL = 100
const LARGE = 64 * 1024
const UPLOAD = 1024 * 1024
const service = [{ name: 'http', protocol: 'http' as const }]

function getCase(name: string, title: string, path: string, bodyBytes: number, keepAlive: boolean): RateCase {
  return {
    kind: 'rate',
    name,
    title,
    service: 'http',
    unit: 'rq/s',
    showBytes: true,
    latency: true,
    fixedCount: true,
    prerollMs: 150,
    task: () => ({ kind: 'http', request: { method: 'GET', path, headers: {} }, keepAlive, expectBodyBytes: bodyBytes }),
    wrk: () => ({ method: 'GET', path, headers: {}, close: !keepAlive, expectBodyBytes: bodyBytes }),
  }
}

export const httpSmall: Scenario = {
  name: 'http-small',
  description: 'HTTP/1.1 keep-alive GET, 100-byte responses: requests/s and latency',
  services: service,
  cases: [getCase('small', 'http-small (keep-alive GET, 100 B)', '/small', SMALL, true)],
}

export const http64k: Scenario = {
  name: 'http-64k',
  description: 'HTTP/1.1 keep-alive GET, 64 KiB responses: requests/s, MB/s and latency',
  services: service,
  cases: [getCase('64k', 'http-64k (keep-alive GET, 64 KiB)', '/64k', LARGE, true)],
}

export const httpNewConn: Scenario = {
  name: 'http-new-conn',
  description: 'HTTP/1.1 GET with Connection: close, a new TCP connection per request (latency includes the connect)',
  services: service,
  cases: [getCase('new-conn', 'http-new-conn (Connection: close, 100 B)', '/small', SMALL, false)],
}

export const httpPost1m: Scenario = {
  name: 'http-post-1m',
  description: 'HTTP/1.1 keep-alive POST of 1 MiB bodies, 100-byte responses: requests/s, MB/s and latency',
  services: service,
  cases: [{
    kind: 'rate',
    name: 'post-1m',
    title: 'http-post-1m (keep-alive POST 1 MiB, 100 B back)',
    service: 'http',
    unit: 'rq/s',
    showBytes: true,
    latency: true,
    fixedCount: true,
    prerollMs: 300,
    task: () => ({
      kind: 'http',
      request: { method: 'POST', path: '/upload', headers: { 'Content-Type': 'application/octet-stream' }, bodySize: UPLOAD },
      keepAlive: true,
      expectBodyBytes: SMALL,
    }),
    wrk: () => ({ method: 'POST', path: '/upload', headers: { 'Content-Type': 'application/octet-stream' }, bodySize: UPLOAD, close: false, expectBodyBytes: SMALL }),
  }],
}
