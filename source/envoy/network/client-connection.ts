import type { Connection } from './connection.js'

/**
 * A connection we open to an upstream (Envoy's ClientConnection). Readers add read filters
 * (tcp_proxy adds one that forwards to downstream); `connect()` raises `Connected`, or
 * `RemoteClose` when the connect fails or times out.
 */
export interface ClientConnection extends Connection {
  connect(): void
  /** Why the connect failed, once it has (`connection refused`, `connect timeout`). */
  connectFailureReason(): string | undefined
}
