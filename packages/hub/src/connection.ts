import type { Publication } from '@megaphone/bus';
import {
  CloseCode,
  ErrorCode,
  closeReason,
  encodeServerMessage,
  quoteInput,
  type Reason,
  type ServerMessage,
  type StreamPosition,
  type SubscribeCommand,
  type UnsubscribeCommand,
} from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import { maxLagOf, positionsOf, stateOf, type ConnectionInspection, type ConnectionState } from './inspect.js';
import type { HubMetrics } from './metrics.js';
import type { Recovery } from './recovery.js';
import { CATCHING_UP, CLOSED, JOINING, Subscription, isClosed, startTail, type Outlet, type Stream } from './subscription.js';
import type { Framing, HubConnection, Positions, Sink } from './types.js';

/** What a connection needs from its hub. */
export interface ConnectionHost {
  readonly recovery: Recovery;
  readonly metrics: HubMetrics;
  readonly logger: Logger | undefined;
  readonly maxQueueBytes: number;
  readonly maxSubscriptions: number;
  /** History reads one connection may have in flight; more wait for a slot. */
  readonly maxHistoryReads: number;
  /** The channel's stream on this node, taking the bus subscription on first use. */
  open(channel: string): Stream;
  /** Write this connection at the end of the turn. */
  flushLater(conn: Connection): void;
  /** The connection went over its cap (true) or drained (false). */
  lagging(conn: Connection, on: boolean): void;
  gone(conn: Connection): void;
}

const NO_SUBS: readonly Subscription[] = [];

/**
 * Replies (subscribed, pong, error, …) a connection over its cap may still be queued before it is
 * closed: a client that keeps sending commands without reading what it is sent is not reading.
 */
export const CONTROL_HEADROOM_BYTES = 64 * 1024;

/**
 * One connection's state: its subscriptions by channel and what it will be written this turn.
 * Kept to a handful of fields; nothing here is allocated per message on the common path.
 */
export class Connection implements HubConnection, Outlet, Positions {
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
  private pendingBytes = 0;
  /**
   * The cap minus hub-pending bytes minus an upper bound of `sink.bufferedBytes()`: every write
   * takes from it, and the sink is asked again only when it goes negative. One field to test per
   * delivery.
   */
  private budget: number;
  private dirty = false;
  lagging = false;
  private lagEpisode = false;
  closed = false;
  readonly framing: Framing;
  /** History reads in flight for this connection, and the reads waiting for one to finish. */
  private readSlots = 0;
  private slotWaiters: Array<() => void> | null = null;

  constructor(
    readonly id: number,
    private readonly sink: Sink,
    private readonly host: ConnectionHost,
  ) {
    this.framing = sink.framing;
    this.budget = host.maxQueueBytes;
  }

  // ---- commands (HubConnection) -----------------------------------------------------------

  async subscribe(cmd: SubscribeCommand): Promise<void> {
    if (this.closed) return;
    const host = this.host;
    if (this.subAt(cmd.channel) !== undefined) {
      this.error(cmd.id, ErrorCode.BadRequest, `already subscribed to ${quoteInput(cmd.channel)}`);
      return;
    }
    if (this.subCount() >= host.maxSubscriptions) {
      this.error(cmd.id, ErrorCode.TooManySubscriptions, `at most ${host.maxSubscriptions} subscriptions per connection`);
      return;
    }
    const stream = host.open(cmd.channel);
    const sub = new Subscription(this, stream, cmd.id);
    startTail(sub);
    stream.add(sub);
    this.addSub(sub);
    let done!: () => void;
    sub.joined = new Promise<void>((resolve) => (done = resolve));
    try {
      await host.recovery.join(sub, cmd);
    } finally {
      sub.joined = undefined;
      done();
    }
  }

  unsubscribe(cmd: UnsubscribeCommand): Promise<void> {
    return this.stop(cmd.channel, { op: 'unsubscribed', id: cmd.id, channel: cmd.channel }, true);
  }

  end(channel: string, reason: Reason): Promise<void> {
    return this.stop(channel, { op: 'unsubscribed', channel, reason }, false);
  }

