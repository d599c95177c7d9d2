import type { Publication } from '@megaphone/bus';
import {
  CloseCode,
  ErrorCode,
  closeReason,
  encodeServerMessage,
  type Reason,
  type ServerMessage,
  type SubscribeCommand,
  type UnsubscribeCommand,
} from '@megaphone/protocol';
import { startCatchUp } from './catch-up.js';
import type { HubContext } from './context.js';
import { joinChunks } from './join.js';
import { sseEvent, sseId } from './sse.js';
import { CATCHING_UP, CLOSED, JOINING, Subscription, isClosed, startTail, stopTail } from './subscription.js';
import type { HubConnection, Sink } from './types.js';

const NO_SUBS: readonly Subscription[] = [];

/**
 * One connection's state: its subscriptions by channel and what it will be written this turn.
 * Kept to a handful of fields; nothing here is allocated per message on the common path.
 */
export class Connection implements HubConnection {
  /**
   * Subscriptions by channel. Nearly every connection has exactly one, so it is kept in `one`
   * and a Map (well over 100 bytes with its table) is made only when a second arrives: idle memory
   * per connection is a product target.
   */
  private one: Subscription | null = null;
  private many: Map<string, Subscription> | null = null;
  /** This turn's chunks: `first` alone is the common case (no array). */
  private first: Buffer | null = null;
  private rest: Buffer[] | null = null;
  pendingBytes = 0;
  /**
   * An upper bound of `sink.bufferedBytes()`: every write adds to it, and the sink is asked
   * again only when the bound says the connection might be over its cap.
   */
  private estBuffered = 0;
  dirty = false;
  /** Over its cap: live batches are not queued; subscriptions catch up after `drained()`. */
  lagging = false;
  private lagEpisode = false;
  closed = false;

  constructor(
    readonly id: number,
    private readonly sink: Sink,
    readonly sse: boolean,
    private readonly ctx: HubContext,
  ) {}

  async subscribe(cmd: SubscribeCommand): Promise<void> {
    if (this.closed) return;
    const ctx = this.ctx;
    if (this.subAt(cmd.channel) !== undefined) {
      this.error(cmd.id, ErrorCode.BadRequest, `already subscribed to "${cmd.channel}"`);
      return;
    }
    if (this.subCount() >= ctx.maxSubscriptions) {
      this.error(cmd.id, ErrorCode.TooManySubscriptions, `at most ${ctx.maxSubscriptions} subscriptions per connection`);
      return;
    }
    const channel = ctx.acquire(cmd.channel);
    const sub = new Subscription(this, channel, cmd.id);
    startTail(sub);
    channel.add(sub);
    this.addSub(sub);
    ctx.subscriptionsChanged(1);
    let done!: () => void;
    sub.joined = new Promise<void>((resolve) => (done = resolve));
    try {
      await this.join(sub, cmd);
    } finally {
      sub.joined = undefined;
      done();
    }
  }

  private async join(sub: Subscription, cmd: SubscribeCommand): Promise<void> {
    try {
      await this.joinFromHistory(sub, cmd);
    } finally {
      stopTail(sub);
    }
  }

  private async joinFromHistory(sub: Subscription, cmd: SubscribeCommand): Promise<void> {
    const { bus, metrics } = this.ctx;
    const channel = sub.channel;
    try {
      await channel.ready;
    } catch (err) {
      this.ctx.logger?.warn({ err, channel: channel.name }, 'bus subscribe failed');
      if (sub.state !== CLOSED) {
        this.drop(sub);
        this.error(cmd.id, ErrorCode.Internal, 'could not subscribe; try again');
      }
      return;
    }
    let pubs: readonly Publication[] = [];
    try {
      if (isClosed(sub)) return;
      if (cmd.since !== undefined) {
        const r = await bus.history(channel.name, { since: cmd.since });
        if (isClosed(sub)) return;
        metrics.recovery(r.recovered ? 'recovered' : 'not_recovered');
        sub.epoch = r.epoch;
        sub.last = r.recovered ? cmd.since.offset : r.offset;
        if (r.recovered) pubs = r.publications;
        this.pushControl({ op: 'subscribed', id: cmd.id, channel: channel.name, epoch: r.epoch, offset: r.offset, recovered: r.recovered });
      } else if (cmd.history !== undefined && cmd.history > 0) {
        const r = await bus.history(channel.name, { limit: cmd.history });
        if (isClosed(sub)) return;
        const first = r.publications[0];
        sub.epoch = r.epoch;
        sub.last = first !== undefined ? first.offset - 1 : r.offset;
        pubs = r.publications;
        this.pushControl({ op: 'subscribed', id: cmd.id, channel: channel.name, epoch: r.epoch, offset: r.offset });
      } else {
        const p = await channel.position();
        if (isClosed(sub)) return;
        sub.epoch = p.epoch;
        sub.last = p.offset;
        this.pushControl({ op: 'subscribed', id: cmd.id, channel: channel.name, epoch: p.epoch, offset: p.offset });
      }
    } catch (err) {
      this.ctx.logger?.warn({ err, channel: channel.name }, 'history read failed on subscribe');
      if (sub.state !== CLOSED) {
        this.drop(sub);
        this.error(cmd.id, ErrorCode.HistoryUnavailable, 'history is unavailable; try again');
      }
      return;
    }
    if (!this.replay(sub, pubs) || !this.replayTail(sub)) return;
    channel.settle(sub);
  }

