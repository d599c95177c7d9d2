import type { Clock } from './clock.js';

/**
 * Retries waiting on the client's clock, at most one per key (a subscription a busy server refused
 * with `rate_limited`, `history_unavailable` or `internal`). The client cancels a key's retry when it
 * unsubscribes and all of them when its connection ends (a reconnect subscribes everything again,
 * so a late retry would only send a second subscribe) or when it is closed: a closed client holds
 * no timer.
 */
export class Retries<K> {
  private readonly pending = new Map<K, unknown>();

  constructor(private readonly clock: Clock) {}

  /** Runs `fn` after `delayMs` unless cancelled first; replaces a retry already armed for `key`. */
  arm(key: K, delayMs: number, fn: () => void): void {
    this.cancel(key);
    this.pending.set(
      key,
      this.clock.setTimeout(() => {
        this.pending.delete(key);
        fn();
      }, delayMs),
    );
  }

  cancel(key: K): void {
    const handle = this.pending.get(key);
    if (handle === undefined) return;
    this.clock.clearTimeout(handle);
    this.pending.delete(key);
  }

  cancelAll(): void {
    for (const handle of this.pending.values()) this.clock.clearTimeout(handle);
    this.pending.clear();
  }
}
