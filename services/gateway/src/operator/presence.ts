import type { Bus } from '@megaphone/bus';
import type { Logger } from '@megaphone/runtime';
import { encodeControl, type ControlMessage } from './control.js';
import { topN } from './top-n.js';

type PresenceReport = Extract<ControlMessage, { t: 'presence' }>;

export interface PresenceMetrics {
  /** One report went out on the control channel. */
  reportSent(): void;
  /** A peer's report was missing (sequence gap) or unknown: a full report was asked for. */
  resync(): void;
}

export interface PresenceOptions {
  bus: Bus;
  node: string;
  /** This process (a restarted gateway with the same name starts a new sequence). */
  boot: string;
  intervalMs: number;
  /** This node's channels with subscribers and their counts (read once per interval). */
  local: () => Iterable<[string, number]>;
  /** One channel's subscribers on this node (read live, per request). */
  localOf: (channel: string) => number;
  logger: Logger;
  metrics?: PresenceMetrics;
  now?: () => number;
}

export interface ChannelPresence {
  channel: string;
  subscribers: number;
  nodes: Record<string, number>;
}

interface Peer {
  boot: string;
  seq: number;
  counts: Map<string, number>;
  lastSeen: number;
  /** Sender's clock at its last report (presence reporting lag). */
  reportedAt: number;
  /** Holds the peer's whole state (saw its reset and no gap since). */
  synced: boolean;
  lastSyncAsk: number;
}

/** A report is split so each control message stays well under the bus's size limit. */
const REPORT_BYTES = 48 * 1024;
/** More gateways than this reporting at once is not a cluster we planned for: ignore the rest. */
const MAX_PEERS = 1000;
/** A peer silent for this many intervals has gone (crashed, partitioned): its counts drop out. */
export const PRESENCE_TTL_INTERVALS = 3;

/**
 * Cluster-wide subscriber counts (SPEC §11). Every interval this node sends, through the bus's
 * control channel, the counts that changed since its last report (a report with no changes is a
 * heartbeat); it keeps every other gateway's counts from their reports and drops a gateway that
 * has been silent for `PRESENCE_TTL_INTERVALS` intervals. A lost report (at-most-once bus, a
 * reconnect) shows as a sequence gap and is repaired by asking that gateway for a full report.
 *
 * Memory: per peer, one entry per channel that has subscribers on that peer. Cost on the bus:
 * docs/architecture.md. Nothing here runs per publication or per subscribe.
 */
