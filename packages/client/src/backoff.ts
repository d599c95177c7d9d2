import { ExponentialBackoff, FULL_JITTER } from '@megaphone/protocol';

/**
 * The client's reconnect delays: full-jitter exponential backoff (a uniform delay in
 * `[0, min(maxMs, initialMs·2ⁿ)]`; the policy itself is `@megaphone/protocol`'s backoff.ts).
 * Spreading retries over the whole window keeps a fleet of clients from reconnecting in lockstep
 * after a gateway restart.
 */
export interface BackoffOptions {
  /** Upper bound of the first retry's window. */
  initialMs?: number;
  /** Cap of the window. */
  maxMs?: number;
  /** Injected for tests; returns [0, 1). */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 15_000 } as const;

export class Backoff extends ExponentialBackoff {
  constructor(opts: BackoffOptions = {}) {
    const initialMs = Math.max(1, opts.initialMs ?? DEFAULT_BACKOFF.initialMs);
    super({ initialMs, maxMs: Math.max(initialMs, opts.maxMs ?? DEFAULT_BACKOFF.maxMs), jitter: FULL_JITTER }, opts.random);
  }

  /**
   * A server hint (`retryAfterMs` of a 1001 close) is a floor, not an exact time: clients that were
   * closed together must not come back together, so a jitter of up to one backoff window is added.
   */
  afterHint(hintMs: number): number {
    return Math.max(0, hintMs) + this.next();
  }
}
