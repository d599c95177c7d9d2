import type { HistoryResult, Publication } from '@megaphone/bus';
import { namespaceOf, Reason, type StreamPosition } from '@megaphone/protocol';
import { startCatchUp } from './catch-up.js';
import type { HubContext } from './context.js';
import { joinFrames } from './join.js';
import { LIVE, appendTail, type Subscription } from './subscription.js';

/** Publications held while a gap is filled; beyond either bound they are read from history instead. */
const MAX_HELD = 10_000;
const MAX_HELD_BYTES = 8 * 1024 * 1024;
const FILL_RETRY_MS = 1000;

/**
 * One channel on this node: its subscribers, the node's view of the stream (epoch and the last
 * offset accepted from the bus) and this turn's batch.
 *
 * The node accepts publications strictly in order: offset = last + 1 in the current epoch. A
 * duplicate is dropped; a hole or a new epoch holds later publications while the missing ones
 * are read from history (the source of truth). What history no longer has is announced to every
 * live subscriber with a `gap` message, in order with the rest of its stream.
 */
export class Channel {
  readonly namespace: string;
  readonly subs: Subscription[] = [];
  /** undefined until the node has seen a publication or read the channel's position. */
  epoch: string | undefined = undefined;
  /** Last offset accepted (queued in `pending` or already distributed). */
  offset = 0;
  /** This turn's batch: consecutive offsets ending at `offset`, all in `epoch`. */
  pending: Publication[] = [];
  /** The other half of `pending`, swapped at each distribution so no array is allocated per turn. */
  private spare: Publication[] = [];
  dirty = false;
  /** The latest accepted publication (conflation hands it to lagging connections). */
  latest: Publication | undefined = undefined;
  /** Settles when the bus subscription is in place; rejects if it failed. */
  ready: Promise<void> = Promise.resolve();
  released = false;
  private filling = false;
  private refill = false;
  private held: Publication[] = [];
  private heldBytes = 0;
  private syncing: Promise<StreamPosition> | undefined = undefined;
  private retryTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly name: string,
    private readonly ctx: HubContext,
  ) {
    this.namespace = namespaceOf(name);
  }

  /** Offset of the last publication already handed to subscribers. */
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

  /** Removes a subscriber; true when it was the last one. */
  remove(sub: Subscription): boolean {
    const i = sub.index;
    if (i < 0 || this.subs[i] !== sub) return false;
    const lastSub = this.subs.pop()!;
    if (lastSub !== sub) {
      this.subs[i] = lastSub;
      lastSub.index = i;
    }
    sub.index = -1;
    return this.subs.length === 0;
  }

  dispose(): void {
    this.released = true;
    this.pending = [];
    this.held = [];
    this.heldBytes = 0;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
  }

  /** The channel's current position, read from history once and then tracked from the bus. */
  position(): StreamPosition | Promise<StreamPosition> {
    if (this.epoch !== undefined) return { epoch: this.epoch, offset: this.offset };
    this.syncing ??= this.ctx.bus.history(this.name, { limit: 0 }).then(
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

  /** Adopts a position read from history when the node has none yet. */
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
        if (!replaying) this.ctx.metrics.dropped('duplicate', 1);
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
      this.ctx.markChannelDirty(this);
    }
  }

  /** Checks the node's position against history (after a bus reconnect or an epoch mismatch). */
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
      this.ctx.logger?.warn({ err, channel: this.name }, 'history read failed while filling a gap; retrying');
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
    const epoch = this.epoch!;
    const res = await this.ctx.bus.history(this.name, { since: { epoch, offset: this.offset } });
    if (this.released) return;
    const head = res.publications[0];
    if (res.recovered && res.epoch === epoch && (head === undefined || head.offset <= this.offset + 1)) {
      let filled = false;
      for (const pub of res.publications) {
        if (pub.offset === this.offset + 1) {
          this.accept(pub);
          filled = true;
        }
      }
      if (filled) this.ctx.metrics.gap('filled');
      return;
    }
    const all = await this.ctx.bus.history(this.name);
    if (this.released) return;
    const reason = all.epoch !== epoch ? Reason.EpochChanged : Reason.HistoryExpired;
    if (reason === Reason.EpochChanged) this.ctx.metrics.epochChanged();
    else this.ctx.metrics.gap('lost');
    this.restart(all, reason);
  }

  /** History lost part of the stream: announce the hole, then continue from what history has. */
  private restart(all: HistoryResult, reason: Reason): void {
    this.distribute();
    const first = all.publications[0];
    const gapOffset = first !== undefined ? first.offset - 1 : all.offset;
    for (const sub of this.subs) {
      if (sub.state !== LIVE) continue;
      if (sub.epoch === all.epoch && sub.last >= gapOffset) continue;
      sub.conn.sendGap(sub, all.epoch, gapOffset, reason);
    }
    this.epoch = all.epoch;
    this.offset = gapOffset;
    for (const pub of all.publications) if (pub.offset === this.offset + 1) this.accept(pub);
  }

  /**
   * Hands this turn's batch to every live subscriber. The common case — a subscriber that is
   * exactly at the batch's start — gets the same joined buffer as everyone else.
   */
  distribute(now: number = this.ctx.now()): void {
    const batch = this.pending;
    const n = batch.length;
    if (n === 0) return;
    this.pending = this.spare;
    const ctx = this.ctx;
    const first = batch[0]!.offset;
    const end = batch[n - 1]!.offset;
    const epoch = batch[0]!.epoch;
    let shared: Buffer | undefined;
    let delivered = 0;
    let lagDropped = 0;
    /** Written at once by `deliver` (the rest is counted by the hub's flush). */
    let frames = 0;
    let bytes = 0;
    const subs = this.subs;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      if (sub.state !== LIVE) {
        const tail = sub.tail;
        if (tail !== null) appendTail(sub, tail, batch, ctx.maxQueueBytes);
        else if (sub.lagged) lagDropped += n;
        continue;
      }
      const last = sub.last;
      if (last >= end && sub.epoch === epoch) continue;
      if (last < first - 1 || sub.epoch !== epoch) {
        startCatchUp(ctx, sub, false);
        continue;
      }
      const conn = sub.conn;
      const from = last + 1 - first;
      if (conn.lagging) {
        conn.pauseForLag(sub, n - from);
        continue;
      }
      if (conn.sse) {
        if (conn.enqueueSse(sub, batch, from)) delivered += n - from;
        continue;
      }
      const buf = from === 0 ? (shared ??= joinFrames(batch, 0)) : joinFrames(batch, from);
      const written = conn.deliver(buf);
      if (written < 0) {
        conn.pauseForLag(sub, n - from);
        continue;
      }
      sub.last = end;
      delivered += n - from;
      if (written > 0) {
        frames++;
        bytes += written;
      }
    }
    const m = ctx.metrics;
    if (frames > 0) m.written(frames, bytes);
    if (lagDropped > 0) m.dropped('slow_consumer', lagDropped);
    if (delivered > 0) {
      m.delivered(this.namespace, delivered);
      for (let i = 0; i < n; i++) m.deliveryLatency((now - batch[i]!.time) / 1000);
    }
    batch.length = 0;
    this.spare = batch;
  }

  /**
   * A subscriber has a position from history (join or catch-up): goes live when nothing was
   * distributed since, otherwise catches up the rest.
   */
  settle(sub: Subscription): void {
    // A joining subscriber whose epoch is not the node's checks its position against history
    // first: the node may have moved to a new epoch while it joined, announcing the change only
    // to the subscribers live at that moment, and nothing else would tell this one until the next
    // publication. Catch-up gives it the gap if it is the stale one; if the node is, catch-up
    // ends in trySettle, which has the node verify itself.
    if (this.epoch !== undefined && sub.epoch !== this.epoch) {
      startCatchUp(this.ctx, sub, false);
      return;
    }
    if (!this.trySettle(sub)) startCatchUp(this.ctx, sub, false);
  }

  /** Goes live unless batches were distributed past the subscriber's position (then false). */
  trySettle(sub: Subscription): boolean {
    if (this.epoch === undefined) this.sync(sub.epoch, sub.last);
    if (sub.epoch === this.epoch) {
      if (sub.last < this.distributed) return false;
      this.forceLive(sub);
      return true;
    }
    // The subscriber and the node disagree on the epoch: the node checks history; meanwhile
    // batches of the other epoch send the subscriber back to history, which settles it.
    this.forceLive(sub);
    this.verify();
    return true;
  }

  forceLive(sub: Subscription): void {
    sub.state = LIVE;
    sub.lagged = false;
    sub.conn.onLive(sub);
  }
}
