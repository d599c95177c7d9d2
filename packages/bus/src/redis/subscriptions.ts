import type { Cluster, RedisOptions } from 'ioredis';
import type { Logger } from '@megaphone/runtime';
import { BusUnavailableError, type Publication } from '../bus.js';
import type { BusMetrics } from '../bus-metrics.js';
import { channelKeys, channelOfPubsub, controlPubsub, keySlot } from './keys.js';
import { decodePayload } from './payload.js';
import { SubscriberConnection, type SubscriberEvents } from './subscriber.js';

export interface SubscriptionsOptions {
  keyPrefix: string;
  /** Cluster: one subscriber per master (SSUBSCRIBE), placed by the cluster client's slot map. */
  cluster: Cluster | undefined;
  /** ioredis options of a subscriber connection (host/port are set per shard on Cluster). */
  connection: () => RedisOptions;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  logger: Logger;
  metrics: BusMetrics | undefined;
  publication(pub: Publication): void;
  /** A message on the control channel (text). */
  control(message: string): void;
  resubscribed(channels: string[]): void;
  /** A subscriber's readiness changed. */
  changed(): void;
}

/**
 * The node's Redis subscriptions: one per channel, on one subscriber connection (standalone,
 * Sentinel) or on the connection to the master that owns the channel's slot (Cluster, sharded
 * pub/sub). Decodes live messages into Publications without copying their frames.
 */
export class Subscriptions {
  /** Megaphone channel → its pub/sub name. */
  private readonly channels = new Map<string, string>();
  /** Subscriber connections: `main`, or one per master by node key (`host:port`). */
  private readonly subscribers = new Map<string, SubscriberConnection>();
  /** The control channel's pub/sub name once `subscribeControl` ran. */
  private control: string | undefined;
  private rebalancing = false;
  private closed = false;

  constructor(private readonly opts: SubscriptionsOptions) {}

  /** Standalone/Sentinel: connect the one subscriber now, so readiness covers it from the start. */
  start(): void {
    if (this.opts.cluster === undefined) this.subscriberFor('main').connect().catch(() => undefined);
  }

  /** Every subscriber that matters is connected and holds its channels. */
  ready(): boolean {
    // On Cluster a shard subscriber without channels does not matter (and one being created for a
    // first subscribe must not flap readiness); standalone/Sentinel need their one subscriber.
    // Nor does the control channel's shard: operator messages and presence tolerate loss, and a
    // gateway whose clients' channels are all reachable should keep serving them.
    for (const sub of this.subscribers.values()) {
      const channels = sub.size - (this.control !== undefined && sub.has(this.control) ? 1 : 0);
      if (!sub.isReady() && (this.opts.cluster === undefined || channels > 0)) return false;
    }
    return true;
  }

  async subscribe(channel: string): Promise<void> {
    if (this.channels.has(channel)) return;
    const { pubsub } = channelKeys(this.opts.keyPrefix, channel);
    this.channels.set(channel, pubsub);
    try {
      const sub = this.opts.cluster !== undefined ? await this.shardSubscriber(pubsub) : this.subscriberFor('main');
      await sub.subscribe(pubsub);
    } catch (err) {
      this.channels.delete(channel);
      throw err;
    }
  }

