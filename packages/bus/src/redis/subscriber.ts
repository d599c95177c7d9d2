import { Redis, type RedisOptions } from 'ioredis';
import { retryDelay } from './options.js';
import { PingWatchdog, absorbLateSocketErrors, dropSocket, reviveOnEnd } from './watchdog.js';

export interface SubscriberEvents {
  /** A message on one of our pub/sub channels (payload as received: a Buffer, never re-encoded). */
  message(pubsub: string, payload: Buffer): void;
  /** The connection came back and holds `channels` again; publications in between may be lost. */
  resubscribed(channels: string[], seconds: number): void;
  /** `ready` (connected and subscribed to every channel) changed. */
  state(ready: boolean, reconnect: boolean): void;
  /** The watchdog replaced a hung connection. */
  hung(): void;
  /** ioredis had ended the connection for good; the subscriber connects it again. */
  revived(): void;
  error(err: Error): void;
}

export interface SubscriberOptions {
  redis: RedisOptions;
  /** SSUBSCRIBE/smessage (Cluster shard) or SUBSCRIBE/message. */
  sharded: boolean;
  pingIntervalMs: number;
  pingTimeoutMs: number;
}

/**
 * One subscriber connection (standalone/Sentinel: the node's only one; Cluster: one per shard).
 * It resubscribes itself after every reconnect (ioredis' autoResubscribe is off), so it knows when
 * the subscriptions are back and can tell the node to check its channels against history.
 */
export class SubscriberConnection {
  readonly conn: Redis;
  private readonly channels = new Set<string>();
  private ready = false;
  private everReady = false;
  private closed = false;
  private readonly watchdog: PingWatchdog;

  constructor(
    private readonly opts: SubscriberOptions,
    private readonly events: SubscriberEvents,
  ) {
    this.conn = new Redis(opts.redis);
    this.watchdog = new PingWatchdog(() => [this.conn], opts.pingIntervalMs, opts.pingTimeoutMs, (c) => {
      this.events.hung();
      this.setReady(false);
      dropSocket(c);
    });
    this.conn.on(opts.sharded ? 'smessageBuffer' : 'messageBuffer', (channel: Buffer, payload: Buffer) => {
      this.events.message(channel.toString('latin1'), payload);
    });
    this.conn.on('ready', () => void this.onReady());
    this.conn.on('close', () => this.setReady(false));
    reviveOnEnd(this.conn, () => this.closed, () => retryDelay(3), () => this.events.revived());
    this.conn.on('error', (err: Error) => this.events.error(err));
    absorbLateSocketErrors(this.conn);
  }

  async connect(): Promise<void> {
    this.watchdog.start();
    await this.conn.connect();
  }

  isReady(): boolean {
    return this.ready;
  }

  get size(): number {
    return this.channels.size;
  }

  has(pubsub: string): boolean {
    return this.channels.has(pubsub);
  }

  list(): string[] {
    return [...this.channels];
  }

  private setReady(ready: boolean): void {
    if (ready === this.ready) return;
    this.ready = ready;
    this.events.state(ready, ready && this.everReady);
    if (ready) this.everReady = true;
  }

  private async onReady(): Promise<void> {
    const channels = [...this.channels];
    const started = performance.now();
    try {
      if (channels.length > 0) await this.send('subscribe', channels);
    } catch (err) {
      // The connection dropped again while resubscribing; the next 'ready' retries.
      this.events.error(err as Error);
      if (this.conn.status === 'ready') dropSocket(this.conn);
      return;
    }
    const reconnect = this.everReady;
    this.setReady(true);
    if (reconnect && channels.length > 0) this.events.resubscribed(channels, (performance.now() - started) / 1000);
  }

  private async send(what: 'subscribe' | 'unsubscribe', channels: string[]): Promise<void> {
    if (channels.length === 0) return;
    if (this.opts.sharded) {
      // SSUBSCRIBE takes channels of one slot only: one command per channel (pipelined).
      await Promise.all(channels.map((c) => (what === 'subscribe' ? this.conn.ssubscribe(c) : this.conn.sunsubscribe(c))));
    } else if (what === 'subscribe') await this.conn.subscribe(...channels);
    else await this.conn.unsubscribe(...channels);
  }

  /** Resolves once Redis confirmed the subscription. Throws when disconnected (the channel is not kept). */
  async subscribe(pubsub: string): Promise<void> {
    if (this.channels.has(pubsub)) return;
    this.channels.add(pubsub);
    try {
      if (this.conn.status !== 'ready') throw new Error('subscriber connection is not ready');
      await this.send('subscribe', [pubsub]);
    } catch (err) {
      this.channels.delete(pubsub);
      if (this.conn.status === 'ready') await this.send('unsubscribe', [pubsub]).catch(() => undefined);
      throw err;
    }
  }

  async unsubscribe(pubsub: string): Promise<void> {
    if (!this.channels.delete(pubsub)) return;
    // When disconnected there is nothing to undo: the channel is not resubscribed on reconnect.
    if (this.conn.status === 'ready') await this.send('unsubscribe', [pubsub]);
  }

  /** Forgets a channel without talking to Redis (it moved to another shard). */
  drop(pubsub: string): void {
    this.channels.delete(pubsub);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchdog.stop();
    this.setReady(false);
    this.conn.disconnect(false);
  }
}
