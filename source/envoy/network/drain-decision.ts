/**
 * Whether a connection should be closed to help a drain (Envoy's Network::DrainDecision).
 * HTTP connection managers ask on each response; with the gradual strategy the answer turns
 * true for a growing share of connections over `--drain-time-s`.
 */
export interface DrainDecision {
  drainClose(): boolean
  /** Runs `cb` once when a drain starts (immediately if one already has). Returns an unsubscribe. */
  onDrain(cb: () => void): () => void
}
