import type { HistoryQuery, HistoryResult, Publication } from '@megaphone/bus';
import { ErrorCode, Reason, type SubscribeCommand } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import { HistoryBusyError, pageBytes, type HistoryReads } from './history-reads.js';
import type { HubMetrics } from './metrics.js';
import { CATCHING_UP, CLOSED, LIVE, isClosed, startTail, stopTail, type Subscription } from './subscription.js';

/** Publications read from history per step of a catch-up. */
const PAGE = 500;
/** Bytes of one history read for the node's own hole in a channel (it holds them until distributed). */
const NODE_PAGE_BYTES = 4 * 1024 * 1024;

export interface RecoveryOptions {
  /** Every read goes through here: shared, bounded in concurrency (history-reads.ts). */
  reads: HistoryReads;
  /** The connections' queue cap: no subscriber's read asks for more bytes than this. */
  maxQueueBytes: number;
  metrics: HubMetrics;
  logger: Logger | undefined;
  conflate: (channel: string) => boolean;
  /** Clock for replay latency (ms since the Unix epoch). */
  now: () => number;
}

/** What history says about a hole in the node's stream (see `Recovery.readHole`). */
export type HoleRead =
  | { readonly filled: readonly Publication[] }
  | { readonly lost: HistoryResult; readonly reason: Reason; readonly gapOffset: number };

/**
 * Every way a position is recovered from history, in one place: a subscriber joining (`history`,
 * `since` or plain), a subscriber brought back after its connection lagged or after a hole
 * (catch-up), and the node's own hole in a channel (`readHole`). It moves subscriptions between
 * their states; channels and connections call it, never each other's internals.
 */
export class Recovery {
  private readonly reads: HistoryReads;
  private readonly maxQueueBytes: number;
  private readonly metrics: HubMetrics;
  private readonly logger: Logger | undefined;
  private readonly conflate: (channel: string) => boolean;
  private readonly now: () => number;

  constructor(opts: RecoveryOptions) {
    this.reads = opts.reads;
    this.maxQueueBytes = opts.maxQueueBytes;
    this.now = opts.now;
    this.metrics = opts.metrics;
    this.logger = opts.logger;
    this.conflate = opts.conflate;
  }

  /** The channel's head (epoch and latest offset), without publications; for joiners (it may be refused). */
  head(channel: string): Promise<HistoryResult> {
    return this.reads.read(channel, { limit: 0 }, false);
  }

  /**
   * A subscriber's read: one page its connection has room for, in one of the connection's read
   * slots. A join (`mayWait` false) is refused with `HistoryBusyError` when the node is busy.
   */
  private async readFor(sub: Subscription, query: HistoryQuery, mayWait: boolean): Promise<HistoryResult> {
    const outlet = sub.outlet;
    const slot = outlet.takeReadSlot();
    if (slot !== undefined) await slot;
    try {
      if (isClosed(sub)) return { epoch: sub.epoch, offset: sub.last, publications: [], recovered: false };
      return await this.reads.read(sub.channel.name, { ...query, maxBytes: pageBytes(outlet.room(), this.maxQueueBytes) }, mayWait);
    } finally {
      outlet.giveReadSlot();
    }
  }

  /**
   * Answers a subscribe: `subscribed` (or `error`), the replay, then live. The subscription is
   * collecting its tail (`startTail`) from before the channel's first history read.
   */
  async join(sub: Subscription, cmd: SubscribeCommand): Promise<void> {
    try {
      await this.joinFromHistory(sub, cmd);
    } finally {
      stopTail(sub);
    }
  }

  private async joinFromHistory(sub: Subscription, cmd: SubscribeCommand): Promise<void> {
    const { outlet, channel } = sub;
    try {
      await channel.ready;
    } catch (err) {
      this.logger?.warn({ err, channel: channel.name }, 'bus subscribe failed');
      this.refuse(sub, cmd.id, ErrorCode.Internal, 'could not subscribe; try again');
      return;
    }
    let pubs: readonly Publication[] = [];
    try {
      if (isClosed(sub)) return;
      if (cmd.since !== undefined) {
        const r = await this.readFor(sub, { since: cmd.since }, false);
        if (isClosed(sub)) return;
        // The node learns the channel's head from the read (not from where the page ended).
        channel.sync(r.epoch, r.offset);
        this.metrics.recovery(r.recovered ? 'recovered' : 'not_recovered');
        sub.epoch = r.epoch;
        sub.last = r.recovered ? cmd.since.offset : r.offset;
        if (r.recovered) pubs = r.publications;
        outlet.control({ op: 'subscribed', id: cmd.id, channel: channel.name, epoch: r.epoch, offset: r.offset, recovered: r.recovered });
      } else if (cmd.history !== undefined && cmd.history > 0) {
        const r = await this.readFor(sub, { limit: cmd.history }, false);
        if (isClosed(sub)) return;
        channel.sync(r.epoch, r.offset);
        const first = r.publications[0];
        sub.epoch = r.epoch;
        sub.last = first !== undefined ? first.offset - 1 : r.offset;
        pubs = r.publications;
        outlet.control({ op: 'subscribed', id: cmd.id, channel: channel.name, epoch: r.epoch, offset: r.offset });
      } else {
        const p = await channel.position();
        if (isClosed(sub)) return;
        sub.epoch = p.epoch;
        sub.last = p.offset;
        outlet.control({ op: 'subscribed', id: cmd.id, channel: channel.name, epoch: p.epoch, offset: p.offset });
      }
    } catch (err) {
      if (err instanceof HistoryBusyError) {
        this.refuse(sub, cmd.id, ErrorCode.HistoryUnavailable, `history reads are busy on this node; retry in ${err.retryAfterMs} ms`, err.retryAfterMs);
        return;
      }
      this.logger?.warn({ err, channel: channel.name }, 'history read failed on subscribe');
      this.refuse(sub, cmd.id, ErrorCode.HistoryUnavailable, 'history is unavailable; try again');
      return;
    }
    if (!this.replay(sub, pubs) || !this.replayTail(sub)) return;
    this.settle(sub);
  }

