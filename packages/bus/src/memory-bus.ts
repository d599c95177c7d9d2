import { encodePublicationFrame, type StreamPosition } from '@megaphone/protocol';
import { checkControlMessage, FencedError, type Bus, type BusHandler, type ControlListener, type HistoryPolicyResolver, type HistoryQuery, type HistoryResult, type Publication, type PublishOptions } from './bus.js';
import { newEpoch } from './epoch.js';
import type { Lease } from './lease.js';
import { MemoryLeases } from './memory-lease.js';

interface ChannelLog {
  epoch: string;
  offset: number;
  /** Retained publications, ascending; trimmed from the front by count and age. */
  items: Publication[];
  head: number;
  /** The largest fencing number a publish on this channel carried (0: none). */
  fence: number;
}

export interface MemoryBusOptions {
  history: HistoryPolicyResolver;
  /** Injected clock, for tests of age-based trimming. */
  now?: () => number;
}

/**
 * The embedded bus: one process, no dependencies. Publications are delivered synchronously to the
 * handler in publish order, never lost, so `resubscribed` is never called.
 *
 * A channel's state lives while it has been published to or is subscribed: a history read of a
 * channel nobody subscribes to and nobody published to answers from a fresh epoch and keeps
 * nothing, and unsubscribing from a channel never published to forgets it. Clients choose channel
 * names, so only the producer's publications can make this bus hold state for long.
 *
 * Its leases (lease.ts) live in this process: the one producer that uses it is always the leader.
 */
export class MemoryBus implements Bus, Lease {
  readonly kind = 'memory' as const;
  private handler: BusHandler | undefined;
  private readonly channels = new Map<string, ChannelLog>();
  private readonly subscribed = new Set<string>();
  private readonly controlListeners = new Set<ControlListener>();
  private readonly now: () => number;
  private closed = false;
  private readonly leases: MemoryLeases;

  constructor(private readonly options: MemoryBusOptions) {
    this.now = options.now ?? Date.now;
    this.leases = new MemoryLeases(this.now);
  }

  setHandler(handler: BusHandler): void {
    this.handler = handler;
  }

  /** Channels this bus holds state for (published to, or subscribed and read). */
  get channelCount(): number {
    return this.channels.size;
  }

  private log(channel: string): ChannelLog {
    let log = this.channels.get(channel);
    if (log === undefined) {
      log = { epoch: newEpoch(), offset: 0, items: [], head: 0, fence: 0 };
      this.channels.set(channel, log);
    }
    return log;
  }

  private trim(channel: string, log: ChannelLog): void {
    const { size, ttlMs } = this.options.history(channel);
    const minTime = this.now() - ttlMs;
    while (log.items.length - log.head > size || (log.head < log.items.length && log.items[log.head]!.time < minTime)) {
      log.head++;
    }
    if (log.head > 1024 && log.head * 2 > log.items.length) {
      log.items = log.items.slice(log.head);
      log.head = 0;
    }
  }

  async publish(channel: string, dataJson: string, opts: PublishOptions = {}): Promise<StreamPosition> {
    if (this.closed) throw new Error('bus is closed');
    const log = this.log(channel);
    if (opts.fence !== undefined) {
      if (log.fence > opts.fence) throw new FencedError(channel, opts.fence, log.fence);
      log.fence = opts.fence;
    }
    const offset = ++log.offset;
    const time = this.now();
    const pub: Publication = { channel, epoch: log.epoch, offset, time, frame: encodePublicationFrame(channel, offset, time, dataJson) };
    log.items.push(pub);
    this.trim(channel, log);
    if (this.subscribed.has(channel)) this.handler?.publication(pub);
    return { epoch: log.epoch, offset };
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
    if (this.channels.get(channel)?.offset === 0) this.channels.delete(channel);
  }

  async history(channel: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    const held = this.channels.get(channel) ?? (this.subscribed.has(channel) ? this.log(channel) : undefined);
    if (held === undefined) return { epoch: newEpoch(), offset: 0, publications: [], recovered: query.since === undefined };
    const log = held;
    this.trim(channel, log);
    const { since, limit, maxBytes } = query;
    let from: number;
    let to = log.items.length;
    if (since !== undefined) {
      const first = log.head < log.items.length ? log.items[log.head]!.offset : log.offset + 1;
      const ok = since.epoch === log.epoch && since.offset <= log.offset && since.offset + 1 >= first;
      if (!ok) return { epoch: log.epoch, offset: log.offset, publications: [], recovered: false };
      from = log.head + (since.offset + 1 - first);
      if (limit !== undefined) to = Math.min(to, from + limit);
    } else {
      from = Math.max(log.head, to - (limit ?? to));
    }
    if (maxBytes !== undefined) to = pageEnd(log.items, from, to, maxBytes);
    return { epoch: log.epoch, offset: log.offset, publications: log.items.slice(from, to), recovered: true };
  }

  /** Delivered to every listener of this process on a later microtask (never inside the caller). */
  async publishControl(message: string): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    checkControlMessage(message);
    const listeners = [...this.controlListeners];
    queueMicrotask(() => {
      for (const l of listeners) l(message);
    });
  }

  async listenControl(listener: ControlListener): Promise<() => void> {
    this.controlListeners.add(listener);
    return () => void this.controlListeners.delete(listener);
  }

  acquireLease(name: string, owner: string, ttlMs: number, recordsTtlMs: number, opts?: { ifKnown?: boolean }): Promise<number | undefined> {
    return Promise.resolve(this.leases.acquire(name, owner, ttlMs, recordsTtlMs, opts?.ifKnown));
  }

  renewLease(name: string, owner: string, fence: number, ttlMs: number, recordsTtlMs: number): Promise<boolean> {
    return Promise.resolve(this.leases.renew(name, owner, fence, ttlMs, recordsTtlMs));
  }

  releaseLease(name: string, owner: string, fence: number): Promise<boolean> {
    return Promise.resolve(this.leases.release(name, owner, fence));
  }

  leaseHolder(name: string): Promise<{ owner: string; fence: number } | undefined> {
    return Promise.resolve(this.leases.holder(name));
  }

  writeLeaseRecord(name: string, owner: string, fence: number, field: string, value: string | null): Promise<boolean> {
    return Promise.resolve(this.leases.write(name, owner, fence, field, value));
  }

  leaseRecords(name: string): Promise<Record<string, string>> {
    return Promise.resolve(this.leases.records(name));
  }

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribed.clear();
    this.controlListeners.clear();
  }
}

/** End of the page starting at `from`: frames totalling at most `maxBytes`, at least one. */
function pageEnd(items: readonly Publication[], from: number, to: number, maxBytes: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    bytes += items[i]!.frame.length;
    if (bytes > maxBytes) return Math.max(i, from + 1);
  }
  return to;
}
