import { FencedError, type Bus } from '@megaphone/bus';
import { backoffDelay, EQUAL_JITTER, type StreamPosition } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';

export type OutboxResult = { ok: true; position: StreamPosition } | { ok: false; reason: 'cancelled' | 'conflated' | 'closed' | 'fenced' };

export interface OutboxTicket {
  /** Settles when the publication is on the bus, or when it is dropped knowingly (never rejects). */
  readonly done: Promise<OutboxResult>;
  /** Withdraws the publication if it has not been handed to the bus yet; true when it was withdrawn. */
  cancel(): boolean;
}

export interface OutboxMetrics {
  published(latencySeconds: number): void;
  failed(): void;
}

export interface OutboxOptions {
  bus: Pick<Bus, 'publish' | 'isReady'>;
  /** Bytes of queued publications (JSON + channel) beyond which `isFull()` holds. */
  maxBytes: number;
  logger: Logger;
  metrics?: OutboxMetrics;
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** No progress for this long while holding publications = stuck (`/readyz` fails). */
  stuckAfterMs?: number;
  now?: () => number;
  /** A fenced publication was refused: another producer holds the lease now (SPEC §12). */
  onFenced?(err: FencedError): void;
}

interface Item {
  readonly channel: string;
  dataJson: string;
  /** The leader's fencing number (job output, uptime); absent for API publications. */
  fence: number | undefined;
  bytes: number;
  readonly enqueuedAt: number;
  readonly conflate: boolean;
  resolve(r: OutboxResult): void;
}

interface ChannelQueue {
  items: Item[];
  /** The head item is with the bus. */
  inFlight: boolean;
  retry: NodeJS.Timeout | undefined;
  failures: number;
}

const ITEM_OVERHEAD_BYTES = 64;

/**
 * Every publication of the producer goes through here. Per channel, publications reach the bus one
 * at a time and in order; a publish that fails (bus down, offline queue off) is retried with jittered
 * backoff, and the ones behind it wait, so order is kept. The outbox counts the bytes it holds;
 * past `maxBytes` it reports `isFull()` and command output readers pause until `onDrain` fires
 * (the commands then block on their pipes), so nothing is dropped. A retry after an ambiguous
 * failure (the bus may have published before failing) can publish twice; it never publishes zero times.
 */
export class Outbox {
  private readonly channels = new Map<string, ChannelQueue>();
  private readonly drainListeners = new Set<() => void>();
  private totalBytes = 0;
  private count = 0;
  private wasFull = false;
  private closed = false;
  private lastProgressAt: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly stuckAfterMs: number;
  private readonly now: () => number;
  private failureStreak = 0;
  private lateDrops = 0;

