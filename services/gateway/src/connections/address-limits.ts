/**
 * Per client address (SPEC §10): at most `maxConnections` open connections, and new connections at
 * `connectsPerSecond` with a burst of the same size. Memory is bounded whatever the addresses:
 * `open` has an entry only per address with an open connection (so at most the gateway's
 * connection limit), and `buckets` is an LRU of at most `maxTracked` recently seen addresses. An
 * evicted bucket only forgets how fast that address connected (it starts again with a full burst):
 * an attacker spraying addresses gets nothing it would not get from fresh addresses anyway, and no
 * one else is refused because of it.
 */
export interface AddressLimitsOptions {
  maxConnections: number;
  connectsPerSecond: number;
  /** Rate buckets kept at most (default 65536). */
  maxTracked?: number;
  now?: () => number;
}

export type Admission = { ok: true } | { ok: false; reason: string; retryAfterSec: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class AddressLimits {
  private readonly open = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxTracked: number;
  private readonly now: () => number;

  constructor(private readonly opts: AddressLimitsOptions) {
    this.maxTracked = opts.maxTracked ?? 65_536;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Takes a connection slot for `key` (an address, see `limitKey`), or says why not. A slot taken
   * must be given back with `release` exactly once.
   */
  admit(key: string): Admission {
    const open = this.open.get(key) ?? 0;
    if (open >= this.opts.maxConnections) {
      return { ok: false, reason: `at most ${this.opts.maxConnections} connections per client address`, retryAfterSec: 5 };
    }
    const rate = this.opts.connectsPerSecond;
    const t = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) b = { tokens: rate, at: t };
    else this.buckets.delete(key); // re-inserted below: Map order is the LRU order
    b.tokens = Math.min(rate, b.tokens + (Math.max(0, t - b.at) / 1000) * rate);
    b.at = t;
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxTracked) this.buckets.delete(this.buckets.keys().next().value as string);
    if (b.tokens < 1) {
      return { ok: false, reason: `at most ${rate} new connections per second per client address`, retryAfterSec: Math.max(1, Math.ceil((1 - b.tokens) / rate)) };
    }
    b.tokens -= 1;
    this.open.set(key, open + 1);
    return { ok: true };
  }

  release(key: string): void {
    const open = this.open.get(key);
    if (open === undefined) return;
    if (open <= 1) this.open.delete(key);
    else this.open.set(key, open - 1);
  }

  /** Entries held (for tests and the bound above). */
  get size(): { open: number; tracked: number } {
    return { open: this.open.size, tracked: this.buckets.size };
  }
}
