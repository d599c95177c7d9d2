import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import type { StreamPosition } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import type { BusConfig, RedisBusConfig } from './config.js';
import { BusUnavailableError, checkControlMessage, FencedError, type Bus, type BusHandler, type ControlListener, type HistoryPolicyResolver, type HistoryQuery, type HistoryResult, type Publication, type PublishOptions } from './bus.js';
import type { BusMetrics } from './bus-metrics.js';
import { newEpoch } from './epoch.js';
import type { Lease, LeaseHolder } from './lease.js';
import { channelKeys, controlPubsub } from './redis/keys.js';
import { FailoverGuard } from './redis/failover-guard.js';
import { clusterOptions, connectionOptions, DEFAULT_TIMEOUTS, retryDelay, type RedisTimeouts } from './redis/options.js';
import { RedisLeases } from './redis/lease.js';
import { HISTORY_SCRIPT, PUBLISH_SCRIPT } from './redis/scripts.js';
import { Subscriptions } from './redis/subscriptions.js';
import { PingWatchdog, absorbLateSocketErrors, dropSocket, reviveOnEnd } from './redis/watchdog.js';

export interface RedisBusOptions {
  history: HistoryPolicyResolver;
  logger: Logger;
  /** Names this node's connections in `CLIENT LIST` (`<name>:cmd`, `<name>:sub`). */
  clientName?: string;
  metrics?: BusMetrics;
  timeouts?: Partial<RedisTimeouts>;
  /** How long `create` waits for the first connection before returning a not-yet-ready bus. */
  startTimeoutMs?: number;
}

/** Default lifetime of an idle channel's epoch and offset (refreshed by every publish and history read). */
export const DEFAULT_META_TTL_MS = 7 * 86_400_000;

type HistoryReply = [Buffer, number, number, Array<[Buffer, Buffer[]]>?];
interface ScriptCommands {
  mpPublish(meta: string, stream: string, pubsub: string, ...args: (string | number)[]): Promise<[string, number, number]>;
  mpHistoryBuffer(meta: string, stream: string, ...args: (string | number)[]): Promise<HistoryReply>;
}

/** Errors from Redis that mean "not now" rather than "wrong". */
const TRANSIENT_REPLY = /^(CLUSTERDOWN|LOADING|READONLY|MASTERDOWN|TRYAGAIN|BUSY|NOREPLICAS)/;

/**
 * The Bus over Redis: standalone, Sentinel or Cluster (sharded pub/sub).
 *
 * - publish: one Lua script (scripts.ts) assigns the offset, keeps the epoch, appends to the
 *   channel's stream (trimmed by count and age) and PUBLISHes/SPUBLISHes the finished frame.
 * - live delivery: Redis pub/sub, at most once; after any reconnect the subscriber resubscribes and
 *   calls `handler.resubscribed` so the node fills holes from history (the source of truth).
 * - hung connections are replaced within `pingIntervalMs + pingTimeoutMs` (default 2.5 s).
 * - leases (lease.ts, redis/lease.ts) on the command connection; fenced publishes (scripts.ts).
 * - every script carries the master's replication id (redis/failover-guard.ts), so a channel
 *   written before a failover or a restart from an older snapshot starts a new epoch.
 * See docs/architecture.md.
 */
export class RedisBus implements Bus, Lease {
  readonly kind = 'redis' as const;
  private handler: BusHandler | undefined;
  private readonly cmd: Redis | Cluster;
  private readonly scripts: ScriptCommands;
  private readonly timeouts: RedisTimeouts;
  private readonly publishCommand: 'publish' | 'spublish';
  private readonly subscriptions: Subscriptions;
  private readonly watchdog: PingWatchdog;
  private readonly controlListeners = new Set<ControlListener>();
  private lastReady = false;
  private cmdEverReady = false;
  private closed = false;
  private readonly metaTtlMs: number;
  /** REDIS_TLS_CA_FILE contents: trusted for `rediss://` connections. */
  private readonly tlsCa: Buffer | undefined;
  /** The master's replication id every script carries (redis/failover-guard.ts). */
  private readonly guard: FailoverGuard;
  private readonly leases: RedisLeases;

