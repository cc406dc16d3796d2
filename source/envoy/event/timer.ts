/**
 * A one-shot timer owned by one thread (Envoy's Event::Timer). Every timeout that a config or a
 * client can set (route, per-try, stream idle, connection idle, drain, health check intervals,
 * fault delays, ...) goes through this interface, so any delay a google.protobuf.Duration can
 * hold (up to 315,576,000,000 s) waits as long as it says: Node's own timers fire at once,
 * with a TimeoutOverflowWarning, for anything over 2^31-1 ms (24.8 days).
 *
 * Not thread-safe: create, enable and disable a timer on the thread whose event loop runs it.
 */
export interface Timer {
  /**
   * Arms the timer to call its callback once, `ms` milliseconds from now. A timer that is
   * already armed is re-armed (the earlier deadline is forgotten). `ms` may be any finite or
   * infinite non-negative number; a negative or NaN delay counts as 0. The callback runs on a
   * later turn of the event loop, never from inside this call.
   */
  enableTimer(ms: number): void

  /** Disarms the timer; its callback will not run until `enableTimer` is called again. Idempotent. */
  disableTimer(): void

  /** True from `enableTimer` until the callback starts or `disableTimer` is called. */
  enabled(): boolean

  /**
   * Re-arms an armed timer with the delay of its last `enableTimer`, counted from now: "activity
   * was seen" for idle timeouts, called on every read and write, so it is cheap (no allocation;
   * Node's `Timeout.refresh()` when the delay fits one Node timer). Does nothing when disarmed.
   */
  refresh(): void

  /**
   * Lets the process exit while this timer is armed (Node's `unref`), for housekeeping timers.
   * Applies to every later arming too. Returns the timer.
   */
  unref(): Timer
}

/** Makes timers. One per thread; the server hands it to whoever needs timers. */
export interface TimerFactory {
  /** A disarmed timer that calls `cb` each time it fires. */
  createTimer(cb: () => void): Timer
}