  async unsubscribe(cmd: UnsubscribeCommand): Promise<void> {
    if (this.closed) return;
    const joining = this.subAt(cmd.channel)?.joined;
    if (joining !== undefined) await joining;
    if (this.closed) return;
    const sub = this.subAt(cmd.channel);
    if (sub !== undefined) this.drop(sub);
    this.pushControl({ op: 'unsubscribed', id: cmd.id, channel: cmd.channel });
  }

  send(msg: ServerMessage): void {
    if (!this.closed) this.pushControl(msg);
  }

  drained(): void {
    if (this.closed || !this.lagging) return;
    this.estBuffered = this.sink.bufferedBytes();
    if (this.pendingBytes + this.estBuffered > this.ctx.maxQueueBytes / 2) return;
    this.lagging = false;
    this.ctx.lagging(this, false);
    for (const sub of this.subList()) if (sub.state === CATCHING_UP) startCatchUp(this.ctx, sub, false);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.first = null;
    this.rest = null;
    this.pendingBytes = 0;
    if (this.lagging) this.ctx.lagging(this, false);
    for (const sub of [...this.subList()]) this.drop(sub);
    this.ctx.connectionClosed(this);
  }

  /** History can no longer cover this slow consumer: close 4000, it resumes with `since`. */
  closeSlow(): void {
    if (this.closed) return;
    this.ctx.metrics.slowConsumer('disconnected');
    this.ctx.logger?.info({ conn: this.id }, 'slow consumer could not be caught up from history; closing with 4000');
    this.close();
    try {
      this.sink.close(CloseCode.SlowConsumer, closeReason({ reason: 'slow_consumer' }));
    } catch (err) {
      this.ctx.logger?.warn({ err, conn: this.id }, 'sink close failed');
    }
  }

  queuedBytes(): number {
    return this.closed ? 0 : this.pendingBytes + this.sink.bufferedBytes();
  }

  private drop(sub: Subscription): void {
    if (isClosed(sub)) return;
    sub.state = CLOSED;
    this.removeSub(sub);
    this.ctx.subscriptionsChanged(-1);
    if (sub.channel.remove(sub)) this.ctx.release(sub.channel);
  }

  private subAt(channel: string): Subscription | undefined {
    if (this.many !== null) return this.many.get(channel);
    return this.one !== null && this.one.channel.name === channel ? this.one : undefined;
  }

  private subCount(): number {
    return this.many !== null ? this.many.size : this.one !== null ? 1 : 0;
  }

  /** In subscription order (the SSE id lists them so). */
  private subList(): Iterable<Subscription> {
    if (this.many !== null) return this.many.values();
    return this.one !== null ? [this.one] : NO_SUBS;
  }

  private addSub(sub: Subscription): void {
    if (this.many !== null) this.many.set(sub.channel.name, sub);
    else if (this.one === null) this.one = sub;
    else {
      this.many = new Map([[this.one.channel.name, this.one], [sub.channel.name, sub]]);
      this.one = null;
    }
  }

  private removeSub(sub: Subscription): void {
    if (this.many !== null) this.many.delete(sub.channel.name);
    else if (this.one === sub) this.one = null;
  }

  private error(id: number, code: ErrorCode, message: string): void {
    this.ctx.metrics.clientError(code);
    this.pushControl({ op: 'error', id, code, message });
  }

  // ---- queueing ---------------------------------------------------------------------------

  /** False when the connection is over its cap (the caller pauses the subscription). */
  private hasRoom(): boolean {
    const cap = this.ctx.maxQueueBytes;
    if (this.pendingBytes + this.estBuffered <= cap) return true;
    this.estBuffered = this.sink.bufferedBytes();
    return this.pendingBytes + this.estBuffered <= cap;
  }

  private push(buf: Buffer): void {
    if (this.first === null) this.first = buf;
    else if (this.rest === null) this.rest = [buf];
    else this.rest.push(buf);
    this.pendingBytes += buf.length;
    if (!this.dirty) {
      this.dirty = true;
      this.ctx.markConnDirty(this);
    }
  }

  /**
   * A live ws batch, shared with the channel's other subscribers: the bytes written at once, 0
   * when queued for the end-of-turn flush, -1 when the connection is over its cap.
   *
   * A connection with one subscription and nothing queued this turn is written to at once: no
   * other channel can add to its chunk, so the hub's second pass (queue, then flush) would only
   * cost time — at low rates, one message per turn, that pass was a measurable share of the CPU
   * per delivery. (A control message the hub queues later in the same turn, e.g. a gap, then
   * becomes a second write; order is kept either way.)
   */
  deliver(buf: Buffer): number {
    if (!this.hasRoom()) return -1;
    if (this.first === null && this.one !== null && !this.dirty && !this.closed) return this.writeNow(buf);
    this.push(buf);
    return 0;
  }

