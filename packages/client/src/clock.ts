/**
 * The time the client runs on: its reconnect backoff, dead-connection pings, token refresh and
 * subscribe retries all wait through this, and nothing else in the SDK reads the time. Tests hand
 * in a clock they advance themselves, so "no reconnect after a fatal close" is a fact about the
 * timers that are armed, not a guess after a sleep. Applications leave it to the default.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (compared with a token's `expiresAt`). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The platform's timers (browsers and Node alike). */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