  private refuse(sub: Subscription, id: number, code: ErrorCode, message: string, retryAfterMs?: number): void {
    if (sub.state === CLOSED) return;
    sub.outlet.drop(sub);
    this.metrics.clientError(code);
    sub.outlet.control(retryAfterMs === undefined ? { op: 'error', id, code, message } : { op: 'error', id, code, message, retryAfterMs });
  }

  /**
   * Pauses a subscription's live delivery and brings it back to the node's position from history,
   * over its own connection. `lagged`: the cause is its connection's cap (SPEC §7), so history that
   * no longer covers the hole closes the connection with 4000; otherwise (a hole at join or on the
   * node) the subscriber gets a `gap` message and continues.
   */
  resume(sub: Subscription, lagged: boolean): void {
    if (sub.state === CLOSED) return;
    sub.state = CATCHING_UP;
    if (lagged) sub.lagged = true;
    if (sub.catchingUp || sub.outlet.lagging) return;
    sub.catchingUp = true;
    // Never inside the caller's loop (a channel distributing its batch): a synchronous failure
    // would close the connection and reshape the subscriber list being walked.
    queueMicrotask(() => void this.catchUp(sub));
  }

  private async catchUp(sub: Subscription): Promise<void> {
    const { outlet, channel } = sub;
    try {
      for (;;) {
        if (sub.state !== CATCHING_UP || outlet.closed || outlet.lagging) return;
        if (sub.lagged && this.conflate(channel.name) && this.conflateLatest(sub)) {
          if (this.trySettle(sub)) return;
        }
        const before = sub.last;
        startTail(sub);
        const res = await this.readFor(sub, { since: { epoch: sub.epoch, offset: sub.last }, limit: PAGE }, true);
        if (sub.state !== CATCHING_UP || outlet.closed) return;
        // A history that says "recovered" but starts past the hole is treated as what it is.
        const head = res.publications[0];
        if (res.recovered && (head === undefined || head.offset <= sub.last + 1)) {
          if (!this.replay(sub, res.publications)) return;
          if (sub.last < res.offset && res.publications.length > 0) continue;
          if (!this.replayTail(sub)) return;
        } else if (sub.lagged && res.epoch === sub.epoch) {
          this.metrics.gap('lost');
          outlet.closeSlow();
          return;
        } else {
          const all = await this.readFor(sub, {}, true);
          if (sub.state !== CATCHING_UP || outlet.closed) return;
          const first = all.publications[0];
          const gapOffset = first !== undefined ? first.offset - 1 : all.offset;
          const reason = all.epoch !== sub.epoch ? Reason.EpochChanged : Reason.HistoryExpired;
          if (reason === Reason.HistoryExpired) this.metrics.gap('lost');
          this.gap(sub, all.epoch, gapOffset, reason);
          if (!this.replay(sub, all.publications) || !this.replayTail(sub)) return;
        }
        if (this.trySettle(sub)) return;
        if (sub.last === before) {
          // History has nothing the node has not distributed yet (a lagging replica?): go live and
          // let the next batch look again rather than spin.
          this.goLive(sub);
          return;
        }
      }
    } catch (err) {
      this.logger?.warn({ err, channel: channel.name, conn: outlet.id }, 'history read failed during catch-up');
      if (!outlet.closed && sub.state === CATCHING_UP) outlet.closeSlow();
    } finally {
      stopTail(sub);
      sub.catchingUp = false;
    }
  }

  /** Announces a hole: the subscription continues from `offset` in `epoch`. */
  gap(sub: Subscription, epoch: string, offset: number, reason: Reason): void {
    sub.epoch = epoch;
    sub.last = offset;
    sub.outlet.control({ op: 'gap', channel: sub.channel.name, epoch, offset, reason });
  }

