import { tcpRr } from './tcp-rr.js'
import { tcpStream } from './tcp-stream.js'
import type { Scenario } from './types.js'

/** Every scenario by name, in run order. */
export const SCENARIOS: readonly Scenario[] = [tcpRr, tcpStream]

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name)
}