  /**
   * `write` from inside a channel's distribution, which must not see its subscriber list change
   * under it: a failing sink closes the connection once the turn's work is done.
   */
  private writeNow(chunk: Buffer): number {
    this.estBuffered += chunk.length;
    try {
      this.sink.write(chunk);
    } catch (err) {
      this.ctx.logger?.warn({ err, conn: this.id }, 'sink write failed; closing the connection');
      queueMicrotask(() => this.close());
      return 0;
    }
    return chunk.length;
  }

  /** A live batch for an SSE connection: one event per publication, each with the positions. */
  enqueueSse(sub: Subscription, batch: readonly Publication[], from: number): boolean {
    if (!this.hasRoom()) {
      this.pauseForLag(sub, batch.length - from);
      return false;
    }
    for (let i = from; i < batch.length; i++) {
      const pub = batch[i]!;
      sub.last = pub.offset;
      this.push(sseEvent(sseId(this.subList()), 'message', pub.frame));
    }
    return true;
  }

  /**
   * After history: the live publications collected while it was read. Stops at a hole or another
   * epoch (the caller reads history again); false when the cap stopped it.
   */
  replayTail(sub: Subscription): boolean {
    const tail = sub.tail;
    stopTail(sub);
    return tail === null || this.replay(sub, tail);
  }

  /** Replay or catch-up: queues publications following `sub.last`; false when the cap stopped it. */
  replay(sub: Subscription, pubs: readonly Publication[]): boolean {
    let n = 0;
    let ok = true;
    for (const pub of pubs) {
      if (pub.epoch !== sub.epoch) break;
      if (pub.offset <= sub.last) continue;
      if (pub.offset !== sub.last + 1) break;
      if (!this.hasRoom()) {
        this.pauseForLag(sub, 0);
        ok = false;
        break;
      }
      this.pushPub(sub, pub);
      n++;
    }
    if (n > 0) this.ctx.metrics.delivered(sub.channel.namespace, n);
    return ok;
  }

  private pushPub(sub: Subscription, pub: Publication): void {
    sub.last = pub.offset;
    this.push(this.sse ? sseEvent(sseId(this.subList()), 'message', pub.frame) : pub.frame);
  }

  /** Conflated channel, lagging subscriber: only the latest publication. False if none to give. */
  conflate(sub: Subscription): boolean {
    const latest = sub.channel.latest;
    if (latest === undefined || latest.epoch !== sub.epoch || latest.epoch !== sub.channel.epoch) return false;
    if (latest.offset > sub.last) {
      const skipped = latest.offset - sub.last - 1;
      this.pushPub(sub, latest);
      this.ctx.metrics.delivered(sub.channel.namespace, 1);
      if (skipped > 0) this.ctx.metrics.dropped('conflated', skipped);
    }
    this.ctx.metrics.slowConsumer('conflated');
    return true;
  }

  private pushControl(msg: ServerMessage): void {
    const json = encodeServerMessage(msg);
    this.push(this.sse ? sseEvent(sseId(this.subList()), msg.op, json) : json);
  }

  sendGap(sub: Subscription, epoch: string, offset: number, reason: Reason): void {
    sub.epoch = epoch;
    sub.last = offset;
    this.pushControl({ op: 'gap', channel: sub.channel.name, epoch, offset, reason });
  }

  pauseForLag(sub: Subscription, missed: number): void {
    if (!this.lagging) {
      this.lagging = true;
      this.ctx.lagging(this, true);
      if (!this.lagEpisode) {
        this.lagEpisode = true;
        this.ctx.metrics.slowConsumer('lagged');
        this.ctx.logger?.debug({ conn: this.id, channel: sub.channel.name }, 'connection over its queue cap; pausing live delivery');
      }
    }
    sub.state = CATCHING_UP;
    sub.lagged = true;
    if (missed > 0) this.ctx.metrics.dropped('slow_consumer', missed);
  }

  onLive(_sub: Subscription): void {
    if (!this.lagEpisode || this.lagging) return;
    for (const s of this.subList()) if (s.state === CATCHING_UP || s.state === JOINING) return;
    this.lagEpisode = false;
    this.ctx.metrics.slowConsumer('caught_up');
  }

  /** Writes this turn's chunks as one `sink.write`; returns the bytes written. */
  flush(): number {
    this.dirty = false;
    const first = this.first;
    if (first === null || this.closed) return 0;
    const chunk = this.rest === null ? first : joinChunks(first, this.rest, !this.sse);
    this.first = null;
    this.rest = null;
    this.pendingBytes = 0;
    this.estBuffered += chunk.length;
    try {
      this.sink.write(chunk);
    } catch (err) {
      this.ctx.logger?.warn({ err, conn: this.id }, 'sink write failed; closing the connection');
      this.close();
      return 0;
    }
    return chunk.length;
  }
}
