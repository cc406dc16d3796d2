/** A resolved network address (Envoy's Network::Address::Instance), immutable. */
export type Address =
  | { readonly kind: 'ip'; readonly ip: string; readonly port: number; readonly family: 4 | 6 }
  | { readonly kind: 'pipe'; readonly path: string }
  /** An in-process listener, reached without a socket (Envoy's internal address). */
  | { readonly kind: 'internal'; readonly listenerName: string; readonly endpointId: string }

/** `1.2.3.4:80`, `[::1]:80`, the pipe path, or `envoy://listener/endpoint`. */
export function addressToString(a: Address): string {
  switch (a.kind) {
    case 'ip': return a.family === 6 ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`
    case 'pipe': return a.path
    case 'internal': return `envoy://${a.listenerName}/${a.endpointId}`
  }
}

/** Envoy's stat-name form of an address: `127.0.0.1_10000`, `[__1]_80`. */
export function addressStatName(a: Address): string {
  return addressToString(a).replace(/:/g, '_')
}
