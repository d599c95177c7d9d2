import { Cluster, type Redis } from 'ioredis';

/**
 * Detects hung connections: open but silent (Redis SIGSTOPped, a network blackhole; no FIN, so TCP
 * alone notices only after minutes). Every `intervalMs` it PINGs each connection (PING is allowed
 * in RESP2 subscriber mode, where the reply is `["pong", ""]`); a reply slower than `timeoutMs`
 * makes it call `onHung`, which force-closes the socket so ioredis reconnects.
 * Detection bound: intervalMs + timeoutMs.
 */
export class PingWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new WeakSet<Redis>();

  constructor(
    private readonly conns: () => readonly Redis[],
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly onHung: (conn: Redis) => void,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      for (const conn of this.conns()) this.check(conn);
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(conn: Redis): void {
    if (conn.status !== 'ready' || this.inFlight.has(conn)) return;
    this.inFlight.add(conn);
    let settled = false;
    const done = (): void => {
      settled = true;
      this.inFlight.delete(conn);
    };
    const timeout = setTimeout(() => {
      if (settled) return;
      done();
      if (conn.status === 'ready') this.onHung(conn);
    }, this.timeoutMs);
    timeout.unref();
    // A failed PING means the connection is already closing; ioredis reconnects on its own.
    conn.ping().then(
      () => {
        if (settled) return;
        done();
        clearTimeout(timeout);
      },
      () => {
        if (settled) return;
        done();
        clearTimeout(timeout);
      },
    );
  }
}

/**
 * Drops a connection's socket at once. `disconnect(true)` would FIN and wait up to ioredis'
 * disconnectTimeout for a peer that may never answer; destroying the socket makes ioredis see a
 * lost connection now and reconnect with its retry strategy.
 */
export function dropSocket(conn: Redis): void {
  const stream = (conn as { stream?: { destroy(): void } }).stream;
  if (stream !== undefined) stream.destroy();
  else conn.disconnect(true);
}

/**
 * Revives a connection that ioredis gave up on. ioredis ends a connection for good when its
 * connector fails in some ways, e.g. Sentinel's failover detector disconnecting while a reconnect
 * is resolving the master ("Connection is closed.", status `end`). The bus never wants that: until
 * it is closed, an ended connection is connected again after `delayMs`.
 */
export function reviveOnEnd(conn: Redis | Cluster, isClosed: () => boolean, delayMs: () => number, onRevive: () => void): void {
  conn.on('end', () => {
    if (isClosed()) return;
    const timer = setTimeout(() => {
      if (isClosed() || conn.status !== 'end') return;
      onRevive();
      conn.connect().catch(() => undefined);
    }, delayMs());
    timer.unref();
  });
}

const guardedStreams = new WeakSet<object>();
const ignore = (): void => undefined;

/**
 * ioredis listens for its socket's first 'error' only (`once`), and a TLS socket can emit a second
 * one, e.g. the server's alert arriving after a failed certificate check (redis/ioredis#1183):
 * with no listener left, Node throws it and the process dies. On the first error of each socket
 * (ioredis re-emits it on the client) this adds a listener that keeps any later one from being
 * thrown; ioredis still sees and handles the first. For a Cluster, every node's socket.
 */
export function absorbLateSocketErrors(conn: Redis | Cluster): void {
  const guard = (client: Redis): void => {
    const stream = (client as { stream?: { on(event: 'error', fn: () => void): unknown } }).stream;
    if (stream === undefined || guardedStreams.has(stream)) return;
    guardedStreams.add(stream);
    stream.on('error', ignore);
  };
  if (conn instanceof Cluster) conn.on('node error', () => conn.nodes('all').forEach(guard));
  else conn.on('error', () => guard(conn));
}