  channels(): string[] {
    return Array.from(this.subList(), (sub) => sub.channel.name);
  }

  private async stop(channel: string, reply: ServerMessage, always: boolean): Promise<void> {
    if (this.closed) return;
    const joining = this.subAt(channel)?.joined;
    if (joining !== undefined) await joining;
    if (this.closed) return;
    const sub = this.subAt(channel);
    if (sub !== undefined) this.drop(sub);
    if (sub !== undefined || always) this.control(reply);
  }

  send(msg: ServerMessage): void {
    if (!this.closed) this.control(msg);
  }

  drained(): void {
    if (this.closed || !this.lagging) return;
    const cap = this.host.maxQueueBytes;
    this.budget = cap - this.pendingBytes - this.sink.bufferedBytes();
    if (this.budget < cap / 2) return;
    this.lagging = false;
    this.host.lagging(this, false);
    for (const sub of this.subList()) if (sub.state === CATCHING_UP) this.host.recovery.resume(sub, false);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.first = null;
    this.rest = null;
    this.pendingBytes = 0;
    if (this.lagging) this.host.lagging(this, false);
    for (const sub of [...this.subList()]) this.drop(sub);
    const waiters = this.slotWaiters;
    this.slotWaiters = null;
    if (waiters !== null) for (const go of waiters) go();
    this.host.gone(this);
  }

  /** Hub-pending + transport-buffered bytes. */
  queuedBytes(): number {
    return this.closed ? 0 : this.pendingBytes + this.sink.bufferedBytes();
  }

  /** For the operator API, computed when asked (inspect.ts). */
  inspect(): ConnectionInspection {
    return { queueBytes: this.queuedBytes(), state: stateOf(this.lagging, this.subList()), channels: positionsOf(this.subList()) };
  }

  maxLag(): number {
    return maxLagOf(this.subList());
  }

  state(): ConnectionState {
    return stateOf(this.lagging, this.subList());
  }

  // ---- what its subscriptions call (Outlet) -----------------------------------------------

  /**
   * A connection with one subscription and nothing queued this turn is written to at once: no
   * other channel can add to its chunk, so queueing it for the end-of-turn flush would only cost
   * a second pass (at low rates, one message per turn, that pass is a measurable share of the
   * CPU per delivery). A control message queued later in the same turn, e.g. a gap, is then a
   * second write; order is kept either way.
   */
  deliver(chunk: Buffer): number {
    if (this.budget < 0 && !this.hasRoom()) return -1;
    if (this.dirty || this.one === null) {
      this.queue(chunk);
      return 0;
    }
    this.budget -= chunk.length;
    try {
      this.sink.write(chunk);
    } catch (err) {
      // Inside a channel's distribution, whose subscriber list must not change under it: the
      // connection closes once the turn's work is done.
      this.host.logger?.warn({ err, conn: this.id }, 'sink write failed; closing the connection');
      queueMicrotask(() => this.close());
      return 0;
    }
    return chunk.length;
  }

  hasRoom(): boolean {
    if (this.budget >= 0) return true;
    this.budget = this.host.maxQueueBytes - this.pendingBytes - this.sink.bufferedBytes();
    return this.budget >= 0;
  }

  push(sub: Subscription, pub: Publication): void {
    sub.last = pub.offset;
    this.queue(this.framing.message('message', pub.frame, this));
  }

  /**
   * Replies count against the cap like everything else: past it by `CONTROL_HEADROOM_BYTES`, the
   * client is not reading what it is sent, and it is closed with 4000 instead of queued for.
   */
  control(msg: ServerMessage): void {
    if (this.budget < -CONTROL_HEADROOM_BYTES && this.room() < -CONTROL_HEADROOM_BYTES) {
      // Not now: the caller may be walking a channel's subscriber list (a gap to all of them).
      queueMicrotask(() => this.closeUnread());
      return;
    }
    this.queue(this.framing.message(msg.op, encodeServerMessage(msg), this));
  }

  room(): number {
    this.budget = this.host.maxQueueBytes - this.pendingBytes - this.sink.bufferedBytes();
    return this.budget;
  }

