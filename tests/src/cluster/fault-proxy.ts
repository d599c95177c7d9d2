import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
}

/**
 * A TCP proxy between a service and Redis that can break the link the ways networks do:
 * `reset()` sends RST both ways (connection reset); `blackhole()` stops moving bytes without
 * closing anything (a hung peer: no FIN, no RST, just silence), new connections included;
 * `hang()` freezes only the connections open now while new ones go through (the case a bus must
 * detect on its own: nothing tells it the old connection is dead); `heal()` ends the fault.
 */
export class FaultProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private holed = false;
  /** Connections accepted while blackholed: they wait, unanswered, like a SYN into the void. */
  private readonly waiting = new Set<Socket>();
  port = 0;
  accepted = 0;

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(targetPort: number): Promise<FaultProxy> {
    const p = new FaultProxy(targetPort);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = p.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy has no port');
    p.port = addr.port;
    return p;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    this.accepted++;
    client.on('error', () => undefined);
    if (this.holed) {
      client.pause();
      this.waiting.add(client);
      client.on('close', () => this.waiting.delete(client));
      return;
    }
    this.link(client);
  }

  private link(client: Socket): void {
    const upstream = connect(this.targetPort, this.targetHost);
    const pair: Pair = { client, upstream, frozen: false };
    this.pairs.add(pair);
    upstream.on('error', () => undefined);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    if (this.holed) this.freeze(pair);
  }

  private freeze(pair: Pair): void {
    pair.frozen = true;
    pair.client.unpipe(pair.upstream);
    pair.upstream.unpipe(pair.client);
    pair.client.pause();
    pair.upstream.pause();
  }

  /** RST on every proxied connection, both directions. New connections are accepted normally. */
  reset(): void {
    for (const pair of this.pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  /** Stop forwarding in both directions without closing: bytes sit in kernel buffers, nobody is told. */
  blackhole(): void {
    this.holed = true;
    for (const pair of this.pairs) this.freeze(pair);
  }

  /** Freeze the connections open now; connections opened from now on are forwarded. */
  hang(): void {
    for (const pair of this.pairs) this.freeze(pair);
  }

  /** How many connections are frozen right now. */
  get frozen(): number {
    let n = 0;
    for (const pair of this.pairs) if (pair.frozen) n++;
    return n;
  }

  /**
   * Ends the fault. Frozen connections either carry on where they stopped (a short outage) or,
   * with `dropFrozen`, are reset (an outage longer than TCP's patience: the peer gave up on them).
   * Connections accepted during a blackhole are linked now.
   */
  heal(opts: { dropFrozen?: boolean } = {}): void {
    this.holed = false;
    for (const pair of this.pairs) {
      if (!pair.frozen) continue;
      pair.frozen = false;
      if (opts.dropFrozen) {
        pair.client.resetAndDestroy();
        pair.upstream.resetAndDestroy();
        this.pairs.delete(pair);
        continue;
      }
      pair.client.pipe(pair.upstream);
      pair.upstream.pipe(pair.client);
      pair.client.resume();
      pair.upstream.resume();
    }
    for (const client of this.waiting) {
      this.waiting.delete(client);
      if (!client.destroyed) {
        client.resume();
        this.link(client);
      }
    }
  }

  async close(): Promise<void> {
    this.holed = false;
    for (const c of this.waiting) c.destroy();
    this.waiting.clear();
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
