import type { Scenario } from './types.js'

/**
 * Memory per idle connection, and whether a proxy still serves them all: open
 * `--idle-connections` keep-alive connections (10,000), hold them idle, sample the proxy's RSS,
 * send one GET on each, count the answers, sample again. One round per target, no warm-up.
 */
export const idleConns: Scenario = {
  name: 'idle-conns',
  description: 'hold --idle-connections (10,000) idle keep-alive HTTP connections: proxy RSS before/after, then one GET on each: how many are served',
  services: [{ name: 'http', protocol: 'http' }],
  cases: [{ kind: 'idle', name: 'idle', title: 'idle-conns (idle keep-alive HTTP connections, then one GET each)', service: 'http', path: '/small', expectBodyBytes: 100 }],
}
