/**
 * Health check payloads (Envoy's PayloadMatcher): `text` is hex, `binary` is bytes (base64 in
 * YAML/JSON). A response matches when every `receive` block is found in it, in order.
 */
import type { HealthCheck_Payload } from '../../protobuf/generated/envoy/config/core/v3.js'

/** The bytes of each payload; an error message (with its index) for malformed hex. */
export function loadPayloadBytes(payloads: readonly HealthCheck_Payload[]): { bytes: Buffer[]; errors: string[] } {
  const bytes: Buffer[] = []
  const errors: string[] = []
  payloads.forEach((p, i) => {
    if (p.text !== undefined) {
      if (p.text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(p.text)) errors.push(`[${i}].text: invalid hex string '${p.text}'`)
      else bytes.push(Buffer.from(p.text, 'hex'))
    } else if (p.binary !== undefined) {
      bytes.push(Buffer.from(p.binary, 'base64'))
    }
  })
  return { bytes, errors }
}

/** True when every block of `expected` occurs in `data`, each after the previous one. */
export function payloadMatches(expected: readonly Buffer[], data: Buffer): boolean {
  let start = 0
  for (const block of expected) {
    const at = data.indexOf(block, start)
    if (at < 0) return false
    start = at + block.length
  }
  return true
}