  /** Takes the control channel's subscription (once; later calls resolve at once). */
  async subscribeControl(): Promise<void> {
    if (this.control !== undefined) return;
    const pubsub = controlPubsub(this.opts.keyPrefix);
    this.control = pubsub;
    try {
      const sub = this.opts.cluster !== undefined ? await this.shardSubscriber(pubsub) : this.subscriberFor('main');
      await sub.subscribe(pubsub);
    } catch (err) {
      this.control = undefined;
      throw err;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const pubsub = this.channels.get(channel);
    if (pubsub === undefined) return;
    this.channels.delete(channel);
    for (const sub of this.subscribers.values()) {
      if (sub.has(pubsub)) await sub.unsubscribe(pubsub).catch(() => undefined);
    }
  }

  private events(key: string): SubscriberEvents {
    const { logger, metrics } = this.opts;
    return {
      message: (pubsub, payload) => this.onMessage(pubsub, payload),
      resubscribed: (pubsubs, seconds) => {
        const channels = pubsubs.map((p) => channelOfPubsub(this.opts.keyPrefix, p)).filter((c): c is string => c !== undefined);
        metrics?.resubscribed?.(seconds, channels.length);
        logger.info({ channels: channels.length, seconds, shard: key }, 'redis subscriptions restored');
        if (channels.length > 0) this.opts.resubscribed(channels);
      },
      state: (_ready, reconnect) => {
        if (reconnect) metrics?.reconnected?.();
        this.opts.changed();
      },
      revived: () => logger.warn({ shard: key }, 'redis subscriber connection had ended; connecting again'),
      hung: () => logger.warn({ shard: key, timeoutMs: this.opts.pingTimeoutMs }, 'redis subscriber connection hung (no PING reply); reconnecting'),
      error: (err) => logger.debug({ err: err.message, shard: key }, 'redis subscriber connection error'),
    };
  }

  private subscriberFor(key: string, target?: { host: string; port: number }): SubscriberConnection {
    // A closed bus opens nothing: a subscribe or a rebalance still running when close() came would
    // otherwise leave a connection that reconnects forever and keeps the process alive.
    if (this.closed) throw new BusUnavailableError('bus is closed');
    let sub = this.subscribers.get(key);
    if (sub === undefined) {
      const redis = { ...this.opts.connection(), ...(target !== undefined ? { host: target.host, port: target.port } : {}) };
      sub = new SubscriberConnection(
        { redis, sharded: this.opts.cluster !== undefined, pingIntervalMs: this.opts.pingIntervalMs, pingTimeoutMs: this.opts.pingTimeoutMs },
        this.events(key),
      );
      this.subscribers.set(key, sub);
    }
    return sub;
  }

  /** Cluster: the connected subscriber of the master that owns a pub/sub channel's slot. */
  private async shardSubscriber(pubsub: string): Promise<SubscriberConnection> {
    const owner = this.opts.cluster!.slots[keySlot(pubsub)]?.[0];
    if (owner === undefined) throw new BusUnavailableError('the Redis Cluster slot map is not known yet');
    const i = owner.lastIndexOf(':');
    const sub = this.subscriberFor(owner, { host: owner.slice(0, i), port: Number(owner.slice(i + 1)) });
    if (sub.conn.status === 'wait') {
      await sub.connect();
      if (this.closed) throw new BusUnavailableError('bus is closed');
      this.opts.changed();
    }
    return sub;
  }

  /**
   * Cluster: after a slot-map refresh, move channels whose slot now lives on another master, and
   * report them as resubscribed (publications may have been lost during the move).
   */
  async rebalance(): Promise<void> {
    const cluster = this.opts.cluster;
    if (cluster === undefined || this.closed || this.rebalancing) return;
    this.rebalancing = true;
    const moved: string[] = [];
    try {
      const all: Array<[string | undefined, string]> = [...this.channels];
      if (this.control !== undefined) all.push([undefined, this.control]);
      for (const [channel, pubsub] of all) {
        if (this.closed) return;
        const owner = cluster.slots[keySlot(pubsub)]?.[0];
        if (owner === undefined) continue;
        const current = [...this.subscribers.entries()].find(([, s]) => s.has(pubsub))?.[0];
        if (current === owner) continue;
        if (current !== undefined) {
          const old = this.subscribers.get(current)!;
          old.drop(pubsub);
          if (old.size === 0) {
            this.subscribers.delete(current);
            void old.close();
          }
        }
        try {
          await (await this.shardSubscriber(pubsub)).subscribe(pubsub);
          if (channel !== undefined) moved.push(channel);
        } catch (err) {
          this.opts.logger.warn({ err: (err as Error).message, channel }, 'could not move a subscription to its new shard');
        }
      }
    } finally {
      this.rebalancing = false;
    }
    this.opts.changed();
    if (moved.length > 0) this.opts.resubscribed(moved);
  }

  private onMessage(pubsub: string, payload: Buffer): void {
    if (pubsub === this.control) {
      this.opts.control(payload.toString('utf8'));
      return;
    }
    const channel = channelOfPubsub(this.opts.keyPrefix, pubsub);
    if (channel === undefined || !this.channels.has(channel)) return;
    const decoded = decodePayload(payload);
    if (decoded === undefined) {
      this.opts.logger.warn({ channel }, 'ignoring a malformed bus message');
      return;
    }
    this.opts.publication({ channel, epoch: decoded.epoch, offset: decoded.offset, time: decoded.time, frame: decoded.frame });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscribers.values()].map((s) => s.close()));
    this.subscribers.clear();
    this.channels.clear();
  }
}
