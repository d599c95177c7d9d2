import type { Clock } from './clock.js';

/** Where the client's token comes from (SPEC §10): a fixed one, or a function asked on every connect and refresh. */
export interface TokenOptions {
  /** A token that does not change (a program's long-lived token). */
  token?: string;
  /**
   * Asked for a token on every (re)connect, before the token expires, and once after a 4401:
   * return a fresh one (from your login session, an API, …), or undefined to connect without one
   * (public channels only).
   */
  getToken?: () => string | undefined | Promise<string | undefined>;
}

/** Refresh at most this long before `expiresAt`, and no sooner than `MIN_REFRESH_MS` from now. */
const REFRESH_LEAD_MS = 60_000;
const MIN_REFRESH_MS = 1000;

/**
 * The client's token: fetched on connect, refreshed before it expires (a timer armed from the
 * `authed` reply's `expiresAt`), and asked for once more after a 4401 before the client gives up.
 */
export class TokenKeeper {
  private timer: unknown;
  /** A 4401 was answered with one more token and no `authed` has come since. */
  private retried = false;

  constructor(
    private readonly opts: TokenOptions,
    private readonly clock: Clock,
    private readonly refreshDue: () => void,
  ) {}

  get enabled(): boolean {
    return this.opts.token !== undefined || this.opts.getToken !== undefined;
  }

  /** The token to send now; undefined: connect without one. */
  async fetch(): Promise<string | undefined> {
    if (this.opts.getToken !== undefined) return await this.opts.getToken();
    return this.opts.token;
  }

  /** The gateway accepted a token valid until `expiresAt` (ms): schedule the refresh. */
  authed(expiresAt: number): void {
    this.retried = false;
    this.stop();
    if (this.opts.getToken === undefined) return; // a fixed token cannot be refreshed
    const left = expiresAt - this.clock.now();
    const delay = Math.max(MIN_REFRESH_MS, Math.min(left - REFRESH_LEAD_MS, left * 0.8));
    this.timer = this.clock.setTimeout(this.refreshDue, delay);
    (this.timer as { unref?: () => void }).unref?.(); // a Node process does not stay up for a refresh alone
  }

  /** After a 4401: true the first time (reconnect with a fresh token), false when that failed too. */
  retryAfterUnauthorized(): boolean {
    if (this.opts.getToken === undefined || this.retried) return false;
    this.retried = true;
    return true;
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