  /** Queues publications following `sub.last`; false when the connection's cap stopped it. */
  private replay(sub: Subscription, pubs: readonly Publication[]): boolean {
    const outlet = sub.outlet;
    const at = this.now();
    let n = 0;
    let ok = true;
    for (const pub of pubs) {
      if (pub.epoch !== sub.epoch) break;
      if (pub.offset <= sub.last) continue;
      if (pub.offset !== sub.last + 1) break;
      if (!outlet.hasRoom()) {
        outlet.pause(sub, 0);
        ok = false;
        break;
      }
      outlet.push(sub, pub);
      this.metrics.replayLatency((at - pub.time) / 1000, 1);
      n++;
    }
    if (n > 0) this.metrics.delivered(sub.channel.namespace, n);
    return ok;
  }

  /**
   * After history: the live publications collected while it was read. Stops at a hole or another
   * epoch (the caller reads history again); false when the cap stopped it.
   */
  private replayTail(sub: Subscription): boolean {
    const tail = sub.tail;
    stopTail(sub);
    return tail === null || this.replay(sub, tail);
  }

  /** Conflated channel, lagging subscriber: only the latest publication. False if none to give. */
  private conflateLatest(sub: Subscription): boolean {
    const latest = sub.channel.latest;
    if (latest === undefined || latest.epoch !== sub.epoch || latest.epoch !== sub.channel.epoch) return false;
    if (latest.offset > sub.last) {
      const skipped = latest.offset - sub.last - 1;
      sub.outlet.push(sub, latest);
      this.metrics.delivered(sub.channel.namespace, 1);
      this.metrics.replayLatency((this.now() - latest.time) / 1000, 1);
      if (skipped > 0) this.metrics.dropped('conflated', skipped);
    }
    this.metrics.slowConsumer('conflated');
    return true;
  }

  /**
   * A subscriber has a position from history (join): goes live when nothing was distributed
   * since, otherwise catches up the rest.
   */
  private settle(sub: Subscription): void {
    // A joining subscriber whose epoch is not the node's checks its position against history
    // first: the node may have moved to a new epoch while it joined, announcing the change only
    // to the subscribers live at that moment, and nothing else would tell this one until the next
    // publication. Catch-up gives it the gap if it is the stale one; if the node is, catch-up
    // ends in trySettle, which has the node verify itself.
    const epoch = sub.channel.epoch;
    if (epoch !== undefined && sub.epoch !== epoch) {
      this.resume(sub, false);
      return;
    }
    if (!this.trySettle(sub)) this.resume(sub, false);
  }

  /** Goes live unless batches were distributed past the subscriber's position (then false). */
  private trySettle(sub: Subscription): boolean {
    const ch = sub.channel;
    if (ch.epoch === undefined) ch.sync(sub.epoch, sub.last);
    if (sub.epoch === ch.epoch) {
      if (sub.last < ch.distributed) return false;
      this.goLive(sub);
      return true;
    }
    // The subscriber and the node disagree on the epoch: the node checks history; meanwhile
    // batches of the other epoch send the subscriber back to history, which settles it.
    this.goLive(sub);
    ch.verify();
    return true;
  }

  private goLive(sub: Subscription): void {
    sub.state = LIVE;
    sub.lagged = false;
    sub.outlet.live(sub);
  }

  /**
   * The node's own hole in a channel (publications after `offset` that the bus lost, or a new
   * epoch): what history has to fill it, or, when history lost part of it, where the stream
   * continues and why (`epoch_changed` or `history_expired`).
   */
  async readHole(channel: string, epoch: string, offset: number): Promise<HoleRead> {
    const res = await this.reads.read(channel, { since: { epoch, offset }, maxBytes: NODE_PAGE_BYTES }, true);
    const head = res.publications[0];
    if (res.recovered && res.epoch === epoch && (head === undefined || head.offset <= offset + 1)) {
      return { filled: res.publications };
    }
    const all = await this.reads.read(channel, { maxBytes: NODE_PAGE_BYTES }, true);
    const reason = all.epoch !== epoch ? Reason.EpochChanged : Reason.HistoryExpired;
    if (reason === Reason.EpochChanged) this.metrics.epochChanged();
    else this.metrics.gap('lost');
    const first = all.publications[0];
    return { lost: all, reason, gapOffset: first !== undefined ? first.offset - 1 : all.offset };
  }

  /** The node lost part of a channel: every live subscriber not already past it gets the `gap`. */
  announceLoss(subs: readonly Subscription[], epoch: string, gapOffset: number, reason: Reason): void {
    for (const sub of subs) {
      if (sub.state !== LIVE) continue;
      if (sub.epoch === epoch && sub.last >= gapOffset) continue;
      this.gap(sub, epoch, gapOffset, reason);
    }
  }
}
