import type { Bus, Publication } from '@megaphone/bus';
import type { Logger } from '@megaphone/runtime';
import { Channel, type ChannelHost } from './channel.js';
import { Connection, type ConnectionHost } from './connection.js';
import { HistoryReads } from './history-reads.js';
import { withDefaults, type HubMetrics } from './metrics.js';
import { Recovery } from './recovery.js';
import type { HubConnection, HubOptions, HubStats, Sink } from './types.js';

/** How often lagging connections are checked even if their transport never reports a drain. */
const LAG_CHECK_MS = 250;
export const DEFAULT_MAX_HISTORY_READS = 32;
export const DEFAULT_MAX_HISTORY_READS_PER_CONNECTION = 4;
/**
 * Reads that may wait for the node's slots, per slot: a burst of joins (clients reconnecting after
 * a deploy) waits its turn; joins beyond are refused with a retry hint (catch-ups always wait).
 */
const HISTORY_WAIT_FACTOR = 64;

function prefixed(s: { inFlight: number; waiting: number }): { historyReadsInFlight: number; historyReadsWaiting: number } {
  return { historyReadsInFlight: s.inFlight, historyReadsWaiting: s.waiting };
}

/**
 * The per-node fan-out: channel → subscribers, one bus subscription per channel, per-connection
 * queues. Knows nothing of ws, http or Redis; it writes to `Sink`s.
 *
 * Guarantees, per subscription:
 * - Publications arrive in offset order with no duplicates. `subscribed` comes first (with the
 *   channel's epoch and latest offset, and `recovered` for `since`), then the replay, then live,
 *   joined without a gap or a duplicate even while publications keep arriving.
 * - A hole — publications the bus lost, a reconnect (`resubscribed`), a subscriber that fell
 *   behind — is filled from history. What history no longer has is announced: a `gap` message
 *   (`history_expired`, or `epoch_changed` with the new epoch), or for a slow consumer a close
 *   with 4000. Never a silent hole.
 * - Everything one connection gets in one event-loop turn is one `sink.write`, framed and joined
 *   by the sink's `Framing` (a single-subscription connection is written while the batch is
 *   distributed, and a control message the hub adds later in that turn, e.g. a gap, is a second
 *   write). With a framing that does not depend on the connection, subscribers at the same
 *   position get the same chunk, built once per channel per turn; publication frames are
 *   forwarded as the publisher encoded them.
 * - A connection's hub-pending + transport-buffered bytes stay under `maxQueueBytes` plus one
 *   batch: past it, live batches are not queued (counted as dropped), and once it drains the
 *   subscriptions catch up from history over the same connection — or, on conflated channels,
 *   get only the latest publication (the one place offsets jump forward without a `gap`: such
 *   channels carry state, where only the latest value matters).
 *
 * Costs: one history read per joining `history`/`since` subscriber; plain subscribers share one
 * read per channel. Catch-ups read history per subscription. While a subscription joins or
 * catches up it keeps references to the live publications distributed meanwhile (at most
 * `maxQueueBytes` of them), so that history plus those reach the live stream in one round.
 */
export class Hub {
  private readonly bus: Bus;
  private readonly channelHost: ChannelHost;
  private readonly connectionHost: ConnectionHost;
  private readonly channels = new Map<string, Channel>();
  private readonly connections = new Set<Connection>();
  private readonly laggingConns = new Set<Connection>();
  /** Bus subscribe/unsubscribe calls per channel, run one after another. */
  private readonly busOps = new Map<string, Promise<void>>();
  private dirtyChannels: Channel[] = [];
  private dirtyConns: Connection[] = [];
  /** The other halves of the dirty lists, swapped each turn so no array is allocated per turn. */
  private spareChannels: Channel[] = [];
  private spareConns: Connection[] = [];
  private flushScheduled = false;
  private nextId = 1;
  private closed = false;
  private readonly lagTimer: NodeJS.Timeout;
  private readonly reads: HistoryReads;
  private readonly metrics: HubMetrics;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;