  constructor(private readonly opts: OutboxOptions) {
    this.retryInitialMs = opts.retryInitialMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 5000;
    this.stuckAfterMs = opts.stuckAfterMs ?? 5000;
    this.now = opts.now ?? Date.now;
    this.lastProgressAt = this.now();
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get messages(): number {
    return this.count;
  }

  get maxBytes(): number {
    return this.opts.maxBytes;
  }

  isFull(): boolean {
    const full = this.totalBytes >= this.opts.maxBytes;
    // Whoever saw it full may be waiting for onDrain, however it got full.
    if (full) this.wasFull = true;
    return full;
  }

  /** Holding publications and none has reached the bus for `stuckAfterMs`. */
  isStuck(): boolean {
    return this.count > 0 && this.now() - this.lastProgressAt > this.stuckAfterMs;
  }

  /** Called once each time the outbox drains below half its cap after having been full. */
  onDrain(listener: () => void): () => void {
    this.drainListeners.add(listener);
    return () => this.drainListeners.delete(listener);
  }

  /**
   * Queues one publication. `conflate`: state-like data (uptime) where only the latest value matters;
   * a queued, not yet sent conflatable publication on the same channel is replaced instead of growing the queue.
   */
  enqueue(channel: string, dataJson: string, opts: { conflate?: boolean; fence?: number } = {}): OutboxTicket {
    const conflate = opts.conflate === true;
    if (this.closed) {
      if (this.lateDrops++ === 0) this.opts.logger.warn({ channel }, 'publication after the outbox closed (shutdown) was not published');
      return { done: Promise.resolve({ ok: false, reason: 'closed' }), cancel: () => false };
    }
    let q = this.channels.get(channel);
    if (q === undefined) {
      q = { items: [], inFlight: false, retry: undefined, failures: 0 };
      this.channels.set(channel, q);
    }
    const bytes = Buffer.byteLength(dataJson) + channel.length + ITEM_OVERHEAD_BYTES;
    if (conflate) {
      const last = q.items[q.items.length - 1];
      if (last !== undefined && last.conflate && !(q.inFlight && q.items.length === 1)) {
        last.resolve({ ok: false, reason: 'conflated' });
        this.totalBytes += bytes - last.bytes;
        last.dataJson = dataJson;
        last.fence = opts.fence;
        last.bytes = bytes;
        let resolve!: (r: OutboxResult) => void;
        const done = new Promise<OutboxResult>((r) => (resolve = r));
        last.resolve = resolve;
        return { done, cancel: () => this.cancel(last) };
      }
    }
    let resolve!: (r: OutboxResult) => void;
    const done = new Promise<OutboxResult>((r) => (resolve = r));
    const item: Item = { channel, dataJson, fence: opts.fence, bytes, enqueuedAt: this.now(), conflate, resolve };
    if (this.count === 0) this.lastProgressAt = this.now();
    q.items.push(item);
    this.totalBytes += bytes;
    this.count++;
    this.isFull();
    this.pump(channel, q);
    return { done, cancel: () => this.cancel(item) };
  }

  private cancel(item: Item): boolean {
    const q = this.channels.get(item.channel);
    if (q === undefined) return false;
    const i = q.items.indexOf(item);
    if (i < 0 || (i === 0 && q.inFlight)) return false;
    q.items.splice(i, 1);
    this.release(item);
    item.resolve({ ok: false, reason: 'cancelled' });
    return true;
  }

  private release(item: Item): void {
    this.totalBytes -= item.bytes;
    this.count--;
    if (this.wasFull && this.totalBytes <= this.opts.maxBytes / 2) {
      this.wasFull = false;
      for (const l of [...this.drainListeners]) l();
    }
  }

  private pump(channel: string, q: ChannelQueue): void {
    if (this.closed || q.inFlight || q.retry !== undefined) return;
    const item = q.items[0];
    if (item === undefined) {
      this.channels.delete(channel);
      return;
    }
    if (!this.opts.bus.isReady()) {
      q.failures++;
      this.scheduleRetry(channel, q);
      return;
    }
    q.inFlight = true;
    let published: Promise<StreamPosition>;
    try {
      published = item.fence === undefined ? this.opts.bus.publish(channel, item.dataJson) : this.opts.bus.publish(channel, item.dataJson, { fence: item.fence });
    } catch (err) {
      published = Promise.reject(err);
    }
    published.then(
      (position) => {
        q.inFlight = false;
        q.failures = 0;
        q.items.shift();
        this.lastProgressAt = this.now();
        if (this.failureStreak > 0) {
          this.opts.logger.info({ failures: this.failureStreak }, 'bus publishing recovered');
          this.failureStreak = 0;
        }
        this.opts.metrics?.published((this.now() - item.enqueuedAt) / 1000);
        this.release(item);
        item.resolve({ ok: true, position });
        this.pump(channel, q);
      },
      (err: unknown) => {
        q.inFlight = false;
        if (err instanceof FencedError) {
          // Refused for good (a newer leader wrote here): dropped, never retried.
          q.items.shift();
          this.lastProgressAt = this.now();
          this.release(item);
          item.resolve({ ok: false, reason: 'fenced' });
          this.opts.onFenced?.(err);
          this.pump(channel, q);
          return;
        }
        q.failures++;
        this.opts.metrics?.failed();
        // One warning when trouble starts and then one per 100 failures, never one per message.
        if (this.failureStreak++ % 100 === 0) {
          this.opts.logger.warn({ err, queued: this.count, queuedBytes: this.totalBytes }, 'bus publish failed; retrying with backoff');
        }
        this.scheduleRetry(channel, q);
      },
    );
  }

  private scheduleRetry(channel: string, q: ChannelQueue): void {
    if (this.closed || q.retry !== undefined) return;
    const delay = backoffDelay({ initialMs: this.retryInitialMs, maxMs: this.retryMaxMs, jitter: EQUAL_JITTER }, Math.max(1, q.failures) - 1);
    q.retry = setTimeout(() => {
      q.retry = undefined;
      this.pump(channel, q);
    }, delay);
  }

  /** Waits until everything queued is on the bus; false when `timeoutMs` passed first. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = this.now() + timeoutMs;
    while (this.count > 0 && !this.closed && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.count === 0;
  }

  /** Stops publishing. Whatever is still queued is reported (logged with its count), not silently dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    let lost = 0;
    for (const q of this.channels.values()) {
      if (q.retry !== undefined) clearTimeout(q.retry);
      for (const item of q.items.splice(q.inFlight ? 1 : 0)) {
        lost++;
        item.resolve({ ok: false, reason: 'closed' });
      }
    }
    if (lost > 0) this.opts.logger.error({ publications: lost, bytes: this.totalBytes }, 'outbox closed with unpublished publications');
    this.channels.clear();
    this.drainListeners.clear();
  }
}
