import { http64k, httpNewConn, httpPost1m, httpSmall } from './http.js'
import { idleConns } from './idle-conns.js'
import { runtimeGrpc, runtimeHttp } from './runtime.js'
import { tcpRr } from './tcp-rr.js'
import { tcpStream } from './tcp-stream.js'
import type { Scenario } from './types.js'

/** Every scenario by name, in run order. */
export const SCENARIOS: readonly Scenario[] = [httpSmall, http64k, httpNewConn, httpPost1m, tcpRr, tcpStream, runtimeGrpc, runtimeHttp, idleConns]

/** What `npm run bench` runs with no --scenario (about two minutes with the default targets). */
export const DEFAULT_SCENARIOS: readonly string[] = ['http-small', 'http-new-conn', 'tcp-rr', 'runtime-grpc']

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name)
}
