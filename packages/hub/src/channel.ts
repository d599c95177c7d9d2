import type { Publication } from '@megaphone/bus';
import { namespaceOf, type StreamPosition } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import type { HubMetrics } from './metrics.js';
import type { Recovery } from './recovery.js';
import { LIVE, appendTail, type Stream, type Subscription } from './subscription.js';
import type { Framing } from './types.js';

/** Publications held while a gap is filled; beyond either bound they are read from history instead. */
const MAX_HELD = 10_000;
const MAX_HELD_BYTES = 8 * 1024 * 1024;
const FILL_RETRY_MS = 1000;

/** What a channel needs from its hub. */
export interface ChannelHost {
  readonly recovery: Recovery;
  readonly metrics: HubMetrics;
  readonly logger: Logger | undefined;
  /** Bounds a joining or catching-up subscriber's tail. */
  readonly maxQueueBytes: number;
  /** Clock for delivery latency (ms since the Unix epoch). */
  readonly now: () => number;
  /** Distribute this channel's batch at the end of the turn. */
  distributeLater(channel: Channel): void;
  /** The channel lost its last subscriber: drop the bus subscription. */
  release(channel: Channel): void;
}

/**
 * One channel on this node: its subscribers, the node's view of the stream (epoch and the last
 * offset accepted from the bus) and this turn's batch.
 *
 * The node accepts publications strictly in order: offset = last + 1 in the current epoch. A
 * duplicate is dropped; a hole or a new epoch holds later publications while the missing ones
 * are read from history (the source of truth). What history no longer has is announced to every
 * live subscriber with a `gap` message, in order with the rest of its stream.
 */