  takeReadSlot(): Promise<void> | undefined {
    if (this.readSlots < this.host.maxHistoryReads || this.closed) {
      this.readSlots++;
      return undefined;
    }
    return new Promise<void>((resolve) => (this.slotWaiters ??= []).push(resolve));
  }

  giveReadSlot(): void {
    const next = this.slotWaiters?.shift();
    if (next !== undefined) next();
    else this.readSlots--;
    if (this.slotWaiters?.length === 0) this.slotWaiters = null;
  }

  pause(sub: Subscription, missed: number): void {
    const host = this.host;
    if (!this.lagging) {
      this.lagging = true;
      host.lagging(this, true);
      if (!this.lagEpisode) {
        this.lagEpisode = true;
        host.metrics.slowConsumer('lagged');
        host.logger?.debug({ conn: this.id, channel: sub.channel.name }, 'connection over its queue cap; pausing live delivery');
      }
    }
    sub.state = CATCHING_UP;
    sub.lagged = true;
    if (missed > 0) host.metrics.dropped('slow_consumer', missed);
  }

  live(_sub: Subscription): void {
    if (!this.lagEpisode || this.lagging) return;
    for (const s of this.subList()) if (s.state === CATCHING_UP || s.state === JOINING) return;
    this.lagEpisode = false;
    this.host.metrics.slowConsumer('caught_up');
  }

  closeSlow(): void {
    this.closeWith4000('slow consumer could not be caught up from history; closing with 4000', 'slow_consumer');
  }

  /** Over its cap and still sending commands: it does not read its replies. */
  private closeUnread(): void {
    this.closeWith4000('connection over its queue cap keeps sending commands without reading; closing with 4000', 'not_reading');
  }

  private closeWith4000(why: string, reason: string): void {
    if (this.closed) return;
    const { metrics, logger } = this.host;
    metrics.slowConsumer('disconnected');
    logger?.info({ conn: this.id }, why);
    this.close();
    try {
      this.sink.close(CloseCode.SlowConsumer, closeReason({ reason }));
    } catch (err) {
      logger?.warn({ err, conn: this.id }, 'sink close failed');
    }
  }

  drop(sub: Subscription): void {
    if (isClosed(sub)) return;
    sub.state = CLOSED;
    this.removeSub(sub);
    sub.channel.remove(sub);
  }

  /** Every subscription with a position, in subscription order (what an SSE id lists). */
  *positions(): IterableIterator<readonly [string, StreamPosition]> {
    for (const s of this.subList()) if (s.epoch !== '') yield [s.channel.name, s];
  }

  // ---- this turn's chunks -----------------------------------------------------------------

  private queue(chunk: Buffer): void {
    if (this.first === null) this.first = chunk;
    else if (this.rest === null) this.rest = [chunk];
    else this.rest.push(chunk);
    this.pendingBytes += chunk.length;
    this.budget -= chunk.length;
    if (!this.dirty) {
      this.dirty = true;
      this.host.flushLater(this);
    }
  }

  /** Writes this turn's chunks as one `sink.write`; returns the bytes written. */
  flush(): number {
    this.dirty = false;
    const first = this.first;
    if (first === null || this.closed) return 0;
    const chunk = this.rest === null ? first : this.framing.join(first, this.rest);
    this.first = null;
    this.rest = null;
    this.budget += this.pendingBytes - chunk.length;
    this.pendingBytes = 0;
    try {
      this.sink.write(chunk);
    } catch (err) {
      this.host.logger?.warn({ err, conn: this.id }, 'sink write failed; closing the connection');
      this.close();
      return 0;
    }
    return chunk.length;
  }

  // ---- subscriptions by channel -----------------------------------------------------------

  private subAt(channel: string): Subscription | undefined {
    if (this.many !== null) return this.many.get(channel);
    return this.one !== null && this.one.channel.name === channel ? this.one : undefined;
  }

  private subCount(): number {
    return this.many !== null ? this.many.size : this.one !== null ? 1 : 0;
  }

  /** In subscription order. */
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
    this.host.metrics.clientError(code);
    this.control({ op: 'error', id, code, message });
  }
}
