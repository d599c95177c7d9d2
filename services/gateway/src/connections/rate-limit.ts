/**
 * A per-connection token bucket for client commands (burst = rate), plus an abuse score: every
 * refused command adds one, the score leaks at half the rate, and a client whose score passes the
 * burst is closed. A client slightly over its rate gets `rate_limited` errors and stays connected;
 * one that keeps flooding (about twice its rate for a couple of seconds) is cut off.
 */
export class CommandRateLimiter {
  private tokens: number;
  private abuse = 0;
  private last: number;
  /** The second bucket: channels subscribed to, refilled at `channelsPerMinute` a minute. */
  private channelTokens: number;
  private channelLast: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly channelsPerMinute = Number.POSITIVE_INFINITY,
  ) {
    this.tokens = perSecond;
    this.last = now();
    this.channelTokens = channelsPerMinute;
    this.channelLast = this.last;
  }

  /**
   * One more channel (a subscribe): 0 when it may go ahead, otherwise how many ms until it may.
   * Every subscribe counts, so a connection touches at most `channelsPerMinute` channels a
   * minute after a burst of as many, whatever it unsubscribes in between.
   */
  takeChannel(): number {
    const t = this.now();
    const perMs = this.channelsPerMinute / 60_000;
    this.channelTokens = Math.min(this.channelsPerMinute, this.channelTokens + Math.max(0, t - this.channelLast) * perMs);
    this.channelLast = t;
    if (this.channelTokens >= 1) {
      this.channelTokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.channelTokens) / perMs);
  }

  /** `ok`: run the command; `limited`: refuse it; `abusive`: close the connection. */
  take(): 'ok' | 'limited' | 'abusive' {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last) / 1000;
    this.last = t;
    this.tokens = Math.min(this.perSecond, this.tokens + elapsed * this.perSecond);
    this.abuse = Math.max(0, this.abuse - (elapsed * this.perSecond) / 2);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'ok';
    }
    this.abuse += 1;
    return this.abuse > this.perSecond ? 'abusive' : 'limited';
  }
}