export class Channel implements Stream {
  readonly namespace: string;
  readonly subs: Subscription[] = [];
  epoch: string | undefined = undefined;
  /** Last offset accepted (queued in `pending` or already distributed). */
  offset = 0;
  /** This turn's batch: consecutive offsets ending at `offset`, all in `epoch`. */
  private pending: Publication[] = [];
  /** The other half of `pending`, swapped at each distribution so no array is allocated per turn. */
  private spare: Publication[] = [];
  dirty = false;
  latest: Publication | undefined = undefined;
  ready: Promise<void> = Promise.resolve();
  private released = false;
  private filling = false;
  private refill = false;
  private held: Publication[] = [];
  private heldBytes = 0;
  private syncing: Promise<StreamPosition> | undefined = undefined;
  private retryTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly name: string,
    private readonly host: ChannelHost,
  ) {
    this.namespace = namespaceOf(name);
  }

  get distributed(): number {
    return this.offset - this.pending.length;
  }

  get heldCount(): number {
    return this.held.length + this.pending.length;
  }

  add(sub: Subscription): void {
    sub.index = this.subs.length;
    this.subs.push(sub);
  }

  remove(sub: Subscription): void {
    const i = sub.index;
    if (i < 0 || this.subs[i] !== sub) return;
    const lastSub = this.subs.pop()!;
    if (lastSub !== sub) {
      this.subs[i] = lastSub;
      lastSub.index = i;
    }
    sub.index = -1;
    if (this.subs.length === 0) this.host.release(this);
  }

  dispose(): void {
    this.released = true;
    this.pending = [];
    this.held = [];
    this.heldBytes = 0;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
  }

  position(): StreamPosition | Promise<StreamPosition> {
    if (this.epoch !== undefined) return { epoch: this.epoch, offset: this.offset };
    this.syncing ??= this.host.recovery.head(this.name).then(
      (r) => {
        this.syncing = undefined;
        this.sync(r.epoch, r.offset);
        return { epoch: this.epoch!, offset: this.offset };
      },
      (err: unknown) => {
        this.syncing = undefined;
        throw err;
      },
    );
    return this.syncing;
  }

  sync(epoch: string, offset: number): void {
    if (this.epoch !== undefined) return;
    this.epoch = epoch;
    this.offset = offset;
  }

  /** From the bus handler. */
  onPublication(pub: Publication, replaying = false): void {
    if (this.released) return;
    if (this.filling) {
      this.held.push(pub);
      this.heldBytes += pub.frame.length;
      if (this.held.length > MAX_HELD || this.heldBytes > MAX_HELD_BYTES) {
        // Bounded memory whatever the bus does: forget them and read them from history again.
        this.held = [];
        this.heldBytes = 0;
        this.refill = true;
      }
      return;
    }
    if (this.epoch === undefined) {
      this.epoch = pub.epoch;
      this.offset = pub.offset - 1;
    }
    if (pub.epoch === this.epoch) {
      if (pub.offset === this.offset + 1) {
        this.accept(pub);
        return;
      }
      if (pub.offset <= this.offset) {
        if (!replaying) this.host.metrics.dropped('duplicate', 1);
        return;
      }
    } else if (replaying) {
      // The fill just read the channel's epoch from history: this one is a late copy from an
      // older epoch (or, in a narrow race, a newer one that the next publication will bring in).
      return;
    }
    this.held.push(pub);
    this.heldBytes += pub.frame.length;
    void this.fill();
  }

  private accept(pub: Publication): void {
    this.pending.push(pub);
    this.offset = pub.offset;
    this.latest = pub;
    if (!this.dirty) {
      this.dirty = true;
      this.host.distributeLater(this);
    }
  }

  verify(): void {
    if (this.epoch === undefined || this.released) return;
    void this.fill();
  }

  private async fill(): Promise<void> {
    if (this.filling) {
      this.refill = true;
      return;
    }
    this.filling = true;
    try {
      do {
        this.refill = false;
        await this.fillOnce();
      } while (this.refill && !this.released);
    } catch (err) {
      this.host.logger?.warn({ err, channel: this.name }, 'history read failed while filling a gap; retrying');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.filling = false;
        void this.fill();
      }, FILL_RETRY_MS);
      this.retryTimer.unref();
      return;
    }
    this.filling = false;
    if (this.released) return;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const pub of held) this.onPublication(pub, true);
  }

  private async fillOnce(): Promise<void> {
    const read = await this.host.recovery.readHole(this.name, this.epoch!, this.offset);
    if (this.released) return;
    if ('filled' in read) {
      let filled = false;
      for (const pub of read.filled) {
        if (pub.offset === this.offset + 1) {
          this.accept(pub);
          filled = true;
        }
      }
      if (filled) this.host.metrics.gap('filled');
      return;
    }
    // History lost part of the stream: announce the hole, then continue from what history has.
    this.distribute();
    this.host.recovery.announceLoss(this.subs, read.lost.epoch, read.gapOffset, read.reason);
    this.epoch = read.lost.epoch;
    this.offset = read.gapOffset;
    for (const pub of read.lost.publications) if (pub.offset === this.offset + 1) this.accept(pub);
  }

  /**
   * Hands this turn's batch to every live subscriber. The common case — a subscriber that is
   * exactly at the batch's start — gets the same chunk as everyone else on the same framing.
   */
  distribute(): void {
    const batch = this.pending;
    const n = batch.length;
    if (n === 0) return;
    this.pending = this.spare;
    const host = this.host;
    const first = batch[0]!.offset;
    const end = batch[n - 1]!.offset;
    const epoch = batch[0]!.epoch;
    let sharedBy: Framing | undefined;
    let shared: Buffer | undefined;
    let delivered = 0;
    /** Subscribers given the whole batch (the latency of each publication counts them once). */
    let whole = 0;
    let lagDropped = 0;
    /** Written at once by `deliver` (the rest is counted by the hub's flush). */
    let frames = 0;
    let bytes = 0;
    const subs = this.subs;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      if (sub.state !== LIVE) {
        const tail = sub.tail;
        if (tail !== null) appendTail(sub, tail, batch, host.maxQueueBytes);
        else if (sub.lagged) lagDropped += n;
        continue;
      }
      const last = sub.last;
      if (last >= end && sub.epoch === epoch) continue;
      if (last < first - 1 || sub.epoch !== epoch) {
        host.recovery.resume(sub, false);
        continue;
      }
      const outlet = sub.outlet;
      const from = last + 1 - first;
      if (outlet.lagging) {
        outlet.pause(sub, n - from);
        continue;
      }
      const framing = outlet.framing;
      let chunk: Buffer;
      if (framing === sharedBy && from === 0) chunk = shared!;
      else if (framing.run === undefined) {
        // Framed per connection (e.g. SSE ids): one message at a time, within the cap.
        let j = from;
        while (j < n && outlet.hasRoom()) outlet.push(sub, batch[j++]!);
        delivered += j - from;
        if (from === 0 && j === n) whole++;
        else this.partialLatency(batch, from, j);
        if (j < n) outlet.pause(sub, n - j);
        continue;
      } else if (from !== 0) chunk = framing.run(batch, from);
      else {
        sharedBy = framing;
        chunk = shared = framing.run(batch, 0);
      }
      const written = outlet.deliver(chunk);
      if (written < 0) {
        outlet.pause(sub, n - from);
        continue;
      }
      sub.last = end;
      delivered += n - from;
      if (from === 0) whole++;
      else this.partialLatency(batch, from, n);
      if (written > 0) {
        frames++;
        bytes += written;
      }
    }
    const m = host.metrics;
    if (frames > 0) m.written(frames, bytes);
    if (lagDropped > 0) m.dropped('slow_consumer', lagDropped);
    if (delivered > 0) m.delivered(this.namespace, delivered);
    if (whole > 0) {
      // Once per batch, after the writes: the time its bytes were handed to the sockets.
      const at = host.now();
      for (let i = 0; i < n; i++) m.deliveryLatency((at - batch[i]!.time) / 1000, whole);
    }
    batch.length = 0;
    this.spare = batch;
  }

  /** A subscriber given only part of the batch (it was mid-way through it): rare, counted alone. */
  private partialLatency(batch: readonly Publication[], from: number, to: number): void {
    const at = this.host.now();
    for (let i = from; i < to; i++) this.host.metrics.deliveryLatency((at - batch[i]!.time) / 1000, 1);
  }
}
