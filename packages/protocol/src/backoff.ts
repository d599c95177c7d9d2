/**
 * Exponential backoff with jitter: the one retry policy of Megaphone, used by the client SDK's
 * reconnects (in the browser too, which is why it lives in this dependency-free package), the bus's
 * Redis reconnects, the producer's outbox retries and its job restarts.
 *
 * Attempt n (0, 1, …) has the window d = min(maxMs, initialMs · 2ⁿ), and the delay is uniform in
 * [(1 − jitter) · d, d]. `FULL_JITTER` (1) is the AWS architecture blog's "full jitter": clients
 * that were disconnected together spread over the whole window instead of returning in lockstep.
 * `EQUAL_JITTER` (0.5) never waits less than half the window: for server-side retries, which must
 * not hammer a recovering dependency but need not spread as wide.
 */
export interface BackoffPolicy {
  /** The first attempt's window. */
  initialMs: number;
  /** Cap of the window: no delay is longer. */
  maxMs: number;
  /** Random share of the window, 0–1. */
  jitter: number;
}

export const FULL_JITTER = 1;
export const EQUAL_JITTER = 0.5;

/** The delay before attempt `attempt` (0-based); `random` returns [0, 1) and is injected by tests. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const window = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(window * (1 - policy.jitter + policy.jitter * random()));
}

/** The same policy with its attempt counter: `next()` widens the window, `reset()` after a success. */
export class ExponentialBackoff {
  private attempt = 0;

  constructor(
    readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    return backoffDelay(this.policy, this.attempt++, this.random);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