  constructor(opts: HubOptions) {
    if (!Number.isSafeInteger(opts.maxQueueBytes) || opts.maxQueueBytes <= 0) {
      throw new RangeError(`maxQueueBytes must be a positive integer (got ${opts.maxQueueBytes})`);
    }
    if (!Number.isSafeInteger(opts.maxSubscriptionsPerConnection) || opts.maxSubscriptionsPerConnection <= 0) {
      throw new RangeError(`maxSubscriptionsPerConnection must be a positive integer (got ${opts.maxSubscriptionsPerConnection})`);
    }
    this.bus = opts.bus;
    const metrics = (this.metrics = withDefaults(opts.metrics));
    const logger = (this.logger = opts.logger);
    const now = (this.now = opts.now ?? Date.now);
    const maxHistoryReads = opts.maxHistoryReads ?? DEFAULT_MAX_HISTORY_READS;
    const maxHistoryReadsPerConnection = opts.maxHistoryReadsPerConnection ?? DEFAULT_MAX_HISTORY_READS_PER_CONNECTION;
    for (const [name, v] of [['maxHistoryReads', maxHistoryReads], ['maxHistoryReadsPerConnection', maxHistoryReadsPerConnection]] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer (got ${v})`);
    }
    this.reads = new HistoryReads({ bus: opts.bus, maxInFlight: maxHistoryReads, maxWaiting: HISTORY_WAIT_FACTOR * maxHistoryReads });
    const recovery = new Recovery({ reads: this.reads, maxQueueBytes: opts.maxQueueBytes, metrics, logger, conflate: opts.conflate ?? (() => false), now });
    this.channelHost = {
      recovery,
      metrics,
      logger,
      maxQueueBytes: opts.maxQueueBytes,
      now,
      distributeLater: (ch) => {
        this.dirtyChannels.push(ch);
        if (!this.flushScheduled) this.scheduleFlush();
      },
      release: (ch) => this.release(ch),
    };
    this.connectionHost = {
      recovery,
      metrics,
      logger,
      maxQueueBytes: opts.maxQueueBytes,
      maxSubscriptions: opts.maxSubscriptionsPerConnection,
      maxHistoryReads: maxHistoryReadsPerConnection,
      open: (name) => this.acquire(name),
      flushLater: (conn) => {
        this.dirtyConns.push(conn);
        if (!this.flushScheduled) this.scheduleFlush();
      },
      lagging: (conn, on) => {
        if (on) this.laggingConns.add(conn);
        else this.laggingConns.delete(conn);
      },
      gone: (conn) => {
        this.connections.delete(conn);
      },
    };
    this.bus.setHandler({
      publication: (pub) => this.onPublication(pub),
      resubscribed: (channels) => this.onResubscribed(channels),
    });
    this.lagTimer = setInterval(() => this.checkLagging(), LAG_CHECK_MS);
    this.lagTimer.unref();
  }

  /** A connection writing to `sink`, framed by `sink.framing`. */
  connect(sink: Sink): HubConnection {
    const conn = new Connection(this.nextId++, sink, this.connectionHost);
    if (this.closed) conn.close();
    else this.connections.add(conn);
    return conn;
  }

  stats(): HubStats {
    let queuedBytes = 0;
    for (const c of this.connections) queuedBytes += c.queuedBytes();
    let pendingMessages = 0;
    let subscriptions = 0;
    for (const ch of this.channels.values()) {
      pendingMessages += ch.heldCount;
      subscriptions += ch.subs.length;
    }
    return {
      connections: this.connections.size,
      channels: this.channels.size,
      subscriptions,
      queuedBytes,
      pendingMessages,
      laggingConnections: this.laggingConns.size,
      ...prefixed(this.reads.stats()),
    };
  }

  /** Each connection's hub-pending + transport-buffered bytes (for a histogram sampled at scrape). */
  *queuedBytesPerConnection(): IterableIterator<number> {
    for (const c of this.connections) yield c.queuedBytes();
  }

  /** Channels with subscribers on this node and how many each has (presence reports). */
  *channelSubscribers(): IterableIterator<[string, number]> {
    for (const [name, ch] of this.channels) if (ch.subs.length > 0) yield [name, ch.subs.length];
  }

  /** One channel's subscribers on this node. */
  subscribersOf(channel: string): number {
    return this.channels.get(channel)?.subs.length ?? 0;
  }

  /** Releases every connection's subscriptions and the bus subscriptions; sinks are left open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.lagTimer);
    for (const c of [...this.connections]) c.close();
    await Promise.allSettled([...this.busOps.values()]);
  }

  private acquire(name: string): Channel {
    let ch = this.channels.get(name);
    if (ch !== undefined) return ch;
    const created = new Channel(name, this.channelHost);
    this.channels.set(name, created);
    created.ready = this.busOp(name, () => this.bus.subscribe(name));
    created.ready.catch(() => {
      if (this.channels.get(name) === created) {
        this.channels.delete(name);
        created.dispose();
      }
    });
    ch = created;
    return ch;
  }

  private release(ch: Channel): void {
    if (this.channels.get(ch.name) === ch) this.channels.delete(ch.name);
    ch.dispose();
    this.busOp(ch.name, () => this.bus.unsubscribe(ch.name)).catch((err: unknown) => {
      this.logger?.warn({ err, channel: ch.name }, 'bus unsubscribe failed');
    });
  }

  /** Runs bus calls for one channel in order, so subscribe/unsubscribe/subscribe cannot overtake. */
  private busOp(name: string, op: () => Promise<void>): Promise<void> {
    const prev = this.busOps.get(name);
    const next = prev === undefined ? op() : prev.catch(() => {}).then(op);
    this.busOps.set(name, next);
    const cleanup = (): void => {
      if (this.busOps.get(name) === next) this.busOps.delete(name);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  private onPublication(pub: Publication): void {
    const ch = this.channels.get(pub.channel);
    if (ch === undefined) return;
    this.metrics.publicationReceived(ch.namespace);
    ch.onPublication(pub);
  }

  private onResubscribed(channels: readonly string[]): void {
    for (const name of channels) this.channels.get(name)?.verify();
  }

  private checkLagging(): void {
    for (const c of this.laggingConns) c.drained();
  }

  private scheduleFlush(): void {
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  /** Once per turn: distribute every channel's batch, then one write per connection. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const chans = this.dirtyChannels;
    if (chans.length > 0) {
      this.dirtyChannels = this.spareChannels;
      for (let i = 0; i < chans.length; i++) {
        const ch = chans[i]!;
        ch.dirty = false;
        ch.distribute();
      }
      chans.length = 0;
      this.spareChannels = chans;
    }
    const conns = this.dirtyConns;
    if (conns.length === 0) return;
    this.dirtyConns = this.spareConns;
    let frames = 0;
    let bytes = 0;
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i]!;
      const n = conn.flush();
      if (n > 0) {
        frames++;
        bytes += n;
        // Written while over its cap: if the transport takes it all at once, no 'drain' event
        // will come, so look again next turn rather than wait for the periodic check.
        if (conn.lagging) this.recheck.push(conn);
      }
    }
    conns.length = 0;
    this.spareConns = conns;
    if (frames > 0) this.metrics.written(frames, bytes);
    if (this.recheck.length > 0 && !this.recheckScheduled) {
      this.recheckScheduled = true;
      setImmediate(this.recheckLagging);
    }
  };

  private recheck: Connection[] = [];
  private recheckScheduled = false;
  private readonly recheckLagging = (): void => {
    this.recheckScheduled = false;
    const conns = this.recheck;
    this.recheck = [];
    for (const c of conns) c.drained();
  };
}