export class ClusterPresence {
  private readonly peers = new Map<string, Peer>();
  private reported = new Map<string, number>();
  private seq = 0;
  private sendFull = true;
  private ticking = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(private readonly opts: PresenceOptions) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.intervalMs * PRESENCE_TTL_INTERVALS;
  }

  /** Sends the first (full) report, asks every gateway for theirs, then reports every interval. */
  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
    void this.tick();
    this.ask('*');
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One control message addressed to presence (the gateway's control router calls this). */
  receive(msg: ControlMessage): void {
    if (msg.t === 'presence-sync') {
      if (msg.node === this.opts.node || msg.node === '*') this.sendFull = true;
      return;
    }
    if (msg.t === 'presence') this.apply(msg);
  }

  /** Sends what changed since the last report (or everything, when asked). */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      this.expire();
      const current = new Map(this.opts.local());
      const full = this.sendFull;
      this.sendFull = false;
      const changes: Array<[string, number]> = [];
      if (full) for (const e of current) changes.push(e);
      else {
        for (const [ch, n] of current) if (this.reported.get(ch) !== n) changes.push([ch, n]);
        for (const ch of this.reported.keys()) if (!current.has(ch)) changes.push([ch, 0]);
      }
      try {
        await this.send(changes, full);
        this.reported = current;
      } catch (err) {
        // Not sent, or sent in part: peers see a sequence gap or nothing; a full report repairs both.
        this.sendFull = true;
        this.opts.logger.debug({ err: (err as Error).message }, 'presence report not sent; will send a full one');
      }
    } finally {
      this.ticking = false;
    }
  }

  private async send(changes: Array<[string, number]>, full: boolean): Promise<void> {
    let counts: Record<string, number> = {};
    let bytes = 0;
    let first = true;
    const flush = async (): Promise<void> => {
      const msg: PresenceReport = { t: 'presence', node: this.opts.node, boot: this.opts.boot, seq: ++this.seq, ts: this.now(), ...(full && first ? { reset: true as const } : {}), counts };
      first = false;
      counts = {};
      bytes = 0;
      await this.opts.bus.publishControl(encodeControl(msg));
      this.opts.metrics?.reportSent();
    };
    for (const [ch, n] of changes) {
      counts[ch] = n;
      bytes += ch.length + 24;
      if (bytes >= REPORT_BYTES) await flush();
    }
    if (bytes > 0 || first) await flush();
  }

  private apply(msg: PresenceReport): void {
    if (msg.node === this.opts.node) return;
    const now = this.now();
    let peer = this.peers.get(msg.node);
    if (peer === undefined || peer.boot !== msg.boot) {
      if (peer === undefined && this.peers.size >= MAX_PEERS) return;
      peer = { boot: msg.boot, seq: msg.seq - 1, counts: new Map(), lastSeen: now, reportedAt: msg.ts, synced: false, lastSyncAsk: -Infinity };
      this.peers.set(msg.node, peer);
    }
    if (msg.reset === true) {
      peer.counts.clear();
      peer.synced = true;
    } else if (!peer.synced || msg.seq !== peer.seq + 1) {
      peer.synced = false;
      if (now - peer.lastSyncAsk >= this.opts.intervalMs) {
        peer.lastSyncAsk = now;
        this.opts.metrics?.resync();
        this.ask(msg.node);
      }
    }
    peer.seq = msg.seq;
    peer.lastSeen = now;
    peer.reportedAt = msg.ts;
    for (const ch in msg.counts) {
      const n = msg.counts[ch]!;
      if (n === 0) peer.counts.delete(ch);
      else peer.counts.set(ch, n);
    }
  }

  private ask(node: string): void {
    this.opts.bus.publishControl(encodeControl({ t: 'presence-sync', node })).catch((err: unknown) => {
      this.opts.logger.debug({ err: (err as Error).message, node }, 'presence sync request not sent');
    });
  }

  private expire(): void {
    const oldest = this.now() - this.ttlMs;
    for (const [node, peer] of this.peers) if (peer.lastSeen < oldest) this.peers.delete(node);
  }

  /** Cluster-wide subscribers of one channel: this node's live count plus every peer's last report. */
  subscribers(channel: string): number {
    this.expire();
    let n = this.opts.localOf(channel);
    for (const peer of this.peers.values()) n += peer.counts.get(channel) ?? 0;
    return n;
  }

  channel(channel: string): ChannelPresence {
    this.expire();
    const nodes: Record<string, number> = {};
    let subscribers = 0;
    const local = this.opts.localOf(channel);
    if (local > 0) nodes[this.opts.node] = local;
    subscribers += local;
    for (const [node, peer] of this.peers) {
      const n = peer.counts.get(channel);
      if (n === undefined) continue;
      nodes[node] = n;
      subscribers += n;
    }
    return { channel, subscribers, nodes: sortedKeys(nodes) };
  }

  /** Channels with subscribers anywhere, busiest first (top-N, not a full sort). */
  channels(prefix: string, limit: number): ChannelPresence[] {
    this.expire();
    const totals = new Map<string, number>();
    const add = (counts: Iterable<[string, number]>): void => {
      for (const [ch, n] of counts) if (ch.startsWith(prefix)) totals.set(ch, (totals.get(ch) ?? 0) + n);
    };
    add(this.opts.local());
    for (const peer of this.peers.values()) add(peer.counts);
    return topN(totals, limit, ([, n]) => n).map(([ch]) => this.channel(ch));
  }

  /** Gateways whose reports this node holds (itself not included). */
  peerCount(): number {
    this.expire();
    return this.peers.size;
  }

  /** Seconds since the least recent peer report was sent (0 with no peers): presence reporting lag. */
  reportAgeSeconds(): number {
    this.expire();
    const now = this.now();
    let max = 0;
    for (const peer of this.peers.values()) max = Math.max(max, now - peer.reportedAt);
    return max / 1000;
  }
}

/** The same record with its keys in order, so that every gateway answers alike. */
function sortedKeys(r: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k]!;
  return out;
}