  private constructor(
    private readonly config: RedisBusConfig,
    private readonly opts: RedisBusOptions,
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.publishCommand = config.mode === 'cluster' ? 'spublish' : 'publish';
    this.metaTtlMs = config.metaTtlMs ?? DEFAULT_META_TTL_MS;
    this.tlsCa = config.tlsCaFile !== undefined ? readFileSync(config.tlsCaFile) : undefined;
    if (config.mode === 'cluster') {
      this.cmd = new Cluster(
        config.nodes.map((n) => ({ host: n.host, port: n.port })),
        clusterOptions(config, this.timeouts, opts.clientName, this.tlsCa),
      );
      this.cmd.on('refresh', () => void this.subscriptions.rebalance());
    } else {
      this.cmd = new Redis(connectionOptions(config, 'command', this.timeouts, opts.clientName, this.tlsCa));
    }
    this.guard = new FailoverGuard(this.cmd, { logger: opts.logger, known: () => this.updateReadiness() });
    this.subscriptions = new Subscriptions({
      keyPrefix: config.keyPrefix,
      cluster: this.cmd instanceof Cluster ? this.cmd : undefined,
      connection: () => connectionOptions(config, 'subscriber', this.timeouts, opts.clientName, this.tlsCa),
      pingIntervalMs: this.timeouts.pingIntervalMs,
      pingTimeoutMs: this.timeouts.pingTimeoutMs,
      logger: opts.logger,
      metrics: opts.metrics,
      publication: (pub) => this.handler?.publication(pub),
      control: (message) => {
        for (const l of this.controlListeners) l(message);
      },
      resubscribed: (channels) => this.handler?.resubscribed?.(channels),
      changed: () => this.updateReadiness(),
    });
    this.cmd.defineCommand('mpPublish', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
    this.cmd.defineCommand('mpHistory', { numberOfKeys: 2, lua: HISTORY_SCRIPT });
    this.scripts = this.cmd as unknown as ScriptCommands;
    this.leases = new RedisLeases(this.cmd, config.keyPrefix, () => this.ensureCommandsReady(), asBusError);
    this.cmd.on('ready', () => {
      if (this.cmdEverReady) this.opts.metrics?.reconnected?.();
      this.cmdEverReady = true;
      this.guard.connected();
      this.updateReadiness();
    });
    this.cmd.on('close', () => {
      this.guard.disconnected();
      this.updateReadiness();
    });
    this.cmd.on('end', () => this.updateReadiness());
    reviveOnEnd(this.cmd, () => this.closed, () => retryDelay(3), () => this.opts.logger.warn('redis command connection had ended; connecting again'));
    this.cmd.on('error', (err: Error) => this.opts.logger.debug({ err: err.message }, 'redis command connection error'));
    absorbLateSocketErrors(this.cmd);
    this.watchdog = new PingWatchdog(
      () => (this.cmd instanceof Cluster ? this.cmd.nodes('master') : [this.cmd]),
      this.timeouts.pingIntervalMs,
      this.timeouts.pingTimeoutMs,
      (conn) => {
        this.opts.logger.warn({ timeoutMs: this.timeouts.pingTimeoutMs }, 'redis command connection hung (no PING reply); reconnecting');
        dropSocket(conn);
        this.updateReadiness();
      },
    );
  }

  /** Connects (waiting up to `startTimeoutMs` for readiness; a bus that is not ready yet keeps trying). */
  static async create(config: BusConfig, opts: RedisBusOptions): Promise<RedisBus> {
    if (config.kind !== 'redis') throw new Error('RedisBus needs a redis bus configuration');
    const bus = new RedisBus(config, opts);
    await bus.start(opts.startTimeoutMs ?? 5000);
    return bus;
  }

  private async start(timeoutMs: number): Promise<void> {
    this.watchdog.start();
    this.cmd.connect().catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'redis not reachable yet; retrying'));
    this.subscriptions.start();
    const deadline = Date.now() + timeoutMs;
    while (!this.isReady() && Date.now() < deadline && !this.closed) await new Promise((r) => setTimeout(r, 20));
    if (!this.isReady()) this.opts.logger.warn({ mode: this.config.mode }, 'redis bus not ready yet; continuing to connect');
  }

  setHandler(handler: BusHandler): void {
    this.handler = handler;
  }

  // ---- readiness -------------------------------------------------------------------------------

  private cmdReady(): boolean {
    return this.cmd.status === 'ready' && this.guard.isKnown();
  }

  isReady(): boolean {
    return !this.closed && this.cmdReady() && this.subscriptions.ready();
  }

  private updateReadiness(): void {
    const ready = this.isReady();
    if (ready === this.lastReady) return;
    this.lastReady = ready;
    this.opts.logger.info({ ready, mode: this.config.mode }, ready ? 'redis bus ready' : 'redis bus not ready');
    this.opts.metrics?.connected?.(ready);
    this.handler?.readiness?.(ready);
  }

  // ---- subscriptions (redis/subscriptions.ts) ---------------------------------------------------

  async subscribe(channel: string): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    try {
      await this.subscriptions.subscribe(channel);
    } catch (err) {
      throw asBusError(err);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.subscriptions.unsubscribe(channel);
  }

  // ---- control channel ------------------------------------------------------------------------

  async publishControl(message: string): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    checkControlMessage(message);
    if (this.cmd.status !== 'ready') throw new BusUnavailableError(`redis is not connected (${this.cmd.status})`);
    const channel = controlPubsub(this.config.keyPrefix);
    try {
      // ioredis routes SPUBLISH on a Cluster by the channel's slot, like a key.
      await (this.publishCommand === 'spublish' ? this.cmd.spublish(channel, message) : this.cmd.publish(channel, message));
    } catch (err) {
      throw asBusError(err);
    }
  }

  async listenControl(listener: ControlListener): Promise<() => void> {
    if (this.closed) throw new Error('bus is closed');
    this.controlListeners.add(listener);
    try {
      await this.subscriptions.subscribeControl();
    } catch (err) {
      this.controlListeners.delete(listener);
      throw asBusError(err);
    }
    return () => void this.controlListeners.delete(listener);
  }

  // ---- publish and history ---------------------------------------------------------------------

  private ensureCommandsReady(): void {
    if (this.closed) throw new Error('bus is closed');
    if (!this.cmdReady()) throw new BusUnavailableError(`redis is not connected (${this.cmd.status === 'ready' ? 'checking the master' : this.cmd.status})`);
  }

  async publish(channel: string, dataJson: string, opts: PublishOptions = {}): Promise<StreamPosition> {
    this.ensureCommandsReady();
    const keys = channelKeys(this.config.keyPrefix, channel);
    const policy = this.opts.history(channel);
    try {
      const guard = await this.guard.forKey(keys.meta);
      const [epoch, offset] = await this.scripts.mpPublish(
        keys.meta,
        keys.stream,
        keys.pubsub,
        newEpoch(),
        channel,
        dataJson,
        policy.size,
        policy.ttlMs,
        this.publishCommand,
        Math.max(this.metaTtlMs, policy.ttlMs),
        guard,
        opts.fence ?? '',
      );
      return { epoch, offset: Number(offset) };
    } catch (err) {
      const newer = /^FENCED (\d+)/.exec((err as Error).message ?? '')?.[1];
      if (newer !== undefined && opts.fence !== undefined) throw new FencedError(channel, opts.fence, Number(newer));
      throw asBusError(err);
    }
  }

  async history(channel: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    this.ensureCommandsReady();
    const keys = channelKeys(this.config.keyPrefix, channel);
    const policy = this.opts.history(channel);
    const { since, limit, maxBytes } = query;
    let reply: HistoryReply;
    try {
      const guard = await this.guard.forKey(keys.meta);
      reply = await this.scripts.mpHistoryBuffer(
        keys.meta,
        keys.stream,
        newEpoch(),
        Math.max(this.metaTtlMs, policy.ttlMs),
        policy.ttlMs,
        since?.epoch ?? '',
        since?.offset ?? 0,
        limit ?? policy.size,
        policy.size,
        guard,
        maxBytes ?? Number.MAX_SAFE_INTEGER,
      );
    } catch (err) {
      throw asBusError(err);
    }
    const epoch = reply[0].toString();
    const offset = Number(reply[1]);
    const status = Number(reply[2]);
    const notRecovered: HistoryResult = { epoch, offset, publications: [], recovered: false };
    if (status === 0) return notRecovered;
    if (status === 1) return { epoch, offset, publications: [], recovered: true };
    const pubs: Publication[] = [];
    for (const entry of reply[3] ?? []) {
      const pub = toPublication(channel, epoch, entry);
      if (pub === undefined || (pubs.length > 0 && pub.offset !== pubs[pubs.length - 1]!.offset + 1)) break;
      pubs.push(pub);
    }
    // The script found since + 1 where it looked; the list must still start there.
    if (since !== undefined && pubs.length > 0 && pubs[0]!.offset !== since.offset + 1) return notRecovered;
    return { epoch, offset, publications: pubs, recovered: true };
  }

  // ---- leases (redis/lease.ts) --------------------------------------------------------------------

  acquireLease(name: string, owner: string, ttlMs: number, recordsTtlMs: number, opts?: { ifKnown?: boolean }): Promise<number | undefined> {
    return this.leases.acquireLease(name, owner, ttlMs, recordsTtlMs, opts);
  }

  renewLease(name: string, owner: string, fence: number, ttlMs: number, recordsTtlMs: number): Promise<boolean> {
    return this.leases.renewLease(name, owner, fence, ttlMs, recordsTtlMs);
  }

  releaseLease(name: string, owner: string, fence: number): Promise<boolean> {
    return this.leases.releaseLease(name, owner, fence);
  }

  leaseHolder(name: string): Promise<LeaseHolder | undefined> {
    return this.leases.leaseHolder(name);
  }

  writeLeaseRecord(name: string, owner: string, fence: number, field: string, value: string | null): Promise<boolean> {
    return this.leases.writeLeaseRecord(name, owner, fence, field, value);
  }

  leaseRecords(name: string): Promise<Record<string, string>> {
    return this.leases.leaseRecords(name);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchdog.stop();
    this.controlListeners.clear();
    await this.subscriptions.close();
    this.cmd.disconnect();
    this.updateReadiness();
  }
}

function toPublication(channel: string, epoch: string, entry: [Buffer, Buffer[]]): Publication | undefined {
  const fields = entry[1];
  let offset = 0;
  let time = 0;
  let frame: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i]!.toString('latin1');
    if (k === 'o') offset = Number(fields[i + 1]!.toString('latin1'));
    else if (k === 't') time = Number(fields[i + 1]!.toString('latin1'));
    else if (k === 'f') frame = fields[i + 1]!;
  }
  if (frame === undefined || offset < 1) return undefined;
  return { channel, epoch, offset, time, frame };
}

function asBusError(err: unknown): Error {
  if (err instanceof BusUnavailableError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const isReply = e.name === 'ReplyError';
  if (isReply && !TRANSIENT_REPLY.test(e.message)) return e;
  const out = new BusUnavailableError(`redis unavailable: ${e.message}`);
  (out as Error & { cause?: unknown }).cause = e;
  return out;
}
