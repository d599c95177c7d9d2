import { MemoryBus, type Bus, type BusHandler, type HistoryQuery, type HistoryResult, type Publication } from '@megaphone/bus';
import type { StreamPosition } from '@megaphone/protocol';

export function memoryBus(size = 1000, ttlMs = 3_600_000): MemoryBus {
  return new MemoryBus({ history: () => ({ size, ttlMs }) });
}

/**
 * A bus around a MemoryBus that misbehaves on demand, like a real network bus can: it drops,
 * holds back (reorders) or duplicates publications on their way to the node, and counts
 * subscribe/unsubscribe calls.
 */
export class TestBus implements Bus {
  readonly kind = 'memory' as const;
  private handler: BusHandler | undefined;
  subscribeCalls = 0;
  unsubscribeCalls = 0;
  readonly subscribed = new Set<string>();
  /** Return true to lose this publication on the way to the node. */
  drop: (pub: Publication) => boolean = () => false;
  /** Return true to hold this publication back until `release()`. */
  hold: (pub: Publication) => boolean = () => false;
  duplicate = false;
  private readonly heldBack: Publication[] = [];
  failHistory = false;
  /** Delay of each history read, in ms (a slow or far-away store). */
  historyDelay: () => number = () => 0;
  historyCalls = 0;
  subscribeDelayMs = 0;
  /** Rewrites history answers (a store that trimmed entries, or one that breaks its promises). */
  mangleHistory: (result: HistoryResult, query: HistoryQuery | undefined) => HistoryResult = (r) => r;

  constructor(public inner: MemoryBus = memoryBus()) {
    this.attach(inner);
  }

  /**
   * Replaces the bus's storage with an empty one (a Redis that restarted without its data): new
   * epochs, offsets from 1. Subscriptions are taken again and the node is told, as a real bus would.
   */
  async reset(inner: MemoryBus = memoryBus(), opts: { notify?: boolean } = {}): Promise<void> {
    this.inner = inner;
    this.attach(inner);
    for (const ch of this.subscribed) await inner.subscribe(ch);
    if (opts.notify !== false) this.handler?.resubscribed?.([...this.subscribed]);
  }

  private attach(inner: MemoryBus): void {
    inner.setHandler({
      publication: (pub) => {
        if (this.drop(pub)) return;
        if (this.hold(pub)) {
          this.heldBack.push(pub);
          return;
        }
        this.handler?.publication(pub);
        if (this.duplicate) this.handler?.publication(pub);
      },
    });
  }

  setHandler(handler: BusHandler): void {
    this.handler = handler;
  }

  /** Delivers the held-back publications (late, out of order). */
  release(): void {
    const held = this.heldBack.splice(0);
    for (const pub of held) this.handler?.publication(pub);
  }

  resubscribed(channels: string[]): void {
    this.handler?.resubscribed?.(channels);
  }

  publish(channel: string, dataJson: string): Promise<StreamPosition> {
    return this.inner.publish(channel, dataJson);
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribeCalls++;
    return this.track(async () => {
      if (this.subscribeDelayMs > 0) await new Promise((r) => setTimeout(r, this.subscribeDelayMs));
      this.subscribed.add(channel);
      await this.inner.subscribe(channel);
    });
  }

  async unsubscribe(channel: string): Promise<void> {
    this.unsubscribeCalls++;
    this.subscribed.delete(channel);
    await this.inner.unsubscribe(channel);
  }

  async history(channel: string, query?: HistoryQuery): Promise<HistoryResult> {
    this.historyCalls++;
    if (this.failHistory) throw new Error('history unavailable (test)');
    return this.track(async () => {
      // Read now, answer later: the answer is stale by the time it arrives, as over a network.
      const result = this.mangleHistory(await this.inner.history(channel, query), query);
      const delay = this.historyDelay();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return result;
    });
  }

  /** Subscribe and history calls under way (the ones that may still change what a sink gets). */
  inFlight = 0;
  private idlers: Array<() => void> = [];

  private async track<T>(call: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await call();
    } finally {
      if (--this.inFlight === 0) for (const done of this.idlers.splice(0)) done();
    }
  }

  /** Resolves once no subscribe or history call is under way. */
  idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idlers.push(resolve));
  }

  publishControl(message: string): Promise<void> {
    return this.inner.publishControl(message);
  }

  listenControl(listener: (message: string) => void): Promise<() => void> {
    return this.inner.listenControl(listener);
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
