/**
 * Full-jitter exponential backoff (AWS architecture blog, "Exponential Backoff And Jitter"):
 * the n-th retry waits a uniformly random time in [0, min(maxMs, initialMs · 2ⁿ)]. Spreading
 * retries over the whole window is what keeps a fleet of clients from reconnecting in lockstep
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

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = Math.max(1, opts.initialMs ?? DEFAULT_BACKOFF.initialMs);
    this.maxMs = Math.max(this.initialMs, opts.maxMs ?? DEFAULT_BACKOFF.maxMs);
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt; each call widens the window until the cap. */
  next(): number {
    const window = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * window);
  }

  /**
   * A server hint (`retryAfterMs` of a 1001 close) is a floor, not an exact time: clients that were
   * closed together must not come back together, so a jitter of up to one backoff window is added.
   */
  afterHint(hintMs: number): number {
    const window = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.max(0, hintMs) + Math.floor(this.random() * window);
  }

  /** A connection succeeded: start again from the smallest window. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
